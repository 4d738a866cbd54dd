#include "transcode/HlsPipelineFactory.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "transcode/AtomicFile.h"
#include "transcode/PlaylistWriter.h"

namespace bloomcast::transcode {
namespace fs = std::filesystem;

std::expected<HlsOptions, Error> hlsOptionsFromConfig(const Config& config) {
  auto ladder = parseLadder(config.renditions);
  if (!ladder) return std::unexpected(ladder.error());
  HlsOptions options;
  options.root_dir = config.data_dir + "/hls";
  options.ladder = std::move(*ladder);
  options.segment_ms = config.hls_segment_ms;
  options.reconnect_window_ms = static_cast<uint64_t>(config.hls_reconnect_window_ms);
  return options;
}

// The sink of one publish: hands packets to the stream's pipeline, never blocking.
// Thread: loop thread. Ownership: the RtmpServer's connection. The factory should outlive it;
// should it not, the sink notices (weak token) and only ends its publish.
class HlsPipelineFactory::Sink : public MediaStreamSink {
 public:
  Sink(HlsPipelineFactory& factory, std::string stream_id, uint64_t publish,
       std::shared_ptr<StreamPipeline> pipeline)
      : factory_(factory),
        alive_(factory.alive_),
        stream_id_(std::move(stream_id)),
        publish_(publish),
        pipeline_(std::move(pipeline)) {}
  ~Sink() override {
    if (!ended_) onEnd("publish closed");
  }
  void onMetaData(const StreamDescription&) override {}
  void onPacket(MediaPacketPtr packet) override {
    if (!ended_ && pipeline_) pipeline_->pushPacket(std::move(packet));
  }
  void onEnd(const std::string& why) override {
    if (ended_) return;
    ended_ = true;
    if (!alive_.expired()) factory_.onPublishEnded(stream_id_, publish_, why);
    else if (pipeline_) pipeline_->endPublish(why);
  }

 private:
  HlsPipelineFactory& factory_;
  std::weak_ptr<int> alive_;
  std::string stream_id_;
  uint64_t publish_;
  std::shared_ptr<StreamPipeline> pipeline_;
  bool ended_ = false;
};

HlsPipelineFactory::HlsPipelineFactory(EventLoop& loop, MetricsRegistry& metrics, HlsOptions options)
    : loop_(loop), metrics_(metrics), options_(std::move(options)), sweep_timer_(loop) {
  sweep_timer_.start(250, 250, [this] { sweep(); });
}

HlsPipelineFactory::~HlsPipelineFactory() {
  // Shutdown: every show ends now (a publisher that returns to a restarted process continues
  // it from disk). Destroying each pipeline waits for its worker to write what is queued.
  for (auto& [id, entry] : entries_) {
    if (entry.state == Entry::State::kLive) entry.pipeline->endPublish("server stopping");
    if (entry.state != Entry::State::kFinishing) entry.pipeline->finish();
  }
  entries_.clear();
}

bool HlsPipelineFactory::validStreamId(const std::string& stream_id) {
  return !stream_id.empty() && stream_id.size() <= 128 &&
         std::all_of(stream_id.begin(), stream_id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
         });
}

std::shared_ptr<StreamPipeline> HlsPipelineFactory::pipeline(const std::string& stream_id) const {
  auto it = entries_.find(stream_id);
  return it == entries_.end() ? nullptr : it->second.pipeline;
}

std::unique_ptr<MediaStreamSink> HlsPipelineFactory::open(const StreamDescription& description) {
  loop_.assertInLoopThread();
  const std::string& id = description.stream_id;
  uint64_t publish = next_publish_++;
  if (!validStreamId(id)) {
    spdlog::error("hls: refusing stream id '{}': not a safe directory name", id);
    return std::make_unique<Sink>(*this, id, publish, nullptr);
  }
  interrupted_.erase(id);  // back after a crash: the pipeline continues the playlists on disk
  Entry& entry = entries_[id];
  if (!entry.pipeline) {
    PipelineOptions options = options_.pipeline;
    options.dir = options_.root_dir + "/" + id;
    options.ladder = options_.ladder;
    options.segment_ms = options_.segment_ms;
    entry.pipeline = std::make_shared<StreamPipeline>(id, std::move(options), metrics_);
  } else if (entry.state == Entry::State::kLive) {
    // Ingest allows one publisher per stream; should a second slip through, it replaces the
    // first (the pipeline ends the old publish when the new one begins).
    spdlog::warn("hls: stream {}: a new publish replaces the live one", id);
  } else {
    spdlog::info("hls: stream {}: publisher is back; continuing the same playlists", id);
  }
  entry.state = Entry::State::kLive;
  entry.publish = publish;
  entry.pipeline->beginPublish(description);
  return std::make_unique<Sink>(*this, id, publish, entry.pipeline);
}

void HlsPipelineFactory::onPublishEnded(const std::string& stream_id, uint64_t publish, const std::string& why) {
  loop_.assertInLoopThread();
  auto it = entries_.find(stream_id);
  if (it == entries_.end() || it->second.publish != publish) return;  // an older, replaced publish
  Entry& entry = it->second;
  entry.pipeline->endPublish(why);
  entry.state = Entry::State::kAwaitingReconnect;
  entry.window_ends = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.reconnect_window_ms);
}

std::size_t HlsPipelineFactory::recoverInterruptedShows(std::function<void(const std::string&)> closed) {
  loop_.assertInLoopThread();
  on_interrupted_closed_ = std::move(closed);
  std::error_code ec;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.reconnect_window_ms);
  for (const auto& stream_dir : fs::directory_iterator(options_.root_dir, ec)) {
    std::string id = stream_dir.path().filename().string();
    if (!stream_dir.is_directory() || !validStreamId(id) || entries_.count(id)) continue;
    for (const auto& rendition : fs::directory_iterator(stream_dir.path(), ec)) {
      auto text = readTextFile((rendition.path() / "index.m3u8").string());
      auto playlist = text ? parseMediaPlaylist(*text) : std::unexpected(Error{"hls", "no playlist"});
      if (playlist && !playlist->ended) {
        interrupted_[id] = deadline;
        break;
      }
    }
  }
  for (const auto& [id, _] : interrupted_)
    spdlog::warn("hls: stream {}: was live when the server stopped; waiting {} ms for its publisher",
                 id, options_.reconnect_window_ms);
  return interrupted_.size();
}

void HlsPipelineFactory::closeInterruptedShow(const std::string& stream_id) {
  // A few small playlists, once per interrupted show: written on the loop thread.
  std::error_code ec;
  for (const auto& rendition : fs::directory_iterator(fs::path(options_.root_dir) / stream_id, ec)) {
    std::string path = (rendition.path() / "index.m3u8").string();
    auto text = readTextFile(path);
    if (!text) continue;
    auto playlist = parseMediaPlaylist(*text);
    if (!playlist || playlist->ended) continue;
    playlist->ended = true;
    if (auto w = writeFileAtomic(path, renderMediaPlaylist(*playlist)); !w)
      spdlog::error("hls: stream {}: cannot close {}: {}", stream_id, path, w.error().message);
  }
  spdlog::info("hls: stream {}: no publisher after the restart; playlists closed (replay)", stream_id);
  if (on_interrupted_closed_) on_interrupted_closed_(stream_id);
}

void HlsPipelineFactory::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = interrupted_.begin(); it != interrupted_.end();) {
    if (now < it->second) {
      ++it;
      continue;
    }
    std::string id = it->first;
    it = interrupted_.erase(it);
    closeInterruptedShow(id);
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    if (entry.state == Entry::State::kAwaitingReconnect && now >= entry.window_ends) {
      spdlog::info("hls: stream {}: no reconnect within {} ms; closing the playlists", it->first,
                   options_.reconnect_window_ms);
      entry.pipeline->finish();
      entry.state = Entry::State::kFinishing;
    }
    // Finished and idle: joining its worker is immediate.
    if (entry.state == Entry::State::kFinishing && entry.pipeline->finished()) {
      it = entries_.erase(it);
      continue;
    }
    ++it;
  }
}

}  // namespace bloomcast::transcode
