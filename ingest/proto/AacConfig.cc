#include "ingest/proto/AacConfig.h"

#include <array>
#include <string>

#include "ingest/proto/BitReader.h"

namespace bloomcast::ingest {

namespace {

constexpr std::array<uint32_t, 13> kSampleRatesHz = {
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350};

}  // namespace

std::variant<AacConfig, ParseError> parseAacConfig(std::span<const uint8_t> config) {
  if (config.size() < 2) {
    return ParseError{"AAC config of " + std::to_string(config.size()) + " bytes (needs 2)"};
  }
  BitReader bits(config);
  AacConfig out;
  out.object_type = bits.bits(5);
  if (out.object_type == 31) out.object_type = 32 + bits.bits(6);
  if (out.object_type == 0) return ParseError{"AAC config with object type 0"};
  out.sample_rate_index = bits.bits(4);
  if (out.sample_rate_index == 15) {
    out.sample_rate_hz = bits.bits(24);
  } else if (out.sample_rate_index < kSampleRatesHz.size()) {
    out.sample_rate_hz = kSampleRatesHz[out.sample_rate_index];
  } else {
    return ParseError{"AAC sampling frequency index " + std::to_string(out.sample_rate_index) +
                      " is reserved"};
  }
  out.channel_config = bits.bits(4);
  if (bits.failed()) return ParseError{"AAC config truncated"};
  if (out.sample_rate_hz == 0) return ParseError{"AAC config with a 0 Hz sample rate"};
  return out;
}

}  // namespace bloomcast::ingest
