#include "ingest/proto/FlvTag.h"

#include "ingest/proto/AacConfig.h"
#include "ingest/proto/AvcConfig.h"
#include "ingest/proto/Bytes.h"

namespace bloomcast::ingest {

namespace {

constexpr uint8_t kAvcCodecId = 7;
constexpr uint8_t kAacSoundFormat = 10;

const char* soundFormatName(uint8_t format) {
  switch (format) {
    case 0:
    case 3: return "linear PCM";
    case 1: return "ADPCM";
    case 2: return "MP3";
    case 4:
    case 5:
    case 6: return "Nellymoser";
    case 7: return "G.711 A-law";
    case 8: return "G.711 mu-law";
    case 11: return "Speex";
    case 14: return "MP3 8 kHz";
    default: return "unknown";
  }
}

const char* videoCodecName(uint8_t codec_id) {
  switch (codec_id) {
    case 2: return "Sorenson H.263";
    case 3: return "Screen video";
    case 4: return "On2 VP6";
    case 5: return "On2 VP6 with alpha";
    case 6: return "Screen video v2";
    case 12: return "HEVC (legacy codec id 12)";
    default: return "unknown";
  }
}

// Checks that `data` is a sequence of NAL units, each after a big-endian length prefix.
bool naluLengthsFit(std::span<const uint8_t> data, uint8_t length_size) {
  ByteReader reader(data);
  while (reader.remaining() > 0) {
    if (reader.remaining() < length_size) return false;
    uint32_t length = 0;
    for (uint8_t i = 0; i < length_size; ++i) length = (length << 8) | reader.u8();
    if (length > reader.remaining()) return false;
    reader.skip(length);
  }
  return true;
}

FlvTagResult parseVideo(uint32_t timestamp_ms, std::span<const uint8_t> body,
                        uint8_t nalu_length_size) {
  if (body.empty()) return ParseError{"empty video tag"};
  const uint8_t frame_type = (body[0] >> 4) & 0x07;
  const uint8_t codec_id = body[0] & 0x0F;
  if ((body[0] & 0x80) != 0) return Unsupported{"Enhanced RTMP video (FourCC codec)"};
  if (frame_type == 5) return Unsupported{"video info/command frame"};
  if (codec_id != kAvcCodecId) {
    return Unsupported{std::string("video codec ") + videoCodecName(codec_id) + " (id " +
                       std::to_string(codec_id) + "); only H.264 is supported"};
  }
  if (frame_type < 1 || frame_type > 4) {
    return ParseError{"video frame type " + std::to_string(frame_type)};
  }
  if (body.size() < 5) return ParseError{"AVC tag of " + std::to_string(body.size()) + " bytes"};

  MediaTag tag;
  tag.kind = MediaKind::kVideo;
  tag.codec = MediaCodec::kH264;
  tag.keyframe = frame_type == 1 || frame_type == 4;
  const uint8_t packet_type = body[1];
  int32_t composition_ms = (int32_t{body[2]} << 16) | (int32_t{body[3]} << 8) | body[4];
  if (composition_ms & 0x800000) composition_ms -= 0x1000000;  // signed 24-bit
  tag.dts_ms = timestamp_ms;
  tag.pts_ms = tag.dts_ms + composition_ms;
  tag.data = body.subspan(5);

  switch (packet_type) {
    case 0: {
      tag.is_config = true;
      const auto config = parseAvcConfig(tag.data);
      if (const auto* error = std::get_if<ParseError>(&config)) return *error;
      return tag;
    }
    case 1:
      if (nalu_length_size != 1 && nalu_length_size != 2 && nalu_length_size != 4) {
        return ParseError{"NALU length size " + std::to_string(nalu_length_size)};
      }
      if (!naluLengthsFit(tag.data, nalu_length_size)) {
        return ParseError{"AVC NAL unit lengths do not match the " +
                          std::to_string(tag.data.size()) + "-byte payload"};
      }
      return tag;
    case 2:
      tag.is_end_of_sequence = true;
      tag.data = {};
      return tag;
    default: return ParseError{"AVCPacketType " + std::to_string(packet_type)};
  }
}

FlvTagResult parseAudio(uint32_t timestamp_ms, std::span<const uint8_t> body) {
  if (body.empty()) return ParseError{"empty audio tag"};
  const uint8_t sound_format = body[0] >> 4;
  if (sound_format != kAacSoundFormat) {
    return Unsupported{std::string("audio format ") + soundFormatName(sound_format) + " (id " +
                       std::to_string(sound_format) + "); only AAC is supported"};
  }
  if (body.size() < 2) return ParseError{"AAC tag of 1 byte"};

  MediaTag tag;
  tag.kind = MediaKind::kAudio;
  tag.codec = MediaCodec::kAac;
  tag.keyframe = true;
  tag.dts_ms = timestamp_ms;
  tag.pts_ms = timestamp_ms;
  tag.data = body.subspan(2);
  switch (body[1]) {
    case 0: {
      tag.is_config = true;
      const auto config = parseAacConfig(tag.data);
      if (const auto* error = std::get_if<ParseError>(&config)) return *error;
      return tag;
    }
    case 1: return tag;
    default: return ParseError{"AACPacketType " + std::to_string(body[1])};
  }
}

}  // namespace

FlvTagResult parseFlvTag(MediaKind kind, uint32_t timestamp_ms, std::span<const uint8_t> body,
                         uint8_t nalu_length_size) {
  return kind == MediaKind::kVideo ? parseVideo(timestamp_ms, body, nalu_length_size)
                                   : parseAudio(timestamp_ms, body);
}

}  // namespace bloomcast::ingest
