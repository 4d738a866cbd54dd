// AvcConfig and AacConfig: codec configuration records and the frame size in an SPS.
#include <gtest/gtest.h>

#include "RtmpTestClient.h"
#include "ingest/proto/AacConfig.h"
#include "ingest/proto/AvcConfig.h"

namespace bloomcast::ingest {
namespace {

using namespace testing;

// SPS NAL units written by libx264 (ffmpeg -f lavfi -i testsrc2=size=WxH -frames:v 1 -c:v libx264).
const Bytes kSps640x360 = fromHex("6764001eacd940a02ff97011000003000100000300320f162d96");
const Bytes kSps854x480 = fromHex("6764001eacd940d83de6f011000003000100000300320f162d96");
const Bytes kSps320x240Baseline = fromHex("6742c00dd90141fb011000000300100000030320f142a480");
// -pix_fmt yuv444p: High 4:4:4 Predictive, chroma_format_idc 3, 854 wide (crop 10 luma columns).
const Bytes kSps854x480Yuv444 = fromHex("67f4001e919b281b07bc5f80880000030008000003019078b16cb0");
// -flags +ildct+ilme -x264-params interlaced=1: frame_mbs_only 0, 1088 coded rows cropped to 1080.
const Bytes kSps1920x1080Interlaced =
    fromHex("67640028acd94078044fde0220000003002000000643e2c5b2c0");

SpsInfo spsOk(const Bytes& nal) {
  auto result = parseSps(nal);
  if (const auto* error = std::get_if<ParseError>(&result)) ADD_FAILURE() << error->why;
  return std::holds_alternative<SpsInfo>(result) ? std::get<SpsInfo>(result) : SpsInfo{};
}

// Writes SPS fields MSB first, then makes a NAL unit with emulation prevention.
class BitWriter {
 public:
  BitWriter& bits(uint32_t value, int count) {
    for (int i = count - 1; i >= 0; --i) bit((value >> i) & 1);
    return *this;
  }
  BitWriter& ue(uint32_t value) {
    const uint64_t v = uint64_t{value} + 1;
    int length = 0;
    while ((v >> length) > 1) ++length;
    bits(0, length);
    for (int i = length; i >= 0; --i) bit((v >> i) & 1);
    return *this;
  }
  BitWriter& se(int32_t value) {
    return ue(value > 0 ? uint32_t(2 * value - 1) : uint32_t(-2 * value));
  }
  Bytes nalUnit() {
    bit(1);  // rbsp_stop_one_bit
    while (bit_count_ % 8 != 0) bit(0);
    Bytes nal = {0x67};
    int zeros = 0;
    for (uint8_t b : rbsp_) {
      if (zeros >= 2 && b <= 3) {
        nal.push_back(3);
        zeros = 0;
      }
      nal.push_back(b);
      zeros = b == 0 ? zeros + 1 : 0;
    }
    return nal;
  }

 private:
  void bit(uint32_t b) {
    if (bit_count_ % 8 == 0) rbsp_.push_back(0);
    if (b) rbsp_.back() |= uint8_t(0x80 >> (bit_count_ % 8));
    ++bit_count_;
  }
  Bytes rbsp_;
  size_t bit_count_ = 0;
};

// High profile 1920x1080 with scaling lists, picture order count type 1 and bottom cropping.
Bytes handmadeHighProfileSps() {
  BitWriter w;
  w.bits(100, 8).bits(0, 8).bits(40, 8).ue(0);
  w.ue(1).ue(0).ue(0).bits(0, 1);  // 4:2:0, 8-bit, no bypass
  w.bits(1, 1);                    // seq_scaling_matrix_present_flag
  w.bits(1, 1).se(-8);             // list 0: "use default" (next scale 0 at once)
  for (int i = 1; i < 6; ++i) w.bits(0, 1);
  w.bits(1, 1);  // list 6: 64 explicit deltas
  for (int j = 0; j < 64; ++j) w.se(j % 2 ? 1 : -1);
  w.bits(0, 1);                                              // list 7 absent
  w.ue(0);                                                   // log2_max_frame_num_minus4
  w.ue(1).bits(0, 1).se(-2).se(1).ue(3).se(5).se(-5).se(0);  // pic_order_cnt_type 1
  w.ue(4).bits(0, 1);                                        // max_num_ref_frames, gaps
  w.ue(119).ue(67);                                          // 120 x 68 macroblocks
  w.bits(1, 1).bits(1, 1);                                   // frame_mbs_only, direct_8x8_inference
  w.bits(1, 1).ue(0).ue(0).ue(0).ue(4);                      // crop 4 chroma rows = 8 luma rows
  w.bits(0, 1);                                              // no VUI
  return w.nalUnit();
}

// High 4:2:2 interlaced PAL: 720x576 coded, cropped by one 2-row unit at the bottom.
Bytes handmade422InterlacedSps() {
  BitWriter w;
  w.bits(122, 8).bits(0, 8).bits(30, 8).ue(0);
  w.ue(2).ue(2).ue(2).bits(0, 1).bits(0, 1);  // 4:2:2, 10-bit, no scaling matrix
  w.ue(4).ue(2);                              // frame num, pic_order_cnt_type 2
  w.ue(3).bits(0, 1).ue(44).ue(17);           // 45 x 18 map units
  w.bits(0, 1).bits(1, 1).bits(1, 1);         // fields, MBAFF, direct 8x8
  w.bits(1, 1).ue(0).ue(0).ue(0).ue(1);
  w.bits(0, 1);
  return w.nalUnit();
}

TEST(AvcConfig, SpsFrameSizeFromRealLibx264Streams) {
  struct Case {
    const Bytes& sps;
    uint32_t width;
    uint32_t height;
  } cases[] = {
      {kSps720p, 1280, 720},         {kSps640x360, 640, 360},
      {kSps854x480, 854, 480},       {kSps320x240Baseline, 320, 240},
      {kSps854x480Yuv444, 854, 480}, {kSps1920x1080Interlaced, 1920, 1080},
  };
  for (const auto& c : cases) {
    const SpsInfo info = spsOk(c.sps);
    EXPECT_EQ(info.width, c.width);
    EXPECT_EQ(info.height, c.height);
  }
}

TEST(AvcConfig, SpsFieldsBesidesTheSize) {
  const SpsInfo high = spsOk(kSps720p);
  EXPECT_EQ(high.profile_idc, 100);
  EXPECT_EQ(high.level_idc, 31);
  EXPECT_EQ(high.chroma_format_idc, 1u);
  EXPECT_TRUE(high.frame_mbs_only);
  EXPECT_EQ(spsOk(kSps854x480Yuv444).chroma_format_idc, 3u);
  EXPECT_FALSE(spsOk(kSps1920x1080Interlaced).frame_mbs_only);
  EXPECT_EQ(spsOk(kSps320x240Baseline).profile_idc, 66);
}

TEST(AvcConfig, ScalingListsAndPictureOrderCountType1AreSkippedCorrectly) {
  const SpsInfo info = spsOk(handmadeHighProfileSps());
  EXPECT_EQ(info.width, 1920u);
  EXPECT_EQ(info.height, 1080u);
}

TEST(AvcConfig, Chroma422InterlacedCropsInUnitsOfTwoRows) {
  const SpsInfo info = spsOk(handmade422InterlacedSps());
  EXPECT_EQ(info.chroma_format_idc, 2u);
  EXPECT_EQ(info.bit_depth_luma, 10u);
  EXPECT_EQ(info.width, 720u);
  EXPECT_EQ(info.height, 574u);
}

TEST(AvcConfig, ATruncatedSpsIsAnErrorUntilItHoldsTheCroppingFields) {
  for (const Bytes* sps : {&kSps720p, &kSps1920x1080Interlaced, &kSps854x480Yuv444}) {
    const SpsInfo full = spsOk(*sps);
    bool complete = false;
    for (size_t n = 0; n <= sps->size(); ++n) {
      auto result = parseSps(std::span(*sps).first(n));
      if (const auto* info = std::get_if<SpsInfo>(&result)) {
        complete = true;  // the VUI after the cropping fields is not needed
        EXPECT_EQ(info->width, full.width) << n;
        EXPECT_EQ(info->height, full.height) << n;
      } else {
        EXPECT_FALSE(complete) << "an error after a success at " << n;
        EXPECT_LT(n, 12u) << "parsing needs only the first fields";
      }
    }
  }
}

TEST(AvcConfig, ANonSpsNalUnitIsRefused) {
  EXPECT_TRUE(std::holds_alternative<ParseError>(parseSps(fromHex("68ebe3cb22c0"))));
}

TEST(AvcConfig, AbsurdSizesAreRefused) {
  BitWriter w;
  w.bits(66, 8).bits(0, 8).bits(30, 8).ue(0).ue(0).ue(0).ue(0).ue(1).bits(0, 1);
  w.ue(5000).ue(10).bits(1, 1).bits(1, 1).bits(0, 1).bits(0, 1);
  const auto result = parseSps(w.nalUnit());
  ASSERT_TRUE(std::holds_alternative<ParseError>(result));
  EXPECT_NE(std::get<ParseError>(result).why.find("16384"), std::string::npos);
}

TEST(AvcConfig, TheDecoderConfigurationRecord) {
  const Bytes body = avcSequenceHeaderTag(kSps720p, kPps720p);
  const Bytes record(body.begin() + 5, body.end());
  const auto config = std::get<AvcConfig>(parseAvcConfig(record));
  EXPECT_EQ(config.profile_idc, 100);
  EXPECT_EQ(config.level_idc, 31);
  EXPECT_EQ(config.nalu_length_size, 4);
  ASSERT_EQ(config.sps.size(), 1u);
  EXPECT_EQ(spsOk(config.sps[0]).width, 1280u);
}

TEST(AvcConfig, RecordErrors) {
  const Bytes body = avcSequenceHeaderTag(kSps720p, kPps720p);
  Bytes record(body.begin() + 5, body.end());
  for (size_t n = 0; n < record.size(); ++n) {
    EXPECT_TRUE(std::holds_alternative<ParseError>(parseAvcConfig(std::span(record).first(n))))
        << n;
  }
  Bytes wrong_version = record;
  wrong_version[0] = 2;
  EXPECT_TRUE(std::holds_alternative<ParseError>(parseAvcConfig(wrong_version)));
  Bytes three_byte_lengths = record;
  three_byte_lengths[4] = 0xFE;
  EXPECT_TRUE(std::holds_alternative<ParseError>(parseAvcConfig(three_byte_lengths)));
}

TEST(AacConfig, CommonConfigurations) {
  const auto lc = std::get<AacConfig>(parseAacConfig(bytesOf({0x12, 0x10})));
  EXPECT_EQ(lc.object_type, 2u);
  EXPECT_EQ(lc.sample_rate_hz, 44100u);
  EXPECT_EQ(lc.channel_config, 2u);
  const auto lc48 = std::get<AacConfig>(parseAacConfig(bytesOf({0x11, 0x90})));
  EXPECT_EQ(lc48.sample_rate_hz, 48000u);
  const auto mono = std::get<AacConfig>(parseAacConfig(bytesOf({0x13, 0x08})));
  EXPECT_EQ(mono.sample_rate_hz, 24000u);
  EXPECT_EQ(mono.channel_config, 1u);
}

TEST(AacConfig, EscapedObjectTypeAndExplicitFrequency) {
  // 11111 000001 | 1111 | 000000000101011000100010 | 0010
  // object type 31 + 1 = 33, index 15 + explicit 22050 Hz, 2 channels
  const auto config =
      std::get<AacConfig>(parseAacConfig(bytesOf({0xF8, 0x3E, 0x00, 0xAC, 0x44, 0x40})));
  EXPECT_EQ(config.object_type, 33u);
  EXPECT_EQ(config.sample_rate_index, 15u);
  EXPECT_EQ(config.sample_rate_hz, 22050u);
  EXPECT_EQ(config.channel_config, 2u);
}

TEST(AacConfig, Errors) {
  EXPECT_TRUE(std::holds_alternative<ParseError>(parseAacConfig(bytesOf({0x12}))));
  EXPECT_TRUE(std::holds_alternative<ParseError>(parseAacConfig(bytesOf({0x00, 0x10}))));  // type 0
  EXPECT_TRUE(
      std::holds_alternative<ParseError>(parseAacConfig(bytesOf({0x16, 0x90}))));  // index 13
  EXPECT_TRUE(
      std::holds_alternative<ParseError>(parseAacConfig(bytesOf({0x17, 0x80}))));  // 15, cut
}

}  // namespace
}  // namespace bloomcast::ingest
