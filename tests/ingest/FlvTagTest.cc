// FlvTag: turning RTMP audio/video message bodies into media packets.
#include <gtest/gtest.h>

#include "RtmpTestClient.h"
#include "ingest/proto/AvcConfig.h"
#include "ingest/proto/FlvTag.h"

namespace bloomcast::ingest {
namespace {

using namespace testing;

// The tag's data is a view into `body`: callers keep the body alive while they use it.
MediaTag parseOk(MediaKind kind, uint32_t ts, const Bytes& body, uint8_t length_size = 4) {
  auto result = parseFlvTag(kind, ts, body, length_size);
  if (const auto* error = std::get_if<ParseError>(&result)) ADD_FAILURE() << error->why;
  if (const auto* unsupported = std::get_if<Unsupported>(&result)) {
    ADD_FAILURE() << unsupported->what;
  }
  return std::holds_alternative<MediaTag>(result) ? std::get<MediaTag>(result) : MediaTag{};
}

std::string unsupported(MediaKind kind, const Bytes& body) {
  auto result = parseFlvTag(kind, 0, body);
  const auto* u = std::get_if<Unsupported>(&result);
  return u ? u->what : "(supported or error)";
}

std::string error(MediaKind kind, const Bytes& body, uint8_t length_size = 4) {
  auto result = parseFlvTag(kind, 0, body, length_size);
  const auto* e = std::get_if<ParseError>(&result);
  return e ? e->why : "(no error)";
}

TEST(FlvTag, AnAvcSequenceHeaderIsAKeyFrameConfigCarryingTheRecord) {
  const Bytes body = avcSequenceHeaderTag(kSps720p, kPps720p);
  const MediaTag tag = parseOk(MediaKind::kVideo, 0, body);
  EXPECT_EQ(tag.kind, MediaKind::kVideo);
  EXPECT_EQ(tag.codec, MediaCodec::kH264);
  EXPECT_TRUE(tag.is_config);
  EXPECT_TRUE(tag.keyframe);
  EXPECT_EQ(Bytes(tag.data.begin(), tag.data.end()), Bytes(body.begin() + 5, body.end()));
  const auto config = std::get<AvcConfig>(parseAvcConfig(tag.data));
  EXPECT_EQ(config.sps, std::vector<Bytes>{kSps720p});
  EXPECT_EQ(config.pps, std::vector<Bytes>{kPps720p});
}

TEST(FlvTag, ANaluPacketHasPtsEqualDtsPlusCompositionTime) {
  const MediaTag key = parseOk(MediaKind::kVideo, 1000, avcFrameTag(true, 66, Bytes(20, 0x65)));
  EXPECT_TRUE(key.keyframe);
  EXPECT_FALSE(key.is_config);
  EXPECT_EQ(key.dts_ms, 1000);
  EXPECT_EQ(key.pts_ms, 1066);
  EXPECT_EQ(key.data.size(), 24u) << "length prefix + NAL unit";

  const MediaTag inter = parseOk(MediaKind::kVideo, 1000, avcFrameTag(false, -33, Bytes(5, 0x41)));
  EXPECT_FALSE(inter.keyframe);
  EXPECT_EQ(inter.pts_ms, 967) << "composition time is signed 24-bit";
}

TEST(FlvTag, TimestampsBeyond31BitsStayPositive) {
  EXPECT_EQ(parseOk(MediaKind::kVideo, 0xFFFFFFF0, avcFrameTag(true, 0, Bytes(1, 0x65))).dts_ms,
            int64_t{0xFFFFFFF0});
}

TEST(FlvTag, GeneratedKeyFramesCountAsKeyFrames) {
  Bytes body = avcFrameTag(true, 0, Bytes(3, 0x65));
  body[0] = 0x47;
  EXPECT_TRUE(parseOk(MediaKind::kVideo, 0, body).keyframe);
}

TEST(FlvTag, SeveralNalUnitsAndShorterLengthPrefixes) {
  const Bytes two_units = concat({bytesOf({0x17, 1, 0, 0, 0}), bytesOf({0, 0, 0, 2, 0x09, 0xF0}),
                                  bytesOf({0, 0, 0, 3, 0x65, 1, 2})});
  EXPECT_EQ(parseOk(MediaKind::kVideo, 0, two_units).data.size(), 13u);
  const Bytes short_prefix = concat({bytesOf({0x27, 1, 0, 0, 0}), bytesOf({0, 2, 0x41, 1})});
  EXPECT_EQ(parseOk(MediaKind::kVideo, 0, short_prefix, 2).data.size(), 4u);
}

TEST(FlvTag, NalUnitLengthsMustFitTheBody) {
  EXPECT_NE(
      error(MediaKind::kVideo, concat({bytesOf({0x17, 1, 0, 0, 0}), bytesOf({0, 0, 0, 9, 1})}))
          .find("NAL unit lengths"),
      std::string::npos);
  EXPECT_NE(error(MediaKind::kVideo, concat({bytesOf({0x17, 1, 0, 0, 0}), bytesOf({0, 0, 1})}))
                .find("NAL unit lengths"),
            std::string::npos);
  EXPECT_NE(error(MediaKind::kVideo, avcFrameTag(true, 0, Bytes(3, 1)), 3).find("length size"),
            std::string::npos);
}

TEST(FlvTag, EndOfSequenceHasNoData) {
  const MediaTag tag = parseOk(MediaKind::kVideo, 5, bytesOf({0x17, 2, 0, 0, 0}));
  EXPECT_TRUE(tag.is_end_of_sequence);
  EXPECT_TRUE(tag.data.empty());
}

TEST(FlvTag, OtherVideoCodecsAndCommandFramesAreUnsupported) {
  EXPECT_NE(unsupported(MediaKind::kVideo, bytesOf({0x22, 0, 0})).find("H.263"), std::string::npos);
  EXPECT_NE(unsupported(MediaKind::kVideo, bytesOf({0x1C, 0, 0, 0, 0})).find("HEVC"),
            std::string::npos);
  EXPECT_NE(unsupported(MediaKind::kVideo, bytesOf({0x57, 0})).find("command"), std::string::npos);
  EXPECT_NE(unsupported(MediaKind::kVideo, bytesOf({0x90, 'h', 'v', 'c', '1'})).find("Enhanced"),
            std::string::npos);
}

TEST(FlvTag, MalformedVideoTagsAreErrors) {
  EXPECT_NE(error(MediaKind::kVideo, {}).find("empty"), std::string::npos);
  EXPECT_NE(error(MediaKind::kVideo, bytesOf({0x17, 1, 0})).find("3 bytes"), std::string::npos);
  EXPECT_NE(error(MediaKind::kVideo, bytesOf({0x17, 3, 0, 0, 0})).find("AVCPacketType 3"),
            std::string::npos);
  EXPECT_NE(error(MediaKind::kVideo, bytesOf({0x67, 1, 0, 0, 0})).find("frame type 6"),
            std::string::npos);
  EXPECT_NE(error(MediaKind::kVideo, bytesOf({0x17, 0, 0, 0, 0, 2, 0x64})).find("AVC config"),
            std::string::npos);
}

TEST(FlvTag, AnAacSequenceHeaderCarriesTheAudioSpecificConfig) {
  const Bytes body = aacSequenceHeaderTag();
  const MediaTag tag = parseOk(MediaKind::kAudio, 0, body);
  EXPECT_EQ(tag.codec, MediaCodec::kAac);
  EXPECT_TRUE(tag.is_config);
  EXPECT_EQ(Bytes(tag.data.begin(), tag.data.end()), bytesOf({0x12, 0x10}));
}

TEST(FlvTag, AnAacFrameIsTheRawFrameWithPtsEqualDts) {
  const Bytes body = aacFrameTag(bytesOf({1, 2, 3}));
  const MediaTag tag = parseOk(MediaKind::kAudio, 23, body);
  EXPECT_FALSE(tag.is_config);
  EXPECT_TRUE(tag.keyframe);
  EXPECT_EQ(tag.pts_ms, 23);
  EXPECT_EQ(Bytes(tag.data.begin(), tag.data.end()), bytesOf({1, 2, 3}));
}

TEST(FlvTag, OtherAudioFormatsAreUnsupported) {
  EXPECT_NE(unsupported(MediaKind::kAudio, bytesOf({0x2F, 0xFF})).find("MP3"), std::string::npos);
  EXPECT_NE(unsupported(MediaKind::kAudio, bytesOf({0xB6})).find("Speex"), std::string::npos);
}

TEST(FlvTag, MalformedAudioTagsAreErrors) {
  EXPECT_NE(error(MediaKind::kAudio, {}).find("empty"), std::string::npos);
  EXPECT_NE(error(MediaKind::kAudio, bytesOf({0xAF})).find("1 byte"), std::string::npos);
  EXPECT_NE(error(MediaKind::kAudio, bytesOf({0xAF, 0, 0x12})).find("AAC config"),
            std::string::npos);
  EXPECT_NE(error(MediaKind::kAudio, bytesOf({0xAF, 2, 0})).find("AACPacketType 2"),
            std::string::npos);
}

}  // namespace
}  // namespace bloomcast::ingest
