#pragma once
// StreamPipeline: the HLS output of one live stream, from publisher packets to files, on its
// own worker thread.
//
//   loop thread                         worker thread (this pipeline's)
//   beginPublish/pushPacket/endPublish  pop -> TimestampMapper -> segment boundaries
//   /finish -> PacketQueue (bounded,       -> HlsRendition "source" (remux, no re-encode)
//   never blocks, drops to the next        -> VideoTranscoder (decode once, scale + x264 per
//   keyframe when full)                       rung) -> HlsRendition per rung
//                                          -> master.m3u8; LagMonitor -> drop rungs
//
// Segments: a source keyframe at or after segment_ms since the segment's start opens the next
// segment in every rendition (the rungs force an IDR on that very frame). A period — one
// init segment per rendition — lasts from a publish's first keyframe to its end, a change of
// codec configuration, or frames dropped by the queue; the next period starts after an
// #EXT-X-DISCONTINUITY on a timeline that continues where the last ended.
//
// Real time or degrade: after each video packet the lag (now - its arrival) is measured; when
// it stays above max_lag_ms (one segment by default) the most costly rung is dropped (its
// playlist ends, master.m3u8 stops listing it), logged and counted. `source` always stays.
//
// A show spans publishes: after endPublish() the pipeline waits; beginPublish() continues the
// same playlists; finish() closes them (#EXT-X-ENDLIST: the replay). A beginPublish() after
// finish() reopens them. Playlists found on disk at start are continued the same way.
//
// Thread: the public functions may be called from any one thread at a time (the loop thread
// in production) and never block, except pushPacketWait() (feeders faster than real time:
// benchmarks and tests) and the destructor, which lets the worker drain what is queued and
// joins it. Ownership: HlsPipelineFactory (shared with the open sink).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "infra/Media.h"
#include "infra/Metrics.h"
#include "transcode/CodecConfig.h"
#include "transcode/HlsRendition.h"
#include "transcode/LagMonitor.h"
#include "transcode/Ladder.h"
#include "transcode/PacketQueue.h"
#include "transcode/TimestampMapper.h"
#include "transcode/VideoTranscoder.h"

namespace bloomcast::transcode {

struct PipelineOptions {
  std::string dir;                 // DATA_DIR/hls/STREAM_ID
  Ladder ladder;
  int segment_ms = 2000;
  int64_t max_lag_ms = -1;         // -1: segment_ms
  int64_t degrade_patience_ms = -1;  // -1: segment_ms
  std::size_t queue_packets = 2048;
  std::size_t queue_bytes = 32u << 20;
  TranscoderOptions transcoder;    // frame_rate is taken from the stream
};

// A snapshot for tests and operators.
struct PipelineStatus {
  uint64_t packets = 0;            // packets taken from the queue
  uint64_t dropped_frames = 0;     // refused by the full queue
  uint64_t source_segments = 0;
  std::vector<std::string> renditions;  // live now, source first
  uint64_t renditions_dropped = 0;
  int64_t lag_ms = 0;
  bool finished = false;
};

class StreamPipeline {
 public:
  StreamPipeline(std::string stream_id, PipelineOptions options, MetricsRegistry& metrics);
  ~StreamPipeline();
  StreamPipeline(const StreamPipeline&) = delete;
  StreamPipeline& operator=(const StreamPipeline&) = delete;

  const std::string& streamId() const { return stream_id_; }

  void beginPublish(const StreamDescription& description);
  // False when the packet was dropped (queue full).
  bool pushPacket(MediaPacketPtr packet);
  void endPublish(std::string why);
  void finish();
  // Waits for room instead of dropping. Never on the loop thread.
  bool pushPacketWait(MediaPacketPtr packet);

  // Every playlist is closed and nothing newer is queued.
  bool finished() const { return finished_.load() && queue_.depth() == 0; }
  PipelineStatus status() const;

 private:
  struct Rung {
    RungSpec spec;
    std::unique_ptr<HlsRendition> rendition;
    bool live = true;
    int64_t advertised_bps = 0;
  };

  QueueItem stamp(QueueItem item) const;
  void run();
  void handle(QueueItem& item);
  void handleConfig(const MediaPacket& packet);
  void handleVideo(const QueueItem& item);
  void handleAudio(const QueueItem& item);
  void endPublishNow(const std::string& why);
  void finishNow();
  bool startPeriod(const QueueItem& item, const TimestampMapper::Mapped& ts);
  void cutSegment(const QueueItem& item, const TimestampMapper::Mapped& ts);
  void endPeriod(const std::string& why);
  void dropTopRung(int64_t lag_ms);
  void stopRung(Rung& rung, const std::string& why);
  void writeEncoded(std::size_t transcoder_rung, AVPacket* packet);
  int64_t programDateTime(const QueueItem& item, int64_t pts_90k, bool reanchor);
  double frameRate() const;
  void chooseLadder(int source_width, int source_height);
  void resumeFromDisk();
  void writeMaster(bool force);
  void tick(bool force = false);
  void publishStatus();
  void noteSegments();

  const std::string stream_id_;
  const PipelineOptions options_;
  MetricsRegistry& metrics_;
  PacketQueue queue_;
  std::atomic<bool> finished_{false};

  // Metrics: shared with the registry; per-stream series are removed by the destructor.
  std::shared_ptr<Gauge> pipelines_gauge_;
  std::shared_ptr<Counter> dropped_frames_total_;
  std::shared_ptr<Counter> renditions_dropped_total_;
  std::shared_ptr<Counter> segments_total_;
  std::shared_ptr<Gauge> lag_gauge_;
  std::shared_ptr<Gauge> queue_gauge_;
  std::vector<std::pair<std::shared_ptr<Gauge>, MetricLabels>> fps_gauges_;  // worker only

  mutable std::mutex status_mutex_;
  PipelineStatus status_;  // guarded by status_mutex_

  // ---- worker thread only -------------------------------------------------------------------
  TimestampMapper mapper_;
  LagMonitor lag_monitor_;
  std::vector<uint8_t> video_config_;
  std::vector<uint8_t> audio_config_;
  std::optional<AacConfig> aac_;
  bool config_changed_ = false;   // a configuration changed while a period is open
  bool publishing_ = false;
  bool ended_ = false;            // playlists carry ENDLIST
  double metadata_frame_rate_ = 0;
  int metadata_width_ = 0;
  int metadata_height_ = 0;
  std::unique_ptr<HlsRendition> source_;
  std::vector<Rung> rungs_;       // cost order, highest first
  bool ladder_chosen_ = false;
  std::unique_ptr<VideoTranscoder> transcoder_;
  std::vector<std::size_t> transcoder_rungs_;  // transcoder rung index -> rungs_ index
  bool in_period_ = false;
  bool period_audio_ = false;
  uint64_t next_sequence_ = 0;
  int64_t segment_start_pts_ = 0;
  int64_t segment_90k_ = 180000;
  bool anchored_ = false;
  int64_t anchor_pts_90k_ = 0;
  int64_t anchor_wall_ms_ = 0;
  int64_t source_advertised_bps_ = 0;
  std::string master_text_;
  uint64_t packets_ = 0;
  uint64_t segments_seen_ = 0;         // all renditions
  uint64_t source_segments_seen_ = 0;
  bool warned_no_config_ = false;
  bool warned_audio_late_ = false;
  std::chrono::steady_clock::time_point last_tick_{};
  std::vector<uint64_t> frames_at_tick_;
  std::thread worker_;  // last: starts after everything above exists
};

}  // namespace bloomcast::transcode
