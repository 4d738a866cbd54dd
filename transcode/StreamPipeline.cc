#include "transcode/StreamPipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "transcode/AtomicFile.h"

namespace bloomcast::transcode {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

int64_t steadyMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Audio bits per second assumed in a rung's advertised bandwidth before any is measured.
constexpr int64_t kAudioAllowanceBps = 160'000;

// A frame rate measured from millisecond timestamps (29.98, 30.02) read as the common rate it
// is within 1% of.
double nominalFrameRate(double fps) {
  for (double common : {23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0})
    if (std::abs(fps - common) < common * 0.01) return common;
  return std::round(fps * 1000) / 1000;
}

}  // namespace

StreamPipeline::StreamPipeline(std::string stream_id, PipelineOptions options, MetricsRegistry& metrics)
    : stream_id_(std::move(stream_id)),
      options_(std::move(options)),
      metrics_(metrics),
      queue_(options_.queue_packets, options_.queue_bytes),
      lag_monitor_(options_.max_lag_ms >= 0 ? options_.max_lag_ms : options_.segment_ms,
                   options_.degrade_patience_ms >= 0 ? options_.degrade_patience_ms : options_.segment_ms) {
  routeLibavLogging();
  segment_90k_ = static_cast<int64_t>(options_.segment_ms) * 90;
  pipelines_gauge_ = metrics_.gauge("bloomcast_hls_pipelines", "Stream pipelines running (live or awaiting a reconnect)");
  dropped_frames_total_ = metrics_.counter("bloomcast_hls_dropped_frames_total",
                                           "Frames dropped because a pipeline's queue was full");
  renditions_dropped_total_ = metrics_.counter("bloomcast_hls_renditions_dropped_total",
                                               "Ladder renditions dropped because a pipeline fell behind live");
  segments_total_ = metrics_.counter("bloomcast_hls_segments_total", "Source segments written");
  lag_gauge_ = metrics_.gauge("bloomcast_hls_lag_seconds", "How long ago the packet a pipeline just wrote arrived",
                              {{"stream", stream_id_}});
  queue_gauge_ = metrics_.gauge("bloomcast_hls_queue_packets", "Packets waiting in a pipeline's queue",
                                {{"stream", stream_id_}});
  pipelines_gauge_->add(1);
  last_tick_ = Clock::now();
  worker_ = std::thread([this] { run(); });
}

StreamPipeline::~StreamPipeline() {
  queue_.close();
  worker_.join();
  pipelines_gauge_->add(-1);
  metrics_.remove("bloomcast_hls_lag_seconds", {{"stream", stream_id_}});
  metrics_.remove("bloomcast_hls_queue_packets", {{"stream", stream_id_}});
  for (auto& [gauge, labels] : fps_gauges_) metrics_.remove("bloomcast_hls_encode_fps", labels);
}

// ---- any thread (the loop) --------------------------------------------------------------------

QueueItem StreamPipeline::stamp(QueueItem item) const {
  item.arrival = Clock::now();
  item.arrival_wall_ms = wallMs();
  return item;
}

void StreamPipeline::beginPublish(const StreamDescription& description) {
  QueueItem item;
  item.kind = QueueItem::Kind::kBeginPublish;
  item.description = description;
  finished_ = false;
  queue_.pushControl(stamp(std::move(item)));
}

bool StreamPipeline::pushPacket(MediaPacketPtr packet) {
  QueueItem item;
  item.packet = std::move(packet);
  if (queue_.tryPush(stamp(std::move(item)))) return true;
  dropped_frames_total_->inc();
  return false;
}

bool StreamPipeline::pushPacketWait(MediaPacketPtr packet) {
  QueueItem item;
  item.packet = std::move(packet);
  return queue_.pushWait(stamp(std::move(item)));
}

void StreamPipeline::endPublish(std::string why) {
  QueueItem item;
  item.kind = QueueItem::Kind::kEndPublish;
  item.why = std::move(why);
  queue_.pushControl(stamp(std::move(item)));
}

void StreamPipeline::finish() {
  QueueItem item;
  item.kind = QueueItem::Kind::kFinish;
  queue_.pushControl(stamp(std::move(item)));
}

PipelineStatus StreamPipeline::status() const {
  std::lock_guard lock(status_mutex_);
  PipelineStatus s = status_;
  s.dropped_frames = queue_.droppedFrames();
  s.finished = finished();
  return s;
}

// ---- worker thread ----------------------------------------------------------------------------

void StreamPipeline::run() {
  std::error_code ec;
  fs::create_directories(options_.dir + "/source", ec);
  if (ec) spdlog::error("hls: stream {}: cannot create {}: {}", stream_id_, options_.dir, ec.message());
  int min_target_s = (options_.segment_ms + 999) / 1000;
  source_ = std::make_unique<HlsRendition>("source", options_.dir + "/source", min_target_s);
  resumeFromDisk();
  while (true) {
    auto item = queue_.pop(std::chrono::milliseconds(250));
    if (item) handle(*item);
    else if (queue_.drained()) break;
    tick();
  }
  // Destroyed without finish(): keep what was produced (the open segment), leave playlists open.
  if (in_period_) endPeriod("pipeline stopped");
  tick();
}

void StreamPipeline::resumeFromDisk() {
  auto text = readTextFile(options_.dir + "/source/index.m3u8");
  if (!text) return;
  auto playlist = parseMediaPlaylist(*text);
  if (!playlist) {
    spdlog::warn("hls: stream {}: cannot continue the playlist on disk ({}); starting over",
                 stream_id_, playlist.error().message);
    return;
  }
  for (const SegmentRecord& s : playlist->segments) next_sequence_ = std::max(next_sequence_, s.sequence + 1);
  spdlog::info("hls: stream {}: continuing the show on disk after segment {}", stream_id_,
               next_sequence_ == 0 ? 0 : next_sequence_ - 1);
  source_->adopt(std::move(*playlist));
  source_segments_seen_ = source_->playlist().segments.size();
}

void StreamPipeline::handle(QueueItem& item) {
  switch (item.kind) {
    case QueueItem::Kind::kBeginPublish:
      if (publishing_) endPublishNow("replaced by a new publish");
      publishing_ = true;
      if (ended_) {
        ended_ = false;  // the show goes on: the replay's ENDLIST is taken back
        source_->setEnded(false);
        for (Rung& r : rungs_)
          if (r.live) r.rendition->setEnded(false);
      }
      finished_ = false;
      video_config_.clear();
      audio_config_.clear();
      aac_.reset();
      metadata_frame_rate_ = item.description.frame_rate;
      metadata_width_ = static_cast<int>(item.description.width);
      metadata_height_ = static_cast<int>(item.description.height);
      mapper_.continueAfterEnd();
      spdlog::info("hls: stream {}: publish from {} begins", stream_id_, item.description.publisher_ip);
      return;
    case QueueItem::Kind::kEndPublish:
      endPublishNow(item.why);
      publishStatus();
      return;
    case QueueItem::Kind::kFinish:
      finishNow();
      publishStatus();
      return;
    case QueueItem::Kind::kPacket:
      break;
  }
  ++packets_;
  const MediaPacket& p = *item.packet;
  if (!publishing_) return;  // a packet with no publish around it: nothing to attach it to
  if (p.is_config) handleConfig(p);
  else if (p.type == MediaType::kVideo) handleVideo(item);
  else handleAudio(item);
}

void StreamPipeline::handleConfig(const MediaPacket& p) {
  if (p.type == MediaType::kVideo) {
    if (p.data == video_config_) return;
    if (auto header = parseAvcHeader(p.data); !header) {
      spdlog::warn("hls: stream {}: video configuration ignored: {}", stream_id_, header.error().message);
      return;
    }
    if (in_period_) {
      config_changed_ = true;
      spdlog::info("hls: stream {}: new video configuration; next keyframe starts a new period", stream_id_);
    }
    video_config_ = p.data;
    return;
  }
  if (p.data == audio_config_) return;
  auto aac = parseAudioSpecificConfig(p.data);
  if (!aac) {
    spdlog::warn("hls: stream {}: audio configuration ignored: {}", stream_id_, aac.error().message);
    return;
  }
  if (in_period_) {
    config_changed_ = true;
    spdlog::info("hls: stream {}: new audio configuration; next keyframe starts a new period", stream_id_);
  }
  audio_config_ = p.data;
  aac_ = *aac;
}

void StreamPipeline::handleVideo(const QueueItem& item) {
  const MediaPacket& p = *item.packet;
  if (video_config_.empty()) {
    if (!warned_no_config_) {
      warned_no_config_ = true;
      spdlog::warn("hls: stream {}: video before its codec configuration; waiting for it", stream_id_);
    }
    return;
  }
  if (item.after_gap) {
    // The queue dropped frames up to this keyframe: close the period there and continue the
    // timeline without the hole.
    spdlog::warn("hls: stream {}: frames were dropped (queue full); continuing at a keyframe", stream_id_);
    endPeriod("frames dropped");
    mapper_.continueAfterEnd();
  }
  TimestampMapper::Mapped ts = mapper_.video(p.dts_ms, p.pts_ms);
  if (ts.rebased)
    spdlog::warn("hls: stream {}: video timestamp jumped (dts {} ms); timeline continued", stream_id_, p.dts_ms);
  if (p.keyframe) {
    if (in_period_ && config_changed_) endPeriod("codec configuration changed");
    if (!in_period_) {
      if (!startPeriod(item, ts)) return;
    } else if (ts.pts - segment_start_pts_ >= segment_90k_ - mapper_.videoFrameDuration() / 2) {
      cutSegment(item, ts);
    }
  }
  if (!in_period_) return;  // waiting for the period's first keyframe
  source_->writeVideo(SharedBytes{item.packet, p.data}, ts.pts, ts.dts, p.keyframe);
  if (transcoder_) {
    auto r = transcoder_->push(p.data, ts.pts, ts.dts, p.keyframe,
                               [this](std::size_t k, AVPacket* packet) { writeEncoded(k, packet); });
    if (!r) spdlog::debug("hls: stream {}: {}", stream_id_, r.error().message);
  }
  auto now = Clock::now();
  int64_t lag_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - item.arrival).count();
  lag_gauge_->set(static_cast<double>(lag_ms) / 1000.0);
  if (lag_monitor_.observe(steadyMs(now), lag_ms)) dropTopRung(lag_ms);
  noteSegments();
}

// After segments may have been written: counts them, and updates master.m3u8 and the status.
void StreamPipeline::noteSegments() {
  std::size_t segments = source_->playlist().segments.size();
  for (const Rung& r : rungs_) segments += r.rendition->playlist().segments.size();
  if (segments == segments_seen_) return;
  if (source_->playlist().segments.size() > source_segments_seen_) {
    segments_total_->inc(source_->playlist().segments.size() - source_segments_seen_);
    source_segments_seen_ = source_->playlist().segments.size();
  }
  segments_seen_ = segments;
  writeMaster(false);
  publishStatus();
}

void StreamPipeline::handleAudio(const QueueItem& item) {
  if (!in_period_) return;
  if (!period_audio_) {
    if (aac_ && !warned_audio_late_) {
      warned_audio_late_ = true;
      spdlog::info("hls: stream {}: audio arrived after the period began without it", stream_id_);
    }
    return;
  }
  const MediaPacket& p = *item.packet;
  TimestampMapper::Mapped ts = mapper_.audio(p.pts_ms);
  if (ts.rebased)
    spdlog::warn("hls: stream {}: audio timestamp jumped ({} ms); timeline continued", stream_id_, p.pts_ms);
  SharedBytes bytes{item.packet, p.data};
  source_->writeAudio(bytes, ts.pts);
  for (Rung& r : rungs_)
    if (r.live) r.rendition->writeAudio(bytes, ts.pts);
}

void StreamPipeline::writeEncoded(std::size_t k, AVPacket* packet) {
  Rung& r = rungs_[transcoder_rungs_[k]];
  if (!r.live) return;
  // A new reference to the encoder's buffer (no copy), released when the muxer is done with it.
  std::shared_ptr<AVPacket> ref(av_packet_clone(packet), [](AVPacket* p) { av_packet_free(&p); });
  if (!ref) return;
  SharedBytes bytes{ref, std::span<const uint8_t>(ref->data, static_cast<std::size_t>(ref->size))};
  r.rendition->writeVideo(std::move(bytes), ref->pts, ref->dts, (ref->flags & AV_PKT_FLAG_KEY) != 0);
}

void StreamPipeline::chooseLadder(int source_width, int source_height) {
  ladder_chosen_ = true;
  int min_target_s = (options_.segment_ms + 999) / 1000;
  for (const RungSpec& spec : rungsBelow(options_.ladder, std::min(source_width, source_height))) {
    Rung r;
    r.spec = spec;
    std::string dir = options_.dir + "/" + spec.name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    r.rendition = std::make_unique<HlsRendition>(spec.name, dir, min_target_s);
    if (auto text = readTextFile(dir + "/index.m3u8")) {
      if (auto playlist = parseMediaPlaylist(*text)) r.rendition->adopt(std::move(*playlist));
    }
    rungs_.push_back(std::move(r));
  }
  std::string names = "source";
  for (const Rung& r : rungs_) names += "," + r.spec.name;
  spdlog::info("hls: stream {}: {}x{} source; renditions {}", stream_id_, source_width, source_height, names);
  tick(true);  // registers the new renditions' metrics
}

bool StreamPipeline::startPeriod(const QueueItem& item, const TimestampMapper::Mapped& ts) {
  const MediaPacket& p = *item.packet;
  PictureSize size;
  if (auto parsed = h264PictureSize(video_config_, p.data)) {
    size = *parsed;
  } else if (metadata_width_ > 0 && metadata_height_ > 0) {
    size = PictureSize{metadata_width_, metadata_height_};
  } else {
    spdlog::warn("hls: stream {}: keyframe skipped: {}", stream_id_, parsed.error().message);
    return false;
  }
  if (!ladder_chosen_) chooseLadder(size.width, size.height);
  int lines = std::min(size.width, size.height);
  for (Rung& r : rungs_)
    if (r.live && r.spec.height >= lines) stopRung(r, "the source is now " + std::to_string(lines) + " lines");

  std::optional<AudioTrackConfig> audio;
  if (aac_) audio = AudioTrackConfig{audio_config_, aac_->sample_rate, aac_->channels, aac_->frame_samples};
  period_audio_ = audio.has_value();
  if (audio) mapper_.setAudioFormat(aac_->sample_rate, aac_->frame_samples);
  else spdlog::info("hls: stream {}: no audio configuration; this period is video only", stream_id_);

  SegmentStart first{next_sequence_, ts.pts, programDateTime(item, ts.pts, true)};
  if (auto r = source_->beginPeriod(VideoTrackConfig{video_config_, size.width, size.height}, audio, first); !r) {
    spdlog::error("hls: stream {}: cannot start the source rendition: {}", stream_id_, r.error().message);
    return false;
  }
  ++next_sequence_;

  std::vector<RungTarget> targets;
  transcoder_rungs_.clear();
  for (std::size_t i = 0; i < rungs_.size(); ++i) {
    if (!rungs_[i].live) continue;
    const RungSpec& spec = rungs_[i].spec;
    RungSize rung = rungSize(size.width, size.height, spec.height);
    targets.push_back(RungTarget{spec.name, rung.width, rung.height, spec.video_kbps});
    transcoder_rungs_.push_back(i);
  }
  if (!targets.empty()) {
    TranscoderOptions topts = options_.transcoder;
    topts.frame_rate = frameRate();
    auto t = VideoTranscoder::open(VideoTrackConfig{video_config_, size.width, size.height}, targets, topts);
    if (!t) {
      spdlog::error("hls: stream {}: ladder unavailable: {}", stream_id_, t.error().message);
      for (std::size_t i : transcoder_rungs_) stopRung(rungs_[i], "encoder unavailable");
    } else {
      transcoder_ = std::move(*t);
      for (std::size_t k = 0; k < transcoder_rungs_.size(); ++k) {
        Rung& r = rungs_[transcoder_rungs_[k]];
        if (auto started = r.rendition->beginPeriod(transcoder_->trackConfig(k), audio, first); !started) {
          spdlog::error("hls: stream {}: {}", stream_id_, started.error().message);
          transcoder_->disable(k);
          stopRung(r, "cannot write it");
        }
      }
      transcoder_->forceKeyframeAt(ts.pts);
    }
  }
  segment_start_pts_ = ts.pts;
  config_changed_ = false;
  in_period_ = true;
  return true;
}

void StreamPipeline::cutSegment(const QueueItem& item, const TimestampMapper::Mapped& ts) {
  SegmentStart start{next_sequence_++, ts.pts, programDateTime(item, ts.pts, false)};
  source_->markBoundary(start);
  for (Rung& r : rungs_)
    if (r.live) r.rendition->markBoundary(start);
  if (transcoder_) transcoder_->forceKeyframeAt(ts.pts);
  segment_start_pts_ = ts.pts;
}

void StreamPipeline::endPeriod(const std::string& why) {
  if (!in_period_) return;
  if (transcoder_) {
    transcoder_->drain([this](std::size_t k, AVPacket* packet) { writeEncoded(k, packet); });
    transcoder_.reset();
  }
  source_->endPeriod();
  for (Rung& r : rungs_)
    if (r.live) r.rendition->endPeriod();
  in_period_ = false;
  spdlog::debug("hls: stream {}: period ended: {}", stream_id_, why);
  noteSegments();
}

void StreamPipeline::endPublishNow(const std::string& why) {
  if (!publishing_) return;
  endPeriod(why);
  publishing_ = false;
  spdlog::info("hls: stream {}: publish ended ({}); playlists stay open for a reconnect", stream_id_, why);
}

void StreamPipeline::finishNow() {
  endPublishNow("stream finished");
  ended_ = true;
  source_->setEnded(true);
  for (Rung& r : rungs_)
    if (r.live) r.rendition->setEnded(true);
  writeMaster(true);
  spdlog::info("hls: stream {}: ended; {} segments kept as the replay", stream_id_,
               source_->playlist().segments.size());
  tick(true);
  finished_ = true;
}

void StreamPipeline::dropTopRung(int64_t lag_ms) {
  for (Rung& r : rungs_) {
    if (!r.live) continue;
    std::string why = "the ladder is " + std::to_string(lag_ms) + " ms behind live";
    stopRung(r, why);
    renditions_dropped_total_->inc();
    return;
  }
}

void StreamPipeline::stopRung(Rung& rung, const std::string& why) {
  if (!rung.live) return;
  rung.rendition->endPeriod();
  rung.rendition->setEnded(true);
  rung.live = false;
  if (transcoder_) {
    for (std::size_t k = 0; k < transcoder_rungs_.size(); ++k)
      if (&rungs_[transcoder_rungs_[k]] == &rung) transcoder_->disable(k);
    if (transcoder_->activeCount() == 0) transcoder_.reset();
  }
  std::string kept = "source";
  for (const Rung& r : rungs_)
    if (r.live) kept += "," + r.spec.name;
  spdlog::warn("hls: stream {}: rendition {} dropped: {}; still live: {}", stream_id_, rung.spec.name, why, kept);
  {
    std::lock_guard lock(status_mutex_);
    ++status_.renditions_dropped;
  }
  writeMaster(true);
}

double StreamPipeline::frameRate() const {
  return nominalFrameRate(metadata_frame_rate_ > 0 ? metadata_frame_rate_ : 90000.0 / mapper_.videoFrameDuration());
}

int64_t StreamPipeline::programDateTime(const QueueItem& item, int64_t pts_90k, bool reanchor) {
  int64_t predicted = anchor_wall_ms_ + (pts_90k - anchor_pts_90k_) / 90;
  // The publisher's clock, anchored to our wall clock at the period's start; re-anchored when
  // the two drift more than a second apart (a publisher sending faster or slower than live).
  if (reanchor || !anchored_ || std::llabs(predicted - item.arrival_wall_ms) > 1000) {
    anchored_ = true;
    anchor_pts_90k_ = pts_90k;
    anchor_wall_ms_ = item.arrival_wall_ms;
    return item.arrival_wall_ms;
  }
  return predicted;
}

void StreamPipeline::writeMaster(bool force) {
  std::vector<VariantRecord> variants;
  double fps = frameRate();
  if (!source_ || source_->playlist().segments.empty()) return;
  // Players read the master once: the first one waits until every live rung has a segment
  // too (they trail the source by the codecs' delay), or a second source segment shows one
  // is stuck.
  if (master_text_.empty() && source_->playlist().segments.size() < 2 && !ended_) {
    for (const Rung& r : rungs_)
      if (r.live && r.rendition->playlist().segments.empty()) return;
  }
  bool changed = force;
  // Advertised bandwidth: the peak segment bit rate seen (a rung starts from its nominal rate
  // plus audio); raised, and the master rewritten, when a segment exceeds it by 10%.
  auto advertise = [&](int64_t& advertised, int64_t peak, int64_t floor) {
    int64_t want = std::max(peak, floor);
    if (advertised == 0 || want > advertised + advertised / 10 || (force && want > advertised)) {
      advertised = want;
      changed = true;
    }
    return advertised;
  };
  VariantRecord src;
  src.uri = "source/index.m3u8";
  src.bandwidth_bps = advertise(source_advertised_bps_, source_->peakBitrate(), 0);
  src.average_bandwidth_bps = std::min(source_->averageBitrate(), src.bandwidth_bps);
  src.width = source_->width();
  src.height = source_->height();
  src.frame_rate = fps;
  src.codecs = source_->codecs();
  variants.push_back(src);
  for (Rung& r : rungs_) {
    if (!r.live || r.rendition->playlist().segments.empty()) continue;
    VariantRecord v;
    v.uri = r.spec.name + "/index.m3u8";
    v.bandwidth_bps = advertise(r.advertised_bps, r.rendition->peakBitrate(),
                                static_cast<int64_t>(r.spec.video_kbps) * 1100 + kAudioAllowanceBps);
    v.average_bandwidth_bps = std::min(r.rendition->averageBitrate(), v.bandwidth_bps);
    v.width = r.rendition->width();
    v.height = r.rendition->height();
    v.frame_rate = fps;
    v.codecs = r.rendition->codecs();
    variants.push_back(v);
  }
  // Listing the same renditions at the same sizes as before needs no rewrite for a new average.
  std::string text = renderMasterPlaylist(variants);
  auto key = [](const std::string& t) {
    std::string out;
    for (std::size_t pos = 0; pos < t.size();) {
      std::size_t eol = t.find('\n', pos);
      std::string line = t.substr(pos, eol - pos);
      if (auto avg = line.find(",AVERAGE-BANDWIDTH="); avg != std::string::npos) {
        auto comma = line.find(',', avg + 1);
        line.erase(avg, comma == std::string::npos ? std::string::npos : comma - avg);
      }
      out += line + "\n";
      pos = eol == std::string::npos ? t.size() : eol + 1;
    }
    return out;
  };
  if (!changed && key(text) == key(master_text_)) return;
  if (auto r = writeFileAtomic(options_.dir + "/master.m3u8", text); !r)
    spdlog::error("hls: stream {}: {}", stream_id_, r.error().message);
  else master_text_ = std::move(text);
}

// Once a second (or now, when `force`): queue depth, frames per second per rendition, status.
void StreamPipeline::tick(bool force) {
  auto now = Clock::now();
  double seconds = std::chrono::duration<double>(now - last_tick_).count();
  if (seconds < 1.0 && !force) return;
  seconds = std::max(seconds, 0.001);
  last_tick_ = now;
  queue_gauge_->set(static_cast<double>(queue_.depth()));
  // Encode (or, for source, remux) rate per rendition over the last second.
  std::vector<std::pair<std::string, uint64_t>> frames;
  if (source_) frames.emplace_back("source", source_->framesWritten());
  for (const Rung& r : rungs_) frames.emplace_back(r.spec.name, r.rendition->framesWritten());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (i >= fps_gauges_.size()) {
      MetricLabels labels{{"stream", stream_id_}, {"rendition", frames[i].first}};
      fps_gauges_.emplace_back(metrics_.gauge("bloomcast_hls_encode_fps",
                                              "Frames per second a rendition writes (source: remuxed)", labels),
                               labels);
      frames_at_tick_.push_back(frames[i].second);
    }
    fps_gauges_[i].first->set(static_cast<double>(frames[i].second - frames_at_tick_[i]) / seconds);
    frames_at_tick_[i] = frames[i].second;
  }
  publishStatus();
}

void StreamPipeline::publishStatus() {
  std::lock_guard lock(status_mutex_);
  status_.packets = packets_;
  status_.source_segments = source_ ? source_->playlist().segments.size() : 0;
  status_.renditions = {"source"};
  for (const Rung& r : rungs_)
    if (r.live) status_.renditions.push_back(r.spec.name);
  status_.lag_ms = lag_monitor_.lastLagMs();
}

}  // namespace bloomcast::transcode
