#pragma once
// TimestampMapper: the publisher's millisecond timestamps -> the output timeline of one stream
// (90 kHz for video, the sample rate for audio), which only moves forward, and continues
// across publishes and gaps so that one show is one timeline.
//
// - A new publish, or the packet after the queue dropped frames: the timeline continues right
//   after the end of what was already mapped (the publisher's clock restarts or skipped).
// - Video dts that repeats or steps back a little (< 100 ms) is nudged forward by one tick; a
//   jump back by more, or forward by more than 10 s, re-bases that track to continue where it
//   was. When one track re-bases, the other adopts the same new offset if its next timestamp
//   fits it (the usual case: the publisher's whole clock jumped), so A/V sync survives.
// - Audio advances by exactly one frame per AAC frame while the publisher's clock agrees
//   within a frame (millisecond timestamps jitter); a real gap is kept.
//
// Pure arithmetic: no clocks, no I/O. Thread: the pipeline's worker.
#include <cstdint>

namespace bloomcast::transcode {

class TimestampMapper {
 public:
  struct Mapped {
    int64_t pts = 0;
    int64_t dts = 0;
    bool rebased = false;  // this packet re-based its track (a jump in the publisher's clock)
  };

  // The next packet, of either track, continues the timeline right after its end.
  void continueAfterEnd() { continue_pending_ = true; }

  void setAudioFormat(int sample_rate, int frame_samples);

  // 90 kHz. pts earlier than dts is taken as pts = dts.
  Mapped video(int64_t dts_ms, int64_t pts_ms);
  // Ticks of the audio sample rate (setAudioFormat first).
  Mapped audio(int64_t pts_ms);

  // Estimated video frame duration, 90 kHz (3000 until measured).
  int64_t videoFrameDuration() const { return video_frame_90k_; }
  // The end of everything mapped so far, 90 kHz.
  int64_t end90k() const;

 private:
  struct Track {
    bool started = false;
    int64_t offset_90k = 0;   // output = input_ms * 90 + offset
    int64_t last_90k = 0;     // last dts (video) or pts (audio) written, 90 kHz
    bool hint = false;        // the other track re-based to hint_offset_90k
    int64_t hint_offset_90k = 0;
  };
  // Chooses the offset for `t`'s next input at `in_90k` that follows `nominal_90k` after its
  // last output; returns true when it re-based.
  bool place(Track& t, Track& other, int64_t in_90k, int64_t nominal_90k);
  void continueAt(int64_t in_90k);

  Track video_;
  Track audio_;
  bool continue_pending_ = false;
  int64_t video_frame_90k_ = 3000;
  bool frame_measured_ = false;
  int64_t video_end_90k_ = 0;
  int sample_rate_ = 0;
  int frame_samples_ = 1024;
  int64_t audio_ticks_ = 0;  // pts of the last audio frame, sample ticks
  bool audio_ticks_valid_ = false;
};

}  // namespace bloomcast::transcode
