#pragma once
// HlsRendition: one rendition of one stream on disk, under DIR (DATA_DIR/hls/STREAM/NAME/):
//   init_K.mp4   the init segment of period K (a publish, or a new codec configuration)
//   seg_N.m4s    segment N; N is numbered stream-wide, so seg_N of every rendition covers the
//                same time
//   index.m3u8   the EVENT playlist of every segment; #EXT-X-ENDLIST when the show ended
// Every file appears atomically (AtomicFile). A segment is listed once its file is complete.
//
// Cutting: the pipeline announces each segment start (markBoundary) when it sees the source
// keyframe that starts it; the rendition cuts at the first video keyframe at or after that
// time — the very same frame, as ladder encoders force an IDR there. Audio at or after an
// announced boundary waits until the video reaches it, so each segment holds the audio of its
// own time span even when the ladder's video comes out of the codecs a few frames late.
// Each sample's duration is the distance to the next one of its track, so one video packet
// is held back until the next arrives.
//
// Errors (a full disk) are logged; the segment they hit is left out and the next one carries
// #EXT-X-DISCONTINUITY. Thread: the pipeline's worker. Ownership: the StreamPipeline.
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "infra/Error.h"
#include "transcode/Fmp4Muxer.h"
#include "transcode/PlaylistWriter.h"

namespace bloomcast::transcode {

// Bytes kept alive by whoever owns them (a MediaPacket, an encoder's packet), without a copy.
struct SharedBytes {
  std::shared_ptr<const void> owner;
  std::span<const uint8_t> bytes;
};

struct SegmentStart {
  uint64_t sequence = 0;
  int64_t pts_90k = 0;
  int64_t program_date_time_ms = 0;
};

class HlsRendition {
 public:
  HlsRendition(std::string name, std::string dir, int min_target_duration_s);

  // Continues a playlist found on disk (a show resumed after the pipeline or process ended):
  // its segments stay listed, the next period starts after a discontinuity.
  void adopt(MediaPlaylist existing);

  const std::string& name() const { return name_; }
  const std::string& dir() const { return dir_; }

  // Starts a period: a new muxer and init segment; the period's first segment is `first`.
  std::expected<void, Error> beginPeriod(const VideoTrackConfig& video,
                                         const std::optional<AudioTrackConfig>& audio,
                                         SegmentStart first);
  // Announces the segment that starts at the first video keyframe at or after start.pts_90k.
  void markBoundary(const SegmentStart& start);
  // 90 kHz timestamps, decode order.
  void writeVideo(SharedBytes data, int64_t pts, int64_t dts, bool keyframe);
  // Sample-rate timestamp; one AAC frame.
  void writeAudio(SharedBytes data, int64_t pts);
  // Closes the open segment with the duration of its content and ends the period.
  void endPeriod();
  // Rewrites the playlist with (or without, when a show resumes) #EXT-X-ENDLIST.
  void setEnded(bool ended);

  bool inPeriod() const { return muxer_ != nullptr; }
  const MediaPlaylist& playlist() const { return playlist_; }
  int width() const { return width_; }
  int height() const { return height_; }
  const std::string& codecs() const { return codecs_; }
  int64_t peakBitrate() const { return peak_bps_; }
  int64_t averageBitrate() const;
  uint64_t framesWritten() const { return frames_written_; }

 private:
  struct HeldVideo {
    SharedBytes data;
    int64_t pts = 0;
    int64_t dts = 0;
    bool keyframe = false;
  };
  struct HeldAudio {
    SharedBytes data;
    int64_t pts = 0;      // sample ticks
    int64_t pts_90k = 0;
  };
  void openSegment(const SegmentStart& start, bool discontinuity);
  // Writes the held video packet, lasting until next_dts (or one frame when unknown).
  void writeHeldVideo(std::optional<int64_t> next_dts);
  void closeSegment(int64_t end_pts_90k, std::optional<int64_t> next_dts);
  void releaseHeldAudio();
  void writePlaylist();
  void fail(const Error& error, bool segment_lost = true);

  std::string name_;
  std::string dir_;
  MediaPlaylist playlist_;
  std::unique_ptr<Fmp4Muxer> muxer_;
  std::string init_uri_;
  int next_init_ = 0;
  int width_ = 0;
  int height_ = 0;
  std::string codecs_;
  int sample_rate_ = 0;
  int frame_samples_ = 1024;

  std::deque<SegmentStart> boundaries_;  // announced, not reached yet
  std::deque<HeldAudio> held_audio_;
  std::optional<HeldVideo> held_video_;
  bool segment_open_ = false;
  SegmentStart segment_;                 // the open segment
  bool segment_discontinuity_ = false;
  bool segment_broken_ = false;          // a write failed: the segment is left out
  bool next_discontinuity_ = false;      // a segment was lost: the next one says so
  int64_t frame_90k_ = 3000;             // last video dts step
  int64_t max_end_pts_90k_ = 0;          // end of the open segment's pictures
  uint64_t frames_written_ = 0;
  int64_t peak_bps_ = 0;
  int64_t total_bytes_ = 0;
  int64_t total_us_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace bloomcast::transcode
