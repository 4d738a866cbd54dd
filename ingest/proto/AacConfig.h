#pragma once
// AAC codec configuration as RTMP carries it: the AudioSpecificConfig of an FLV AAC sequence
// header (ISO/IEC 14496-3 1.6.2.1), read as far as the fields a muxer needs.
//
//   audioObjectType         5 bits (31: escape, 6 more bits + 32)
//   samplingFrequencyIndex  4 bits (15: explicit 24-bit frequency follows)
//   channelConfiguration    4 bits (0: defined by a program config element)
//   ... (GASpecificConfig etc., not needed)
#include <cstdint>
#include <span>
#include <variant>

#include "ingest/proto/ParseResult.h"

namespace bloomcast::ingest {

struct AacConfig {
  uint32_t object_type = 0;        // 2 = AAC-LC, 5 = SBR (HE-AAC), 29 = PS (HE-AACv2), ...
  uint32_t sample_rate_index = 0;  // 0..12, or 15 when explicit
  uint32_t sample_rate_hz = 0;
  uint32_t channel_config = 0;  // 1 mono, 2 stereo, ... 7 = 7.1
};

// Parses an AudioSpecificConfig of at least 2 bytes. ParseError when truncated, object type 0,
// or a reserved sampling frequency index.
std::variant<AacConfig, ParseError> parseAacConfig(std::span<const uint8_t> config);

}  // namespace bloomcast::ingest
