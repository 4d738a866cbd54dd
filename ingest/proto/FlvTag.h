#pragma once
// FLV audio and video tag bodies, as RTMP audio (8) and video (9) messages carry them, turned
// into media packets: codec, config or frame, key frame, dts/pts and the codec payload.
//
//   video body:  frame type (4 bits) | codec id (4 bits) | ...
//     codec 7 (AVC): AVCPacketType (u8) | composition time (s24, ms) | data
//       AVCPacketType 0: AVCDecoderConfigurationRecord
//                     1: NAL units, each prefixed by its length (nalu_length_size bytes)
//                     2: end of sequence (no data)
//     frame type 1 = key frame, 2 = inter, 3 = disposable inter, 4 = generated key frame,
//                5 = video info/command frame (no picture)
//     top bit set: Enhanced RTMP (FourCC codecs: HEVC, AV1, VP9) - not supported yet
//
//   audio body:  sound format (4 bits) | rate (2) | size (1) | type (1) | ...
//     format 10 (AAC): AACPacketType (u8) | data
//       AACPacketType 0: AudioSpecificConfig
//                     1: raw AAC frame
//
// dts is the RTMP message timestamp; pts = dts + composition time.
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "ingest/proto/ParseResult.h"

namespace bloomcast::ingest {

enum class MediaKind : uint8_t { kVideo, kAudio };
enum class MediaCodec : uint8_t { kH264, kAac };

struct MediaTag {
  MediaKind kind = MediaKind::kVideo;
  MediaCodec codec = MediaCodec::kH264;
  bool is_config = false;           // AVCDecoderConfigurationRecord / AudioSpecificConfig
  bool is_end_of_sequence = false;  // AVC end of sequence: data is empty
  bool keyframe = false;            // video key frame; true for every AAC packet
  int64_t dts_ms = 0;
  int64_t pts_ms = 0;
  // The codec payload, a view into the parsed body (valid while the body is): length-prefixed
  // NAL units, the config record, or one raw AAC frame.
  std::span<const uint8_t> data;
};

// A well-formed tag that the pipeline does not take: another codec, Enhanced RTMP, a video
// command frame. The caller decides whether to drop it or refuse the stream.
struct Unsupported {
  std::string what;
};

using FlvTagResult = std::variant<MediaTag, Unsupported, ParseError>;

// Parses one tag body. `timestamp_ms` is the RTMP message timestamp (the dts). For AVC NAL unit
// packets every length prefix (`nalu_length_size` bytes: 1, 2 or 4, from the config record) must
// fit the body; config records are checked with parseAvcConfig / parseAacConfig.
FlvTagResult parseFlvTag(MediaKind kind, uint32_t timestamp_ms, std::span<const uint8_t> body,
                         uint8_t nalu_length_size = 4);

}  // namespace bloomcast::ingest
