// ChunkEncoder: exact bytes for the simple cases, and round trips through ChunkDecoder.
#include <gtest/gtest.h>

#include "RtmpTestClient.h"
#include "ingest/proto/ChunkEncoder.h"

namespace bloomcast::ingest {
namespace {

using namespace testing;

Bytes encode(const ChunkEncoder& encoder, const RtmpMessage& message) {
  Bytes out;
  encoder.encode(message, out);
  return out;
}

TEST(ChunkEncoder, ASmallMessageIsOneType0Chunk) {
  ChunkEncoder encoder;
  EXPECT_EQ(
      encode(encoder, RtmpMessage{3, 20, 1, 0x010203, bytesOf({0xAA, 0xBB})}),
      bytesOf({0x03, 0x01, 0x02, 0x03, 0x00, 0x00, 0x02, 20, 0x01, 0x00, 0x00, 0x00, 0xAA, 0xBB}));
}

TEST(ChunkEncoder, ALongMessageContinuesInType3ChunksOfTheChunkSize) {
  ChunkEncoder encoder;
  encoder.setChunkSize(100);
  const Bytes out = encode(encoder, RtmpMessage{4, 8, 1, 0, Bytes(250, 0x11)});
  ASSERT_EQ(out.size(), 12u + 100 + 1 + 100 + 1 + 50);
  EXPECT_EQ(out[12 + 100], 0xC4) << "fmt 3, csid 4";
  EXPECT_EQ(out[12 + 100 + 1 + 100], 0xC4);
}

TEST(ChunkEncoder, LargeTimestampsUseTheExtendedFieldInEveryChunk) {
  ChunkEncoder encoder;
  encoder.setChunkSize(10);
  const Bytes out = encode(encoder, RtmpMessage{4, 8, 1, 0x01020304, Bytes(15, 0)});
  EXPECT_EQ(Bytes(out.begin() + 1, out.begin() + 4), bytesOf({0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(Bytes(out.begin() + 12, out.begin() + 16), bytesOf({1, 2, 3, 4}));
  EXPECT_EQ(Bytes(out.begin() + 26, out.begin() + 31), bytesOf({0xC4, 1, 2, 3, 4}));
}

TEST(ChunkEncoder, WideChunkStreamIdsUseTwoAndThreeByteBasicHeaders) {
  ChunkEncoder encoder;
  EXPECT_EQ(encode(encoder, RtmpMessage{64, 8, 0, 0, {}})[0], 0x00);
  EXPECT_EQ(encode(encoder, RtmpMessage{64, 8, 0, 0, {}})[1], 0x00);
  const Bytes wide = encode(encoder, RtmpMessage{65599, 8, 0, 0, {}});
  EXPECT_EQ(Bytes(wide.begin(), wide.begin() + 3), bytesOf({0x01, 0xFF, 0xFF}));
}

TEST(ChunkEncoder, ChunkSizeIsClampedToTheValidRange) {
  ChunkEncoder encoder;
  encoder.setChunkSize(0);
  EXPECT_EQ(encoder.chunkSize(), 1u);
  encoder.setChunkSize(0x7FFFFFFF);
  EXPECT_EQ(encoder.chunkSize(), 0xFFFFFFu);
}

TEST(ChunkEncoder, WhatItEncodesTheDecoderReadsBack) {
  for (uint32_t chunk_size : {1u, 7u, 128u, 4096u}) {
    ChunkEncoder encoder;
    ChunkDecoder decoder;
    Bytes stream;
    if (chunk_size != 128) {
      encoder.encode(RtmpMessage{2, RtmpType::kSetChunkSize, 0, 0,
                                 bytesOf({0, int(chunk_size >> 16), int(chunk_size >> 8 & 0xFF),
                                          int(chunk_size & 0xFF)})},
                     stream);
      encoder.setChunkSize(chunk_size);
    }
    std::vector<RtmpMessage> sent;
    uint32_t csid = 3;
    for (size_t length : {0u, 1u, 127u, 128u, 129u, 1000u, 9000u}) {
      for (uint32_t ts : {0u, 1000u, 0xFFFFFEu, 0xFFFFFFu, 0xFFFFFFFFu}) {
        sent.push_back(RtmpMessage{csid, 9, 1, ts, pseudoRandom(length, csid)});
        encoder.encode(sent.back(), stream);
        csid = csid % 60 + 3;
      }
    }
    auto result = decoder.feed(stream);
    ASSERT_TRUE(std::holds_alternative<std::vector<RtmpMessage>>(result)) << chunk_size;
    auto received = std::get<std::vector<RtmpMessage>>(result);
    if (chunk_size != 128) received.erase(received.begin());
    EXPECT_EQ(received, sent) << "chunk size " << chunk_size;
  }
}

}  // namespace
}  // namespace bloomcast::ingest
