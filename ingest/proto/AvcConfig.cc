#include "ingest/proto/AvcConfig.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "ingest/proto/BitReader.h"
#include "ingest/proto/Bytes.h"

namespace bloomcast::ingest {

namespace {

constexpr uint32_t kMaxDimensionPx = 16384;

// Reads `count` (u16 length, bytes) parameter sets into `out`.
bool readParameterSets(ByteReader& reader, size_t count, std::vector<std::vector<uint8_t>>& out) {
  for (size_t i = 0; i < count; ++i) {
    if (reader.remaining() < 2) return false;
    const uint16_t length = reader.u16be();
    if (length == 0 || reader.remaining() < length) return false;
    const auto bytes = reader.bytes(length);
    out.emplace_back(bytes.begin(), bytes.end());
  }
  return true;
}

// The RBSP of a NAL unit payload: every 00 00 03 becomes 00 00.
std::vector<uint8_t> unescapeRbsp(std::span<const uint8_t> payload) {
  std::vector<uint8_t> rbsp;
  rbsp.reserve(payload.size());
  size_t zeros = 0;
  for (uint8_t b : payload) {
    if (zeros >= 2 && b == 0x03) {
      zeros = 0;
      continue;
    }
    zeros = b == 0 ? zeros + 1 : 0;
    rbsp.push_back(b);
  }
  return rbsp;
}

// The profiles whose SPS carries chroma format, bit depths and scaling lists (7.3.2.1.1).
bool hasChromaSyntax(uint8_t profile_idc) {
  constexpr uint8_t kProfiles[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
  return std::find(std::begin(kProfiles), std::end(kProfiles), profile_idc) != std::end(kProfiles);
}

// scaling_list(): only read to get past it.
void skipScalingList(BitReader& bits, int size) {
  int64_t last_scale = 8;
  int64_t next_scale = 8;
  for (int j = 0; j < size && !bits.failed(); ++j) {
    if (next_scale != 0) {
      const int64_t delta_scale = bits.se();  // -128..127 in a valid stream; any value is safe here
      next_scale = ((last_scale + delta_scale) % 256 + 256) % 256;
    }
    last_scale = next_scale == 0 ? last_scale : next_scale;
  }
}

ParseError spsError(const std::string& why) { return ParseError{"SPS: " + why}; }

}  // namespace

std::variant<AvcConfig, ParseError> parseAvcConfig(std::span<const uint8_t> record) {
  ByteReader reader(record);
  if (reader.remaining() < 6) {
    return ParseError{"AVC config record of " + std::to_string(record.size()) + " bytes"};
  }
  AvcConfig config;
  const uint8_t version = reader.u8();
  if (version != 1) return ParseError{"AVC config record version " + std::to_string(version)};
  config.profile_idc = reader.u8();
  config.profile_compatibility = reader.u8();
  config.level_idc = reader.u8();
  const uint8_t length_size_minus_one = reader.u8() & 0x03;
  if (length_size_minus_one == 2) return ParseError{"AVC NALU length size of 3 bytes"};
  config.nalu_length_size = static_cast<uint8_t>(length_size_minus_one + 1);

  const size_t sps_count = reader.u8() & 0x1F;
  if (!readParameterSets(reader, sps_count, config.sps)) {
    return ParseError{"AVC config record: SPS list runs past the record"};
  }
  if (reader.remaining() < 1) return ParseError{"AVC config record ends before the PPS count"};
  const size_t pps_count = reader.u8();
  if (!readParameterSets(reader, pps_count, config.pps)) {
    return ParseError{"AVC config record: PPS list runs past the record"};
  }
  return config;
}

std::variant<SpsInfo, ParseError> parseSps(std::span<const uint8_t> nal_unit) {
  if (nal_unit.size() < 4) return spsError("only " + std::to_string(nal_unit.size()) + " bytes");
  if ((nal_unit[0] & 0x80) != 0 || (nal_unit[0] & 0x1F) != 7) {
    return spsError("NAL header " + std::to_string(nal_unit[0]) + " is not an SPS");
  }
  const std::vector<uint8_t> rbsp = unescapeRbsp(nal_unit.subspan(1));
  BitReader bits(rbsp);
  SpsInfo info;
  info.profile_idc = static_cast<uint8_t>(bits.bits(8));
  bits.bits(8);  // constraint_set flags, reserved_zero_2bits
  info.level_idc = static_cast<uint8_t>(bits.bits(8));
  if (bits.ue() > 31) return spsError("seq_parameter_set_id out of range");

  bool separate_colour_plane = false;
  if (hasChromaSyntax(info.profile_idc)) {
    info.chroma_format_idc = bits.ue();
    if (info.chroma_format_idc > 3) return spsError("chroma_format_idc > 3");
    if (info.chroma_format_idc == 3) separate_colour_plane = bits.bit() != 0;
    const uint32_t bit_depth_luma_minus8 = bits.ue();
    const uint32_t bit_depth_chroma_minus8 = bits.ue();
    if (bit_depth_luma_minus8 > 6 || bit_depth_chroma_minus8 > 6) return spsError("bit depth > 14");
    info.bit_depth_luma = bit_depth_luma_minus8 + 8;
    bits.bit();             // qpprime_y_zero_transform_bypass_flag
    if (bits.bit() != 0) {  // seq_scaling_matrix_present_flag
      const int lists = info.chroma_format_idc != 3 ? 8 : 12;
      for (int i = 0; i < lists && !bits.failed(); ++i) {
        if (bits.bit() != 0) skipScalingList(bits, i < 6 ? 16 : 64);
      }
    }
  }

  if (bits.ue() > 12) return spsError("log2_max_frame_num_minus4 > 12");
  const uint32_t pic_order_cnt_type = bits.ue();
  if (pic_order_cnt_type == 0) {
    if (bits.ue() > 12) return spsError("log2_max_pic_order_cnt_lsb_minus4 > 12");
  } else if (pic_order_cnt_type == 1) {
    bits.bit();  // delta_pic_order_always_zero_flag
    bits.se();   // offset_for_non_ref_pic
    bits.se();   // offset_for_top_to_bottom_field
    const uint32_t cycle = bits.ue();
    if (cycle > 255) return spsError("num_ref_frames_in_pic_order_cnt_cycle > 255");
    for (uint32_t i = 0; i < cycle && !bits.failed(); ++i) bits.se();
  } else if (pic_order_cnt_type != 2) {
    return spsError("pic_order_cnt_type " + std::to_string(pic_order_cnt_type));
  }
  bits.ue();   // max_num_ref_frames
  bits.bit();  // gaps_in_frame_num_value_allowed_flag
  const uint64_t width_mbs = uint64_t{bits.ue()} + 1;
  const uint64_t height_map_units = uint64_t{bits.ue()} + 1;
  info.frame_mbs_only = bits.bit() != 0;
  if (!info.frame_mbs_only) bits.bit();  // mb_adaptive_frame_field_flag
  bits.bit();                            // direct_8x8_inference_flag
  uint64_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (bits.bit() != 0) {  // frame_cropping_flag
    crop_left = bits.ue();
    crop_right = bits.ue();
    crop_top = bits.ue();
    crop_bottom = bits.ue();
  }
  if (bits.failed()) return spsError("truncated");

  // Cropping is counted in chroma samples (7.4.2.1.1, frame_crop_*_offset).
  const uint32_t chroma_array_type = separate_colour_plane ? 0 : info.chroma_format_idc;
  const uint64_t field_factor = info.frame_mbs_only ? 1 : 2;
  uint64_t crop_unit_x = 1;
  uint64_t crop_unit_y = field_factor;
  if (chroma_array_type != 0) {
    crop_unit_x = chroma_array_type == 3 ? 1 : 2;
    crop_unit_y = (chroma_array_type == 1 ? 2 : 1) * field_factor;
  }
  const uint64_t coded_width = width_mbs * 16;
  const uint64_t coded_height = height_map_units * 16 * field_factor;
  if (coded_width > kMaxDimensionPx || coded_height > kMaxDimensionPx) {
    return spsError("coded size " + std::to_string(coded_width) + "x" +
                    std::to_string(coded_height) + " above " + std::to_string(kMaxDimensionPx));
  }
  const uint64_t crop_x = (crop_left + crop_right) * crop_unit_x;
  const uint64_t crop_y = (crop_top + crop_bottom) * crop_unit_y;
  if (crop_x >= coded_width || crop_y >= coded_height) {
    return spsError("cropping removes the picture");
  }
  info.width = static_cast<uint32_t>(coded_width - crop_x);
  info.height = static_cast<uint32_t>(coded_height - crop_y);
  return info;
}

}  // namespace bloomcast::ingest
