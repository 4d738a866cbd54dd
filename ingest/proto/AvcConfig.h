#pragma once
// H.264 codec configuration as RTMP carries it: the AVCDecoderConfigurationRecord of an FLV
// video sequence header (ISO/IEC 14496-15 5.2.4.1), and the frame size from its SPS.
//
//   u8  configurationVersion = 1
//   u8  AVCProfileIndication, u8 profile_compatibility, u8 AVCLevelIndication
//   u8  111111b | lengthSizeMinusOne (2 bits: NALU length prefix of 1, 2 or 4 bytes)
//   u8  111b | numOfSequenceParameterSets (5 bits)
//       { u16 length, SPS NAL unit } * num
//   u8  numOfPictureParameterSets
//       { u16 length, PPS NAL unit } * num
//   [high profiles: chroma format, bit depths, SPS extensions - not needed here, ignored]
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "ingest/proto/ParseResult.h"

namespace bloomcast::ingest {

struct AvcConfig {
  uint8_t profile_idc = 0;
  uint8_t profile_compatibility = 0;
  uint8_t level_idc = 0;
  uint8_t nalu_length_size = 4;           // 1, 2 or 4
  std::vector<std::vector<uint8_t>> sps;  // NAL units, header byte included
  std::vector<std::vector<uint8_t>> pps;
};

// What a sequence parameter set says about the picture.
struct SpsInfo {
  uint8_t profile_idc = 0;
  uint8_t level_idc = 0;
  uint32_t chroma_format_idc = 1;  // 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
  uint32_t bit_depth_luma = 8;
  bool frame_mbs_only = true;  // false: interlaced (field or MBAFF) coding
  uint32_t width = 0;          // displayed size: coded macroblocks minus cropping
  uint32_t height = 0;
};

// Parses and checks a record: version 1, a valid NALU length size, every parameter set inside
// the record. Zero SPS or PPS is accepted (some encoders send them in band).
std::variant<AvcConfig, ParseError> parseAvcConfig(std::span<const uint8_t> record);

// Parses an SPS NAL unit (header byte included, emulation prevention bytes still in) far enough
// to get the frame size (ITU-T H.264 7.3.2.1.1): handles the high profiles' chroma format, bit
// depths and scaling lists, all picture order count types, interlace and frame cropping.
// ParseError on a truncated or out-of-range SPS, or a size above 16384 pixels.
std::variant<SpsInfo, ParseError> parseSps(std::span<const uint8_t> nal_unit);

}  // namespace bloomcast::ingest
