#pragma once
// Media: what flows from ingest to the media pipeline — the interface between the two parts,
// wired by app/. Ingest produces packets on the loop thread; the pipeline (transcode) takes
// them into its own bounded queue and must never block the caller.
//
// A video packet carries H.264 in AVCC form (NAL units each prefixed by a 4-byte big-endian
// length, whatever the publisher used); its codec config is the AVCDecoderConfigurationRecord.
// An audio packet carries one raw AAC frame; its codec config is the AudioSpecificConfig.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bloomcast {

enum class MediaType : uint8_t { kVideo, kAudio };

struct MediaPacket {
  MediaType type = MediaType::kVideo;
  bool is_config = false;  // codec configuration, not a frame
  bool keyframe = false;   // video IDR / every AAC frame
  int64_t dts_ms = 0;      // publisher timeline, milliseconds
  int64_t pts_ms = 0;
  std::vector<uint8_t> data;
};
using MediaPacketPtr = std::shared_ptr<const MediaPacket>;

// What the publisher told us about the stream when it started (onMetaData and sequence
// headers may follow later; packets are the truth).
struct StreamDescription {
  std::string stream_id;
  std::string publisher_ip;
  uint32_t width = 0;   // from onMetaData when the encoder sent it, else 0
  uint32_t height = 0;
  double frame_rate = 0;
};

// One live publish of one stream, as the pipeline sees it. Loop thread only.
class MediaStreamSink {
 public:
  virtual ~MediaStreamSink() = default;
  virtual void onMetaData(const StreamDescription& description) = 0;
  virtual void onPacket(MediaPacketPtr packet) = 0;
  // The publisher left (cleanly, by error, or silent past the idle timeout). No call follows.
  virtual void onEnd(const std::string& why) = 0;
};

// Opens a sink per publish. Loop thread only.
class MediaSinkFactory {
 public:
  virtual ~MediaSinkFactory() = default;
  virtual std::unique_ptr<MediaStreamSink> open(const StreamDescription& description) = 0;
};

}  // namespace bloomcast
