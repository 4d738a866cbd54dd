#include "transcode/TimestampMapper.h"

#include <algorithm>
#include <cstdlib>

namespace bloomcast::transcode {
namespace {

constexpr int64_t kBackTolerance90k = 90 * 100;    // 100 ms
constexpr int64_t kForwardJump90k = 90 * 10'000;   // 10 s

// a * b / c rounded to nearest, for timestamps (no overflow for days of 90 kHz at 192 kHz).
int64_t rescale(int64_t a, int64_t b, int64_t c) {
  __int128 v = static_cast<__int128>(a) * b;
  v += v >= 0 ? c / 2 : -(c / 2);
  return static_cast<int64_t>(v / c);
}

bool fits(int64_t out_90k, int64_t last_90k) {
  int64_t delta = out_90k - last_90k;
  return delta > -kBackTolerance90k && delta <= kForwardJump90k;
}

}  // namespace

void TimestampMapper::setAudioFormat(int sample_rate, int frame_samples) {
  if (sample_rate != sample_rate_) audio_ticks_valid_ = false;
  sample_rate_ = sample_rate;
  frame_samples_ = frame_samples > 0 ? frame_samples : 1024;
}

int64_t TimestampMapper::end90k() const {
  int64_t end = video_.started ? video_end_90k_ : 0;
  if (audio_.started && sample_rate_ > 0)
    end = std::max(end, audio_.last_90k + rescale(frame_samples_, 90000, sample_rate_));
  return end;
}

void TimestampMapper::continueAt(int64_t in_90k) {
  int64_t offset = end90k() - in_90k;
  for (Track* t : {&video_, &audio_}) {
    t->offset_90k = offset;
    t->hint = false;
  }
  continue_pending_ = false;
}

bool TimestampMapper::place(Track& t, Track& other, int64_t in_90k, int64_t nominal_90k) {
  if (!t.started) {
    t.started = true;
    // The first packet of a track takes the offset the other track already uses, if any.
    if (other.started) t.offset_90k = other.offset_90k;
    return false;
  }
  if (fits(in_90k + t.offset_90k, t.last_90k)) return false;
  if (t.hint && fits(in_90k + t.hint_offset_90k, t.last_90k)) {
    t.offset_90k = t.hint_offset_90k;
    t.hint = false;
    return false;
  }
  t.offset_90k = t.last_90k + nominal_90k - in_90k;
  t.hint = false;
  other.hint = true;
  other.hint_offset_90k = t.offset_90k;
  return true;
}

TimestampMapper::Mapped TimestampMapper::video(int64_t dts_ms, int64_t pts_ms) {
  int64_t in_90k = dts_ms * 90;
  int64_t cts_90k = std::max<int64_t>(0, (pts_ms - dts_ms) * 90);
  if (continue_pending_) continueAt(in_90k);
  Mapped m;
  bool was_started = video_.started;
  m.rebased = place(video_, audio_, in_90k, video_frame_90k_);
  m.dts = in_90k + video_.offset_90k;
  if (was_started) {
    int64_t delta = m.dts - video_.last_90k;
    if (delta <= 0) m.dts = video_.last_90k + 1;
    else if (!m.rebased && delta < 90'000) {  // learn the frame duration from ordinary steps
      video_frame_90k_ = frame_measured_ ? (video_frame_90k_ * 7 + delta) / 8 : delta;
      frame_measured_ = true;
    }
  }
  m.pts = m.dts + cts_90k;
  video_.last_90k = m.dts;
  video_end_90k_ = std::max(video_end_90k_, m.pts + video_frame_90k_);
  video_end_90k_ = std::max(video_end_90k_, m.dts + video_frame_90k_);
  return m;
}

TimestampMapper::Mapped TimestampMapper::audio(int64_t pts_ms) {
  int64_t in_90k = pts_ms * 90;
  if (continue_pending_) continueAt(in_90k);
  int64_t frame_90k = sample_rate_ > 0 ? rescale(frame_samples_, 90000, sample_rate_) : 1920;
  Mapped m;
  m.rebased = place(audio_, video_, in_90k, frame_90k);
  int64_t out_90k = in_90k + audio_.offset_90k;
  int64_t candidate = rescale(out_90k, sample_rate_ > 0 ? sample_rate_ : 90000, 90000);
  int64_t ticks = candidate;
  if (audio_ticks_valid_) {
    int64_t expected = audio_ticks_ + frame_samples_;
    // Millisecond timestamps jitter by up to a millisecond: keep the exact frame cadence. A
    // clock that runs behind the sample count is re-based by place() once 100 ms apart.
    if (candidate < expected + frame_samples_) ticks = expected;
  }
  audio_ticks_ = ticks;
  audio_ticks_valid_ = true;
  audio_.last_90k = rescale(ticks, 90000, sample_rate_ > 0 ? sample_rate_ : 90000);
  m.pts = m.dts = ticks;
  return m;
}

}  // namespace bloomcast::transcode
