// ChunkDecoder: header formats, timestamps, control messages it applies itself, limits, and
// independence from how the bytes are split.
#include <gtest/gtest.h>

#include "RtmpTestClient.h"
#include "ingest/proto/ChunkDecoder.h"

namespace bloomcast::ingest {
namespace {

using namespace testing;

Bytes u24(uint32_t v) { return bytesOf({int(v >> 16 & 0xFF), int(v >> 8 & 0xFF), int(v & 0xFF)}); }
Bytes u32(uint32_t v) {
  return bytesOf({int(v >> 24), int(v >> 16 & 0xFF), int(v >> 8 & 0xFF), int(v & 0xFF)});
}
Bytes basic(int fmt, uint32_t csid) {
  if (csid < 64) return bytesOf({fmt << 6 | int(csid)});
  if (csid < 320) return bytesOf({fmt << 6, int(csid - 64)});
  return bytesOf({fmt << 6 | 1, int((csid - 64) & 0xFF), int((csid - 64) >> 8)});
}
// fmt 0: timestamp, length, type, stream id (little-endian)
Bytes fmt0(uint32_t csid, uint32_t ts, uint32_t length, int type, uint32_t msid = 1) {
  return concat({basic(0, csid), u24(ts), u24(length), bytesOf({type}),
                 bytesOf({int(msid & 0xFF), int(msid >> 8 & 0xFF), int(msid >> 16 & 0xFF),
                          int(msid >> 24)})});
}
Bytes fmt1(uint32_t csid, uint32_t delta, uint32_t length, int type) {
  return concat({basic(1, csid), u24(delta), u24(length), bytesOf({type})});
}
Bytes fmt2(uint32_t csid, uint32_t delta) { return concat({basic(2, csid), u24(delta)}); }
Bytes fmt3(uint32_t csid) { return basic(3, csid); }
Bytes filled(size_t n, uint8_t value) { return Bytes(n, value); }

std::vector<RtmpMessage> decodeOk(ChunkDecoder& decoder, const Bytes& bytes) {
  auto result = decoder.feed(bytes);
  if (auto* error = std::get_if<ParseError>(&result)) {
    ADD_FAILURE() << error->why;
    return {};
  }
  return std::get<std::vector<RtmpMessage>>(result);
}

std::vector<RtmpMessage> decodeAll(const Bytes& bytes, ChunkDecoderLimits limits = {}) {
  ChunkDecoder decoder(limits);
  return decodeOk(decoder, bytes);
}

std::string decodeError(const Bytes& bytes, ChunkDecoderLimits limits = {}) {
  ChunkDecoder decoder(limits);
  auto result = decoder.feed(bytes);
  const auto* error = std::get_if<ParseError>(&result);
  return error ? error->why : "(no error)";
}

RtmpMessage msg(uint32_t csid, uint8_t type, uint32_t msid, uint32_t ts, Bytes payload) {
  return RtmpMessage{csid, type, msid, ts, std::move(payload)};
}

// A stream exercising most of the format: interleaving, every fmt, a chunk size change,
// extended timestamps on a multi-chunk message, and a 3-byte basic header.
Bytes richStream() {
  return concat({
      fmt0(4, 100, 200, 8),
      filled(128, 'a'),  // audio, first chunk of 200
      fmt0(6, 100, 10, 9),
      filled(10, 'v'),  // video, whole
      fmt3(4),
      filled(72, 'a'),  // audio, rest
      fmt1(6, 40, 3, 9),
      filled(3, 'w'),  // video +40
      fmt2(6, 40),
      filled(3, 'x'),  // video +40
      fmt3(6),
      filled(3, 'y'),  // video +40 again
      fmt0(2, 0, 4, 1, 0),
      u32(300),  // Set Chunk Size 300
      fmt0(5, 0xFFFFFF, 400, 9),
      u32(0x01000000),
      filled(300, 'e'),
      fmt3(5),
      u32(0x01000000),
      filled(100, 'e'),  // extended ts repeated in fmt 3
      fmt0(1000, 7, 2, 20, 0),
      bytesOf({'h', 'i'}),  // csid 1000: 3-byte basic header
  });
}

std::vector<RtmpMessage> richMessages() {
  return {msg(6, 9, 1, 100, filled(10, 'v')),         msg(4, 8, 1, 100, filled(200, 'a')),
          msg(6, 9, 1, 140, filled(3, 'w')),          msg(6, 9, 1, 180, filled(3, 'x')),
          msg(6, 9, 1, 220, filled(3, 'y')),          msg(2, 1, 0, 0, u32(300)),
          msg(5, 9, 1, 0x01000000, filled(400, 'e')), msg(1000, 20, 0, 7, bytesOf({'h', 'i'}))};
}

TEST(ChunkDecoder, AMessageInOneType0Chunk) {
  EXPECT_EQ(decodeAll(concat({fmt0(3, 1234, 5, 20, 0), bytesOf({1, 2, 3, 4, 5})})),
            std::vector<RtmpMessage>{msg(3, 20, 0, 1234, bytesOf({1, 2, 3, 4, 5}))});
}

TEST(ChunkDecoder, MessageStreamIdIsLittleEndian) {
  const auto messages = decodeAll(concat({fmt0(3, 0, 1, 20, 0x04030201), bytesOf({0})}));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].msg_stream_id, 0x04030201u);
}

TEST(ChunkDecoder, AMessageLongerThanTheChunkSizeContinuesInType3Chunks) {
  const Bytes payload = pseudoRandom(300, 9);
  const Bytes stream = concat({fmt0(4, 0, 300, 8), Bytes(payload.begin(), payload.begin() + 128),
                               fmt3(4), Bytes(payload.begin() + 128, payload.begin() + 256),
                               fmt3(4), Bytes(payload.begin() + 256, payload.end())});
  EXPECT_EQ(decodeAll(stream), std::vector<RtmpMessage>{msg(4, 8, 1, 0, payload)});
}

TEST(ChunkDecoder, InterleavedChunkStreamsEachReassembleTheirOwnMessage) {
  const Bytes stream =
      concat({fmt0(4, 10, 256, 8), filled(128, 'A'), fmt0(6, 20, 256, 9), filled(128, 'V'), fmt3(4),
              filled(128, 'A'), fmt3(6), filled(128, 'V')});
  EXPECT_EQ(decodeAll(stream), (std::vector<RtmpMessage>{msg(4, 8, 1, 10, filled(256, 'A')),
                                                         msg(6, 9, 1, 20, filled(256, 'V'))}));
}

TEST(ChunkDecoder, Type1And2CarryDeltasAndType3RepeatsTheLastDelta) {
  const Bytes stream =
      concat({fmt0(6, 1000, 1, 9), bytesOf({0}), fmt1(6, 33, 2, 9), bytesOf({1, 1}), fmt2(6, 34),
              bytesOf({2, 2}), fmt3(6), bytesOf({3, 3})});
  const auto messages = decodeAll(stream);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0].timestamp_ms, 1000u);
  EXPECT_EQ(messages[1].timestamp_ms, 1033u);
  EXPECT_EQ(messages[2].timestamp_ms, 1067u);
  EXPECT_EQ(messages[3].timestamp_ms, 1101u);
  EXPECT_EQ(messages[3].payload, bytesOf({3, 3})) << "type 3 keeps length and type";
  EXPECT_EQ(messages[3].type_id, 9);
}

TEST(ChunkDecoder, Type3AfterType0UsesTheAbsoluteTimestampAsTheDeltaLikeFfmpeg) {
  // ffmpeg sends "ts 40 (fmt 0), ts 80 (fmt 3)" when the delta equals the previous field.
  const Bytes stream = concat({fmt0(6, 40, 1, 9), bytesOf({0}), fmt3(6), bytesOf({1})});
  const auto messages = decodeAll(stream);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].timestamp_ms, 80u);
}

TEST(ChunkDecoder, ExtendedTimestampInType0AndItsType3Continuations) {
  const Bytes stream = concat({fmt0(4, 0xFFFFFF, 200, 8), u32(0x12345678), filled(128, 1), fmt3(4),
                               u32(0x12345678), filled(72, 1)});
  EXPECT_EQ(decodeAll(stream), std::vector<RtmpMessage>{msg(4, 8, 1, 0x12345678, filled(200, 1))});
}

TEST(ChunkDecoder, ExtendedDeltaInType1AndInANewMessageOfType3) {
  const Bytes stream =
      concat({fmt0(4, 5, 1, 8), bytesOf({0}), fmt1(4, 0xFFFFFF, 1, 8), u32(0x01000000),
              bytesOf({1}), fmt3(4), u32(0x01000000), bytesOf({2})});
  const auto messages = decodeAll(stream);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1].timestamp_ms, 0x01000005u);
  EXPECT_EQ(messages[2].timestamp_ms, 0x02000005u);
}

TEST(ChunkDecoder, TimestampsWrapAt32Bits) {
  const Bytes stream =
      concat({fmt0(4, 0xFFFFFF, 1, 8), u32(0xFFFFFFF0), bytesOf({0}), fmt2(4, 0x20), bytesOf({1})});
  const auto messages = decodeAll(stream);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].timestamp_ms, 0x10u);
}

TEST(ChunkDecoder, TwoAndThreeByteBasicHeadersReachCsid64To65599) {
  for (uint32_t csid : {64u, 319u, 320u, 65599u}) {
    const auto messages = decodeAll(concat({fmt0(csid, 0, 1, 8), bytesOf({7})}));
    ASSERT_EQ(messages.size(), 1u) << csid;
    EXPECT_EQ(messages[0].csid, csid);
  }
}

TEST(ChunkDecoder, SetChunkSizeChangesHowLaterChunksAreCut) {
  ChunkDecoder decoder;
  const auto messages = decodeOk(
      decoder, concat({fmt0(2, 0, 4, 1, 0), u32(4096), fmt0(6, 0, 3000, 9), filled(3000, 9)}));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].payload.size(), 3000u);
  EXPECT_EQ(decoder.chunkSize(), 4096u);
}

TEST(ChunkDecoder, SetChunkSizeOutside1To16MiBIsAnError) {
  EXPECT_NE(decodeError(concat({fmt0(2, 0, 4, 1, 0), u32(0)})).find("Set Chunk Size 0"),
            std::string::npos);
  EXPECT_NE(decodeError(concat({fmt0(2, 0, 4, 1, 0), u32(0x01000000)})).find("Set Chunk Size"),
            std::string::npos);
  EXPECT_NE(decodeError(concat({fmt0(2, 0, 4, 1, 0), u32(0x80000080)})).find("Set Chunk Size"),
            std::string::npos);
  EXPECT_NE(decodeError(concat({fmt0(2, 0, 2, 1, 0), bytesOf({0, 1})})).find("needs 4"),
            std::string::npos);
  EXPECT_EQ(decodeAll(concat({fmt0(2, 0, 4, 1, 0), u32(0xFFFFFF)})).size(), 1u);
}

TEST(ChunkDecoder, AChunkSizeOfOneStillWorks) {
  Bytes stream = concat({fmt0(2, 0, 4, 1, 0), u32(1), fmt0(4, 9, 3, 8), bytesOf({'a'}), fmt3(4),
                         bytesOf({'b'}), fmt3(4), bytesOf({'c'})});
  const auto messages = decodeAll(stream);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].payload, bytesOf({'a', 'b', 'c'}));
}

TEST(ChunkDecoder, AbortDropsThePartialMessageOfThatChunkStream) {
  const Bytes stream = concat({fmt0(4, 0, 200, 8), filled(128, 'x'),  // partial
                               fmt0(2, 0, 4, 2, 0), u32(4),           // Abort csid 4
                               fmt0(4, 50, 2, 8), bytesOf({'o', 'k'})});
  const auto messages = decodeAll(stream);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].type_id, RtmpType::kAbort);
  EXPECT_EQ(messages[1], msg(4, 8, 1, 50, bytesOf({'o', 'k'})));
}

TEST(ChunkDecoder, AbortOfAnUnknownChunkStreamIsHarmless) {
  EXPECT_EQ(decodeAll(concat({fmt0(2, 0, 4, 2, 0), u32(77)})).size(), 1u);
}

TEST(ChunkDecoder, AZeroLengthMessageIsDeliveredEmpty) {
  EXPECT_EQ(decodeAll(fmt0(3, 1, 0, 20, 0)), std::vector<RtmpMessage>{msg(3, 20, 0, 1, {})});
}

TEST(ChunkDecoder, AMessageAboveTheLengthLimitIsRefusedAtItsHeader) {
  ChunkDecoderLimits limits;
  limits.max_message_bytes = 1000;
  EXPECT_NE(decodeError(fmt0(4, 0, 1001, 8), limits).find("exceeds"), std::string::npos);
  EXPECT_NE(decodeError(fmt0(4, 0, 0xFFFFFF, 8)).find("exceeds"), std::string::npos);
}

TEST(ChunkDecoder, TooManyChunkStreamsIsAnError) {
  Bytes stream;
  for (uint32_t csid = 2; csid < 2 + 64; ++csid) stream = concat({stream, fmt0(csid, 0, 0, 8)});
  EXPECT_EQ(decodeAll(stream).size(), 64u);
  stream = concat({stream, fmt0(100, 0, 0, 8)});
  EXPECT_NE(decodeError(stream).find("chunk streams"), std::string::npos);
}

TEST(ChunkDecoder, BufferedPartialMessagesAreBounded) {
  ChunkDecoderLimits limits;
  limits.max_buffered_bytes = 300;
  const Bytes stream = concat({fmt0(4, 0, 1000, 8), filled(128, 0), fmt0(5, 0, 1000, 8),
                               filled(128, 0), fmt0(6, 0, 1000, 8)});
  EXPECT_NE(decodeError(stream, limits).find("buffered"), std::string::npos);
}

TEST(ChunkDecoder, ANewHeaderInsideAnIncompleteMessageIsAnError) {
  const Bytes stream = concat({fmt0(4, 0, 200, 8), filled(128, 0), fmt1(4, 1, 10, 8)});
  EXPECT_NE(decodeError(stream).find("incomplete message"), std::string::npos);
}

TEST(ChunkDecoder, AnErrorIsFinal) {
  ChunkDecoder decoder;
  EXPECT_TRUE(
      std::holds_alternative<ParseError>(decoder.feed(concat({fmt0(2, 0, 4, 1, 0), u32(0)}))));
  EXPECT_TRUE(
      std::holds_alternative<ParseError>(decoder.feed(concat({fmt0(3, 0, 1, 20), bytesOf({0})}))));
}

TEST(ChunkDecoder, TheRichStreamDecodesAsExpected) {
  EXPECT_EQ(decodeAll(richStream()), richMessages());
}

TEST(ChunkDecoder, OneByteAtATimeGivesTheSameMessages) {
  const Bytes stream = richStream();
  ChunkDecoder decoder;
  std::vector<RtmpMessage> messages;
  for (uint8_t b : stream) {
    for (auto& m : decodeOk(decoder, Bytes{b})) messages.push_back(std::move(m));
  }
  EXPECT_EQ(messages, richMessages());
}

TEST(ChunkDecoder, EverySplitPointGivesTheSameMessages) {
  const Bytes stream = richStream();
  for (size_t split = 0; split <= stream.size(); ++split) {
    ChunkDecoder decoder;
    auto messages = decodeOk(decoder, Bytes(stream.begin(), stream.begin() + ptrdiff_t(split)));
    for (auto& m : decodeOk(decoder, Bytes(stream.begin() + ptrdiff_t(split), stream.end()))) {
      messages.push_back(std::move(m));
    }
    ASSERT_EQ(messages, richMessages()) << "split at " << split;
  }
}

}  // namespace
}  // namespace bloomcast::ingest
