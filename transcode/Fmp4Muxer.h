#pragma once
// Fmp4Muxer: one fragmented MP4 (CMAF) stream built in memory with libavformat's mp4 muxer —
// the init segment (ftyp + moov) first, then one fragment (moof + mdat) per flushFragment().
// bloomcast decides where fragments end (segment boundaries now, LL-HLS parts later); the
// muxer only packs bytes (movflags frag_custom+empty_moov+default_base_moof+cmaf+frag_discont:
// no automatic fragmenting, decode times in tfdt taken from the packets as given, so the
// timeline continues across muxers of one show).
//
// Track time bases: video 90 kHz, audio its sample rate. Every packet needs its duration.
// Thread: the worker of the pipeline that owns it. Ownership: one HlsRendition period.
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "infra/Error.h"
#include "transcode/Libav.h"

namespace bloomcast::transcode {

struct VideoTrackConfig {
  // H.264 configuration: an avcC record (then packets are AVCC, as from RTMP) or Annex B
  // parameter sets (then packets are Annex B, as from libx264; the muxer converts both).
  std::vector<uint8_t> avcc;
  int width = 0;
  int height = 0;
};

struct AudioTrackConfig {
  std::vector<uint8_t> asc;  // AudioSpecificConfig
  int sample_rate = 0;
  int channels = 0;
  int frame_samples = 1024;
};

class Fmp4Muxer {
 public:
  static std::expected<std::unique_ptr<Fmp4Muxer>, Error> open(
      const VideoTrackConfig& video, const std::optional<AudioTrackConfig>& audio);

  const std::vector<uint8_t>& initSegment() const { return init_; }
  bool hasAudio() const { return audio_index_ >= 0; }

  // 90 kHz timestamps; `data` is one access unit in the form of the track's configuration.
  std::expected<void, Error> writeVideo(std::span<const uint8_t> data, int64_t pts, int64_t dts,
                                        int64_t duration, bool keyframe);
  // Sample-rate timestamps; `data` is one raw AAC frame.
  std::expected<void, Error> writeAudio(std::span<const uint8_t> data, int64_t pts, int64_t duration);

  // Ends the current fragment and returns its bytes (empty when nothing was written).
  std::expected<std::vector<uint8_t>, Error> flushFragment();

 private:
  Fmp4Muxer() = default;
  std::expected<void, Error> write(int index, std::span<const uint8_t> data, int64_t pts,
                                   int64_t dts, int64_t duration, bool keyframe, AVRational from);
  std::expected<std::vector<uint8_t>, Error> takeBytes();

  AvFormatOutputPtr ctx_;
  AvPacketPtr packet_;
  std::vector<uint8_t> init_;
  int video_index_ = -1;
  int audio_index_ = -1;
  bool pending_ = false;  // samples written since the last flush
};

}  // namespace bloomcast::transcode
