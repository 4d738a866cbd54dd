#pragma once
// VideoTranscoder: the ladder of one period of one stream — the source video decoded once,
// then per rung one scaler (libswscale) and one libx264 encoder.
//
//   source access unit -> H.264 decoder -> frame -> sws (rung 0) -> x264 (rung 0) -> packets
//                                               \-> sws (rung 1) -> x264 (rung 1) -> packets
//
// Live settings: preset veryfast, tune zerolatency (no B-frames, no lookahead, no frame
// delay: a packet leaves the encoder for every frame that enters), scene-cut keyframes off,
// closed GOPs, and an IDR forced on exactly the frames the pipeline names as segment starts
// (forceKeyframeAt), so every rung cuts on the same pictures as the source. Timestamps pass
// through unchanged (90 kHz), so rung segments line up with the source's.
//
// Thread: the pipeline's worker. Ownership: the StreamPipeline, one per period.
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "infra/Error.h"
#include "transcode/Fmp4Muxer.h"
#include "transcode/Libav.h"

namespace bloomcast::transcode {

struct RungTarget {
  std::string name;
  int width = 0;
  int height = 0;
  int video_kbps = 0;
};

struct TranscoderOptions {
  double frame_rate = 30;       // the source's, for rate control
  int decoder_threads = 1;
  int encoder_threads = 1;      // per encoder; sliced threads (no added latency)
  std::string preset = "veryfast";
};

class VideoTranscoder {
 public:
  // Receives each encoded packet: the rung's index and a packet in 90 kHz (Annex B).
  using Output = std::function<void(std::size_t rung, AVPacket* packet)>;

  static std::expected<std::unique_ptr<VideoTranscoder>, Error> open(
      const VideoTrackConfig& source, const std::vector<RungTarget>& rungs,
      const TranscoderOptions& options);

  std::size_t rungCount() const { return rungs_.size(); }
  const RungTarget& rung(std::size_t i) const { return rungs_[i].target; }
  // The rung's track configuration (Annex B SPS/PPS from the encoder, its size).
  VideoTrackConfig trackConfig(std::size_t i) const;
  bool active(std::size_t i) const { return rungs_[i].encoder != nullptr; }
  std::size_t activeCount() const;
  uint64_t framesEncoded(std::size_t i) const { return rungs_[i].frames; }

  // The decoded frame with this presentation time (or, if it is lost, the first after it)
  // becomes an IDR in every rung.
  void forceKeyframeAt(int64_t pts_90k);

  // Decodes one source access unit (AVCC, 90 kHz) and encodes what it yields. A decode error
  // (damaged input) is returned; the transcoder stays usable.
  std::expected<void, Error> push(std::span<const uint8_t> access_unit, int64_t pts, int64_t dts,
                                  bool keyframe, const Output& output);
  // End of the period: every frame still inside the decoder and the encoders comes out.
  void drain(const Output& output);
  // Stops encoding rung i for good (degrade); frees its encoder.
  void disable(std::size_t i);

 private:
  struct Rung {
    RungTarget target;
    AvCodecContextPtr encoder;
    SwsContextPtr scaler;
    AvFramePtr frame;
    int64_t last_pts = INT64_MIN;
    uint64_t frames = 0;
  };
  VideoTranscoder() = default;
  void encodeFrame(AVFrame* decoded, const Output& output);
  void receivePackets(std::size_t i, const Output& output);
  void receiveFrames(const Output& output);

  AvCodecContextPtr decoder_;
  AvFramePtr decoded_;
  AvPacketPtr packet_;
  std::vector<Rung> rungs_;
  std::deque<int64_t> force_keys_;
  uint64_t decode_errors_ = 0;
};

}  // namespace bloomcast::transcode
