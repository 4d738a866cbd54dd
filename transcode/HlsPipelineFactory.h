#pragma once
// HlsPipelineFactory: ingest's MediaSinkFactory for HLS — one StreamPipeline per live stream,
// kept through short publisher drop-outs.
//
//   open(stream) --> sink --> pipeline (new, or the stream's pipeline awaiting a reconnect:
//                              the same playlists continue after #EXT-X-DISCONTINUITY)
//   sink.onEnd   --> pipeline waits reconnect_window_ms for the publisher to come back
//   window over  --> pipeline.finish(): every playlist gets #EXT-X-ENDLIST (the replay);
//                    once the worker is idle the pipeline is destroyed (its thread joined)
//
// A publish after that starts a new pipeline, which continues the playlists on disk.
// Thread: loop thread only (a sweep timer checks windows and finished pipelines). Owned by
// app/; outlives the RtmpServer and every sink it opened. Its destructor finishes every
// pipeline and waits for their workers to drain (shutdown).
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "infra/Config.h"
#include "infra/EventLoop.h"
#include "infra/Media.h"
#include "infra/Metrics.h"
#include "transcode/StreamPipeline.h"

namespace bloomcast::transcode {

struct HlsOptions {
  std::string root_dir;             // DATA_DIR/hls; a stream writes under root_dir/STREAM_ID
  Ladder ladder;
  int segment_ms = 2000;
  uint64_t reconnect_window_ms = 30000;
  PipelineOptions pipeline;         // dir, ladder and segment_ms are filled in per stream
};

// HLS options from the process configuration (renditions, hls_segment_ms,
// hls_reconnect_window_ms).
std::expected<HlsOptions, Error> hlsOptionsFromConfig(const Config& config);

class HlsPipelineFactory : public MediaSinkFactory {
 public:
  HlsPipelineFactory(EventLoop& loop, MetricsRegistry& metrics, HlsOptions options);
  ~HlsPipelineFactory() override;
  HlsPipelineFactory(const HlsPipelineFactory&) = delete;
  HlsPipelineFactory& operator=(const HlsPipelineFactory&) = delete;

  std::unique_ptr<MediaStreamSink> open(const StreamDescription& description) override;

  // Pipelines alive (live, awaiting a reconnect, or finishing).
  std::size_t pipelines() const { return entries_.size(); }
  // The stream's pipeline, or null (tests, operators).
  std::shared_ptr<StreamPipeline> pipeline(const std::string& stream_id) const;
  // Every stream id is a single path component of [A-Za-z0-9_-]; others are refused.
  static bool validStreamId(const std::string& stream_id);

  // After a crash (kill -9, power loss) the shows that were live have playlists without
  // #EXT-X-ENDLIST. Call once at startup: each such show waits reconnect_window_ms for its
  // publisher, who continues the same playlists; if none comes, its playlists are closed on disk
  // (the replay) and `closed(stream_id)` is called. Returns how many shows were found.
  std::size_t recoverInterruptedShows(std::function<void(const std::string& stream_id)> closed);

 private:
  class Sink;
  struct Entry {
    std::shared_ptr<StreamPipeline> pipeline;
    enum class State { kLive, kAwaitingReconnect, kFinishing } state = State::kLive;
    uint64_t publish = 0;  // which open() the live sink belongs to
    std::chrono::steady_clock::time_point window_ends{};
  };
  void onPublishEnded(const std::string& stream_id, uint64_t publish, const std::string& why);
  void sweep();
  void closeInterruptedShow(const std::string& stream_id);

  EventLoop& loop_;
  MetricsRegistry& metrics_;
  HlsOptions options_;
  std::map<std::string, Entry> entries_;
  // Shows found open on disk at startup, awaiting their publisher until the time given.
  std::map<std::string, std::chrono::steady_clock::time_point> interrupted_;
  std::function<void(const std::string&)> on_interrupted_closed_;
  uint64_t next_publish_ = 1;
  Timer sweep_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // sinks hold it weakly
};

}  // namespace bloomcast::transcode
