// CodecConfig and Ladder: reading the publisher's codec configuration, and which renditions a
// stream gets.
#include "transcode/CodecConfig.h"

#include <gtest/gtest.h>

#include "MediaFixture.h"
#include "transcode/Ladder.h"

namespace bloomcast::transcode {
namespace {

// Packs bit fields MSB first, for AudioSpecificConfig vectors.
std::vector<uint8_t> bits(std::initializer_list<std::pair<uint32_t, int>> fields) {
  std::vector<uint8_t> out;
  int used = 8;
  for (auto [value, width] : fields) {
    for (int i = width - 1; i >= 0; --i) {
      if (used == 8) {
        out.push_back(0);
        used = 0;
      }
      out.back() = static_cast<uint8_t>(out.back() | (((value >> i) & 1u) << (7 - used)));
      ++used;
    }
  }
  return out;
}

TEST(CodecConfig, ProfileAndLevelComeFromTheAvcRecordOrTheAnnexBSps) {
  std::vector<uint8_t> avcc = {0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00};
  EXPECT_EQ(parseAvcHeader(avcc)->codecString(), "avc1.64001f");
  std::vector<uint8_t> annexb = {0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0x95, 0, 0, 1, 0x68, 0xce};
  EXPECT_EQ(parseAvcHeader(annexb)->codecString(), "avc1.42c01e");
  EXPECT_FALSE(parseAvcHeader(std::vector<uint8_t>{0x01, 0x64}).has_value());
  EXPECT_FALSE(parseAvcHeader(std::vector<uint8_t>{0, 0, 1, 0x68, 0xce, 0x01}).has_value()) << "no SPS";
  EXPECT_FALSE(parseAvcHeader(std::vector<uint8_t>{}).has_value());
}

TEST(CodecConfig, AacLcStereo44100) {
  auto c = parseAudioSpecificConfig(std::vector<uint8_t>{0x12, 0x10});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->object_type, 2);
  EXPECT_EQ(c->sample_rate, 44100);
  EXPECT_EQ(c->channels, 2);
  EXPECT_EQ(c->frame_samples, 1024);
  EXPECT_EQ(c->codecString(), "mp4a.40.2");
}

TEST(CodecConfig, ExplicitHeAacKeepsTheCoreRateAndSaysMp4a405) {
  // AOT 5, 24 kHz core, stereo, extension 48 kHz, core AOT 2, frameLengthFlag 0.
  auto c = parseAudioSpecificConfig(bits({{5, 5}, {6, 4}, {2, 4}, {3, 4}, {2, 5}, {0, 1}}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->object_type, 5);
  EXPECT_EQ(c->sample_rate, 24000);
  EXPECT_EQ(c->codecString(), "mp4a.40.5");
}

TEST(CodecConfig, FrameLengthFlagAndExplicitRate) {
  auto c960 = parseAudioSpecificConfig(bits({{2, 5}, {3, 4}, {2, 4}, {1, 1}, {0, 2}}));
  ASSERT_TRUE(c960.has_value());
  EXPECT_EQ(c960->frame_samples, 960);
  auto explicit_rate = parseAudioSpecificConfig(bits({{2, 5}, {15, 4}, {22050, 24}, {1, 4}, {0, 3}}));
  ASSERT_TRUE(explicit_rate.has_value());
  EXPECT_EQ(explicit_rate->sample_rate, 22050);
  EXPECT_EQ(explicit_rate->channels, 1);
}

TEST(CodecConfig, BrokenAudioConfigurationsAreErrors) {
  EXPECT_FALSE(parseAudioSpecificConfig(std::vector<uint8_t>{0x12}).has_value());
  EXPECT_FALSE(parseAudioSpecificConfig(bits({{2, 5}, {13, 4}, {2, 4}, {0, 3}})).has_value()) << "reserved rate";
  EXPECT_FALSE(parseAudioSpecificConfig(bits({{2, 5}, {15, 4}})).has_value()) << "truncated explicit rate";
  EXPECT_FALSE(parseAudioSpecificConfig(bits({{0, 5}, {4, 4}, {2, 4}, {0, 3}})).has_value()) << "object type 0";
}

TEST(CodecConfig, PictureSizeOfARealKeyframe) {
  auto packets = test::readMediaPackets(test::generateStream({.width = 320, .height = 180, .seconds = 1}));
  ASSERT_GE(packets.size(), 3u);
  const auto& config = packets[0]->type == MediaType::kVideo ? packets[0] : packets[1];
  const MediaPacket* key = nullptr;
  for (const auto& p : packets)
    if (p->type == MediaType::kVideo && !p->is_config && p->keyframe) {
      key = p.get();
      break;
    }
  ASSERT_NE(key, nullptr);
  auto size = h264PictureSize(config->data, key->data);
  ASSERT_TRUE(size.has_value()) << size.error().message;
  EXPECT_EQ(size->width, 320);
  EXPECT_EQ(size->height, 180);
  std::vector<uint8_t> garbage(64, 0x55);
  EXPECT_FALSE(h264PictureSize(garbage, garbage).has_value());
}

TEST(Ladder, ParsesTheRenditionsSettingInCostOrder) {
  auto ladder = parseLadder({"source", "360p", "720p", "480p:1000"});
  ASSERT_TRUE(ladder.has_value());
  ASSERT_EQ(ladder->rungs.size(), 3u);
  EXPECT_EQ(ladder->rungs[0].name, "720p");
  EXPECT_EQ(ladder->rungs[0].video_kbps, 2800);
  EXPECT_EQ(ladder->rungs[1].name, "480p");
  EXPECT_EQ(ladder->rungs[1].video_kbps, 1000);
  EXPECT_EQ(ladder->rungs[2].video_kbps, 700);
  EXPECT_TRUE(parseLadder({"source"})->rungs.empty());
}

TEST(Ladder, RefusesWhatItCannotEncode) {
  EXPECT_FALSE(parseLadder({"hd"}).has_value());
  EXPECT_FALSE(parseLadder({"719p"}).has_value()) << "odd height";
  EXPECT_FALSE(parseLadder({"32p"}).has_value());
  EXPECT_FALSE(parseLadder({"480p:0"}).has_value());
  EXPECT_FALSE(parseLadder({"480p:fast"}).has_value());
  EXPECT_FALSE(parseLadder({"480p", "480p:900"}).has_value()) << "twice";
}

TEST(Ladder, AStreamGetsOnlyTheRungsBelowItsHeight) {
  auto ladder = parseLadder({"source", "720p", "480p", "360p"}).value();
  auto names = [](const std::vector<RungSpec>& rungs) {
    std::vector<std::string> out;
    for (const auto& r : rungs) out.push_back(r.name);
    return out;
  };
  EXPECT_EQ(names(rungsBelow(ladder, 1080)), (std::vector<std::string>{"720p", "480p", "360p"}));
  EXPECT_EQ(names(rungsBelow(ladder, 720)), (std::vector<std::string>{"480p", "360p"}));
  EXPECT_TRUE(rungsBelow(ladder, 360).empty());
  auto size = [](int w, int h, int lines) {
    RungSize s = rungSize(w, h, lines);
    return std::to_string(s.width) + "x" + std::to_string(s.height);
  };
  EXPECT_EQ(size(1920, 1080, 720), "1280x720");
  EXPECT_EQ(size(640, 360, 240), "426x240");
  // A phone held upright: the rung's lines are its short side, as for the source.
  EXPECT_EQ(size(720, 1280, 480), "480x854");
  EXPECT_EQ(names(rungsBelow(ladder, 720)), (std::vector<std::string>{"480p", "360p"})) << "720x1280";
}

}  // namespace
}  // namespace bloomcast::transcode
