#include "transcode/HlsRendition.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "transcode/AtomicFile.h"
#include "transcode/CodecConfig.h"

namespace bloomcast::transcode {
namespace {

// More audio than this waiting for the video to reach a boundary means the video stopped
// coming (a broken encoder): the oldest frames are dropped rather than held without bound.
constexpr std::size_t kMaxHeldAudio = 512;

int64_t ticksTo90k(int64_t ticks, int rate) { return rate > 0 ? ticks * 90000 / rate : ticks; }

}  // namespace

HlsRendition::HlsRendition(std::string name, std::string dir, int min_target_duration_s)
    : name_(std::move(name)), dir_(std::move(dir)) {
  playlist_.min_target_duration_s = min_target_duration_s;
}

void HlsRendition::adopt(MediaPlaylist existing) {
  int min_target = playlist_.min_target_duration_s;
  playlist_ = std::move(existing);
  playlist_.min_target_duration_s = min_target;
  playlist_.ended = false;
  for (const SegmentRecord& s : playlist_.segments) {
    // init_K.mp4: the next period takes the next free K.
    if (s.map_uri.starts_with("init_")) {
      int k = std::atoi(s.map_uri.c_str() + 5);
      next_init_ = std::max(next_init_, k + 1);
    }
    total_bytes_ += static_cast<int64_t>(s.size_bytes);
    total_us_ += s.duration_us;
  }
}

int64_t HlsRendition::averageBitrate() const {
  return total_us_ > 0 ? total_bytes_ * 8 * 1'000'000 / total_us_ : 0;
}

std::expected<void, Error> HlsRendition::beginPeriod(const VideoTrackConfig& video,
                                                     const std::optional<AudioTrackConfig>& audio,
                                                     SegmentStart first) {
  if (muxer_) endPeriod();
  auto avc = parseAvcHeader(video.avcc);
  if (!avc) return std::unexpected(avc.error().withContext(name_));
  codecs_ = avc->codecString();
  sample_rate_ = 0;
  if (audio) {
    auto aac = parseAudioSpecificConfig(audio->asc);
    if (!aac) return std::unexpected(aac.error().withContext(name_));
    codecs_ += "," + aac->codecString();
    sample_rate_ = audio->sample_rate;
    frame_samples_ = audio->frame_samples;
  }
  auto muxer = Fmp4Muxer::open(video, audio);
  if (!muxer) return std::unexpected(muxer.error().withContext(name_));
  std::string uri = "init_" + std::to_string(next_init_) + ".mp4";
  if (auto r = writeFileAtomic(dir_ + "/" + uri, (*muxer)->initSegment()); !r)
    return std::unexpected(r.error().withContext(name_));
  ++next_init_;
  muxer_ = std::move(*muxer);
  init_uri_ = uri;
  width_ = video.width;
  height_ = video.height;
  boundaries_.clear();
  held_audio_.clear();
  held_video_.reset();
  segment_open_ = false;
  // A new period always follows a discontinuity when anything came before it.
  next_discontinuity_ = !playlist_.segments.empty();
  boundaries_.push_back(first);
  return {};
}

void HlsRendition::markBoundary(const SegmentStart& start) {
  if (!muxer_) return;
  if (!boundaries_.empty() && boundaries_.back().pts_90k >= start.pts_90k) return;
  boundaries_.push_back(start);
}

void HlsRendition::writeVideo(SharedBytes data, int64_t pts, int64_t dts, bool keyframe) {
  if (!muxer_) return;
  if (keyframe && !boundaries_.empty() && pts >= boundaries_.front().pts_90k) {
    SegmentStart start = boundaries_.front();
    boundaries_.pop_front();
    bool skipped = false;
    while (!boundaries_.empty() && boundaries_.front().pts_90k <= pts) {
      start = boundaries_.front();  // this rendition never reached the ones in between
      boundaries_.pop_front();
      skipped = true;
    }
    if (segment_open_) closeSegment(start.pts_90k, dts);
    openSegment(start, skipped || next_discontinuity_);
    releaseHeldAudio();
  }
  if (!segment_open_) return;  // before the period's first keyframe
  if (held_video_) {
    int64_t step = dts - held_video_->dts;
    if (step > 0 && step < 90'000) frame_90k_ = step;
    writeHeldVideo(dts);
  }
  held_video_ = HeldVideo{std::move(data), pts, dts, keyframe};
  max_end_pts_90k_ = std::max(max_end_pts_90k_, pts + frame_90k_);
}

void HlsRendition::writeAudio(SharedBytes data, int64_t pts) {
  if (!muxer_ || !muxer_->hasAudio()) return;
  int64_t pts_90k = ticksTo90k(pts, sample_rate_);
  if (!boundaries_.empty() && pts_90k >= boundaries_.front().pts_90k) {
    if (held_audio_.size() >= kMaxHeldAudio) held_audio_.pop_front();
    held_audio_.push_back(HeldAudio{std::move(data), pts, pts_90k});
    return;
  }
  if (!segment_open_ || segment_broken_) return;
  if (auto r = muxer_->writeAudio(data.bytes, pts, frame_samples_); !r) fail(r.error());
}

void HlsRendition::releaseHeldAudio() {
  while (!held_audio_.empty() &&
         (boundaries_.empty() || held_audio_.front().pts_90k < boundaries_.front().pts_90k)) {
    HeldAudio a = std::move(held_audio_.front());
    held_audio_.pop_front();
    if (segment_broken_) continue;
    if (auto r = muxer_->writeAudio(a.data.bytes, a.pts, frame_samples_); !r) fail(r.error());
  }
}

void HlsRendition::writeHeldVideo(std::optional<int64_t> next_dts) {
  if (!held_video_) return;
  HeldVideo v = std::move(*held_video_);
  held_video_.reset();
  if (segment_broken_) return;
  int64_t duration = next_dts ? *next_dts - v.dts : frame_90k_;
  if (duration <= 0) duration = 1;
  if (auto r = muxer_->writeVideo(v.data.bytes, v.pts, v.dts, duration, v.keyframe); !r) {
    fail(r.error());
    return;
  }
  ++frames_written_;
}

void HlsRendition::openSegment(const SegmentStart& start, bool discontinuity) {
  segment_open_ = true;
  segment_ = start;
  segment_discontinuity_ = discontinuity;
  segment_broken_ = false;
  next_discontinuity_ = false;
  max_end_pts_90k_ = start.pts_90k;
}

void HlsRendition::closeSegment(int64_t end_pts_90k, std::optional<int64_t> next_dts) {
  writeHeldVideo(next_dts);
  segment_open_ = false;
  auto fragment = muxer_->flushFragment();
  if (!fragment) {
    fail(fragment.error());
  }
  if (segment_broken_ || !fragment || fragment->empty()) {
    next_discontinuity_ = true;
    return;
  }
  SegmentRecord record;
  record.sequence = segment_.sequence;
  record.uri = "seg_" + std::to_string(segment_.sequence) + ".m4s";
  record.duration_us = std::max<int64_t>(1, (end_pts_90k - segment_.pts_90k) * 100 / 9);
  record.program_date_time_ms = segment_.program_date_time_ms;
  record.discontinuity = segment_discontinuity_;
  record.map_uri = init_uri_;
  record.size_bytes = fragment->size();
  if (auto r = writeFileAtomic(dir_ + "/" + record.uri, *fragment); !r) {
    fail(r.error());
    next_discontinuity_ = true;
    return;
  }
  int64_t bps = static_cast<int64_t>(record.size_bytes) * 8 * 1'000'000 / record.duration_us;
  peak_bps_ = std::max(peak_bps_, bps);
  total_bytes_ += static_cast<int64_t>(record.size_bytes);
  total_us_ += record.duration_us;
  playlist_.segments.push_back(std::move(record));
  writePlaylist();
}

void HlsRendition::endPeriod() {
  if (!muxer_) return;
  if (segment_open_) closeSegment(max_end_pts_90k_, std::nullopt);
  muxer_.reset();
  boundaries_.clear();
  held_audio_.clear();
  held_video_.reset();
}

void HlsRendition::setEnded(bool ended) {
  playlist_.ended = ended;
  if (!playlist_.segments.empty()) writePlaylist();
}

void HlsRendition::writePlaylist() {
  if (auto r = writeFileAtomic(dir_ + "/index.m3u8", renderMediaPlaylist(playlist_)); !r)
    fail(r.error(), false);
}

void HlsRendition::fail(const Error& error, bool segment_lost) {
  if (segment_lost) segment_broken_ = true;
  // The first failures, then one in a hundred: a full disk must not flood the log.
  if (failures_++ % 100 == 0)
    spdlog::error("hls: rendition {}: {} ({} failures)", name_, error.message, failures_);
}

}  // namespace bloomcast::transcode
