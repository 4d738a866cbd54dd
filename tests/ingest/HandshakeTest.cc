// Handshake: the plain answer, the digest answer in both schemas (checked with an HMAC computed
// here, not by the code under test), fallback, and framing.
#include "ingest/proto/Handshake.h"

#include <gtest/gtest.h>

#include "RtmpTestClient.h"

namespace bloomcast::ingest {
namespace {

using namespace testing;

// Feeds C0+C1 and returns S0+S1+S2.
Bytes answer(Handshake& handshake, const Bytes& c0c1) {
  auto result = handshake.feed(c0c1);
  const auto* parsed = std::get_if<Parsed<Bytes>>(&result);
  EXPECT_NE(parsed, nullptr);
  if (parsed == nullptr) return {};
  EXPECT_EQ(parsed->consumed, 1537u);
  EXPECT_EQ(parsed->value.size(), 1u + 2 * 1536);
  return parsed->value;
}

// Checks S1's digest (FMS partial key, same schema) and S2's signature (keyed by C1's digest).
void expectValidDigestAnswer(const Bytes& c0c1, const Bytes& reply, int schema) {
  const uint8_t* c1 = c0c1.data() + 1;
  const uint8_t* s1 = reply.data() + 1;
  const uint8_t* s2 = reply.data() + 1 + 1536;
  EXPECT_EQ(reply[0], 3);
  EXPECT_GE(s1[4], 3) << "a client checks S1 only when the version is >= 3";

  const size_t s1_offset = digestOffset(s1, schema);
  const auto s1_digest = digestWithout(s1, s1_offset, kGenuineFmsKey.data(), 36);
  EXPECT_TRUE(std::equal(s1_digest.begin(), s1_digest.end(), s1 + s1_offset)) << "S1 digest";

  const size_t c1_offset = digestOffset(c1, schema);
  const auto s2_key = hmacSha256(kGenuineFmsKey.data(), kGenuineFmsKey.size(),
                                 Bytes(c1 + c1_offset, c1 + c1_offset + 32));
  const auto signature = hmacSha256(s2_key.data(), s2_key.size(), Bytes(s2, s2 + 1504));
  EXPECT_TRUE(std::equal(signature.begin(), signature.end(), s2 + 1504)) << "S2 signature";
}

TEST(Handshake, PlainC1GetsZeroVersionS1AndAnS2ThatEchoesC1) {
  Handshake handshake(42);
  const Bytes c0c1 = plainC0C1();
  const Bytes reply = answer(handshake, c0c1);
  EXPECT_EQ(handshake.kind(), Handshake::Kind::kPlain);
  EXPECT_EQ(reply[0], 3);
  EXPECT_EQ(Bytes(reply.begin() + 1, reply.begin() + 9), Bytes(8, 0)) << "time 0, version 0";
  EXPECT_EQ(Bytes(reply.begin() + 1537, reply.end()), Bytes(c0c1.begin() + 1, c0c1.end()));
  EXPECT_FALSE(handshake.done());
}

TEST(Handshake, C2CompletesItAndIsNotChecked) {
  Handshake handshake(1);
  answer(handshake, plainC0C1());
  auto result = handshake.feed(Bytes(1536 + 10, 0xAB));  // C2 followed by chunk stream bytes
  const auto* parsed = std::get_if<Parsed<Bytes>>(&result);
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(parsed->consumed, 1536u);
  EXPECT_TRUE(parsed->value.empty());
  EXPECT_TRUE(handshake.done());
}

TEST(Handshake, NothingIsConsumedUntilAWholePieceIsThere) {
  Handshake handshake(1);
  const Bytes c0c1 = plainC0C1();
  for (size_t n = 0; n < c0c1.size(); ++n) {
    ASSERT_TRUE(std::holds_alternative<NeedMore>(handshake.feed(std::span(c0c1).first(n))));
  }
  answer(handshake, c0c1);
  EXPECT_TRUE(std::holds_alternative<NeedMore>(handshake.feed(Bytes(1535, 0))));
}

TEST(Handshake, AVersionOtherThan3IsRefusedAtTheFirstByte) {
  for (int version : {0, 6, 0xFF}) {
    Handshake handshake(1);
    auto result = handshake.feed(bytesOf({version}));
    ASSERT_TRUE(std::holds_alternative<ParseError>(result)) << version;
    EXPECT_NE(std::get<ParseError>(result).why.find("version"), std::string::npos);
  }
}

TEST(Handshake, DigestC1InSchema1LikeFfmpegGetsASignedAnswerInSchema1) {
  Handshake handshake(42);
  const Bytes c0c1 = digestC0C1(1);
  const Bytes reply = answer(handshake, c0c1);
  EXPECT_EQ(handshake.kind(), Handshake::Kind::kDigestSchema1);
  expectValidDigestAnswer(c0c1, reply, 1);
}

TEST(Handshake, DigestC1InSchema0GetsASignedAnswerInSchema0) {
  Handshake handshake(42);
  const Bytes c0c1 = digestC0C1(0);
  const Bytes reply = answer(handshake, c0c1);
  EXPECT_EQ(handshake.kind(), Handshake::Kind::kDigestSchema0);
  expectValidDigestAnswer(c0c1, reply, 0);
}

TEST(Handshake, DigestAnswersAreSignedForManyDifferentC1s) {
  for (uint32_t seed = 1; seed < 40; ++seed) {
    for (int schema : {0, 1}) {
      Handshake handshake(seed);
      const Bytes c0c1 = digestC0C1(schema, seed);
      expectValidDigestAnswer(c0c1, answer(handshake, c0c1), schema);
    }
  }
}

TEST(Handshake, AVersionedC1WithoutAValidDigestFallsBackToPlain) {
  Handshake handshake(42);
  Bytes c0c1 = digestC0C1(1);
  c0c1[1 + digestOffset(c0c1.data() + 1, 1)] ^= 0x01;  // break the digest
  const Bytes reply = answer(handshake, c0c1);
  EXPECT_EQ(handshake.kind(), Handshake::Kind::kPlain);
  EXPECT_EQ(Bytes(reply.begin() + 5, reply.begin() + 9), Bytes(4, 0)) << "zero version in S1";
  EXPECT_EQ(Bytes(reply.begin() + 1537, reply.end()), Bytes(c0c1.begin() + 1, c0c1.end()));
}

TEST(Handshake, TheSameSeedGivesTheSameAnswer) {
  Handshake a(5), b(5), c(6);
  const Bytes c0c1 = digestC0C1(0);
  const Bytes reply_a = answer(a, c0c1);
  EXPECT_EQ(reply_a, answer(b, c0c1));
  EXPECT_NE(reply_a, answer(c, c0c1));
}

TEST(Handshake, FeedingAfterCompletionIsAnError) {
  Handshake handshake(1);
  answer(handshake, plainC0C1());
  handshake.feed(Bytes(1536, 0));
  EXPECT_TRUE(std::holds_alternative<ParseError>(handshake.feed(Bytes(1, 3))));
}

}  // namespace
}  // namespace bloomcast::ingest
