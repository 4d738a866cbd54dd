#include "transcode/CodecConfig.h"

#include <array>
#include <cstdio>
#include <vector>

#include "transcode/Libav.h"

namespace bloomcast::transcode {
namespace {

// MSB-first bit reader over untrusted bytes; reading past the end sets `overrun`.
class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint32_t read(int bits) {
    uint32_t v = 0;
    for (int i = 0; i < bits; ++i) {
      if (pos_ >= bytes_.size() * 8) {
        overrun_ = true;
        return 0;
      }
      v = (v << 1) | ((bytes_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
      ++pos_;
    }
    return v;
  }
  bool overrun() const { return overrun_; }

 private:
  std::span<const uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool overrun_ = false;
};

constexpr std::array<int, 13> kAacSampleRates = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                                 22050, 16000, 12000, 11025, 8000,  7350};

int readObjectType(BitReader& r) {
  int aot = static_cast<int>(r.read(5));
  if (aot == 31) aot = 32 + static_cast<int>(r.read(6));
  return aot;
}

int readSampleRate(BitReader& r) {
  uint32_t index = r.read(4);
  if (index == 15) return static_cast<int>(r.read(24));
  return index < kAacSampleRates.size() ? kAacSampleRates[index] : 0;
}

bool isGeneralAudio(int aot) {
  switch (aot) {
    case 1: case 2: case 3: case 4: case 6: case 7:
    case 17: case 19: case 20: case 21: case 22: case 23:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string AvcHeader::codecString() const {
  char text[16];
  std::snprintf(text, sizeof text, "avc1.%02x%02x%02x", profile_idc, constraint_flags, level_idc);
  return text;
}

std::expected<AvcHeader, Error> parseAvcHeader(std::span<const uint8_t> config) {
  if (!config.empty() && config[0] == 1) {
    if (config.size() < 7) return std::unexpected(Error{"invalid_data", "avcC record shorter than 7 bytes"});
    return AvcHeader{config[1], config[2], config[3]};
  }
  // Annex B: 00 00 01 (or 00 00 00 01) then the NAL header; SPS is type 7.
  for (std::size_t i = 0; i + 3 < config.size(); ++i) {
    if (config[i] != 0 || config[i + 1] != 0 || config[i + 2] != 1) continue;
    std::size_t nal = i + 3;
    if ((config[nal] & 0x1f) == 7) {
      if (nal + 4 > config.size()) break;
      return AvcHeader{config[nal + 1], config[nal + 2], config[nal + 3]};
    }
  }
  return std::unexpected(Error{"invalid_data", "no avcC record and no SPS in the H.264 configuration"});
}

std::expected<AacConfig, Error> parseAudioSpecificConfig(std::span<const uint8_t> asc) {
  if (asc.size() < 2) return std::unexpected(Error{"invalid_data", "AudioSpecificConfig shorter than 2 bytes"});
  BitReader r(asc);
  AacConfig c;
  c.object_type = readObjectType(r);
  c.sample_rate = readSampleRate(r);
  uint32_t channel_config = r.read(4);
  int core_type = c.object_type;
  if (c.object_type == 5 || c.object_type == 29) {
    // Explicit SBR/PS: the extension rate, then the core codec's own object type.
    readSampleRate(r);
    core_type = readObjectType(r);
  }
  if (isGeneralAudio(core_type)) c.frame_samples = r.read(1) ? 960 : 1024;
  if (r.overrun()) return std::unexpected(Error{"invalid_data", "AudioSpecificConfig truncated"});
  if (c.object_type == 0) return std::unexpected(Error{"invalid_data", "AAC object type 0"});
  if (c.sample_rate <= 0 || c.sample_rate > 192000)
    return std::unexpected(Error{"invalid_data", "AAC sampling frequency index is reserved"});
  // Configuration 0 describes channels in a program config element: stereo is the safe guess.
  c.channels = channel_config == 0 ? 2 : channel_config == 7 ? 8 : static_cast<int>(channel_config);
  if (channel_config > 7) return std::unexpected(Error{"invalid_data", "AAC channel configuration is reserved"});
  return c;
}

std::expected<PictureSize, Error> h264PictureSize(std::span<const uint8_t> avcc,
                                                  std::span<const uint8_t> access_unit) {
  AvParserPtr parser(av_parser_init(AV_CODEC_ID_H264));
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  if (!parser || !codec) return std::unexpected(Error{"codec_not_found", "no H.264 parser in libavcodec"});
  AvCodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx || !setExtradata(ctx.get(), avcc.data(), avcc.size()))
    return std::unexpected(Error{"out_of_memory", "H.264 parser context"});
  // The parser wants zero padding after the input, as decoders do.
  std::vector<uint8_t> padded(access_unit.begin(), access_unit.end());
  padded.resize(access_unit.size() + AV_INPUT_BUFFER_PADDING_SIZE, 0);
  parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
  uint8_t* out = nullptr;
  int out_size = 0;
  av_parser_parse2(parser.get(), ctx.get(), &out, &out_size, padded.data(),
                   static_cast<int>(access_unit.size()), AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
  int width = parser->width > 0 ? parser->width : ctx->width;
  int height = parser->height > 0 ? parser->height : ctx->height;
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
    return std::unexpected(Error{"invalid_data", "no picture size in the H.264 parameter sets"});
  return PictureSize{width, height};
}

}  // namespace bloomcast::transcode
