// AMF0: the wire form of each type, round trips, and what malformed or hostile input gets.
#include "ingest/proto/Amf0.h"

#include <gtest/gtest.h>

#include "RtmpTestClient.h"

namespace bloomcast::ingest {
namespace {

using testing::Bytes;
using testing::bytesOf;

Bytes encode(const Amf0& value) {
  Bytes out;
  encodeAmf0(value, out);
  return out;
}

Amf0 decodeOk(const Bytes& bytes) {
  auto result = decodeAmf0(bytes);
  const auto* parsed = std::get_if<Parsed<Amf0>>(&result);
  EXPECT_NE(parsed, nullptr);
  if (parsed == nullptr) return Amf0::undefined();
  EXPECT_EQ(parsed->consumed, bytes.size());
  return parsed->value;
}

std::string decodeError(const Bytes& bytes, const Amf0Limits& limits = {}) {
  auto result = decodeAmf0(bytes, limits);
  const auto* error = std::get_if<ParseError>(&result);
  return error ? error->why : "(no error)";
}

Amf0 nested(int depth) {
  Amf0 value = Amf0::number(1);
  for (int i = 1; i < depth; ++i) value = Amf0::object({{"k", value}});
  return value;
}

TEST(Amf0, NumberIsMarkerZeroAndBigEndianDouble) {
  EXPECT_EQ(encode(Amf0::number(1.0)), bytesOf({0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(decodeOk(bytesOf({0x00, 0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18})).asNumber(),
            3.141592653589793);
}

TEST(Amf0, BooleanStringNullUndefined) {
  EXPECT_EQ(encode(Amf0::boolean(true)), bytesOf({0x01, 0x01}));
  EXPECT_EQ(encode(Amf0::string("ab")), bytesOf({0x02, 0x00, 0x02, 'a', 'b'}));
  EXPECT_EQ(encode(Amf0::null()), bytesOf({0x05}));
  EXPECT_EQ(encode(Amf0::undefined()), bytesOf({0x06}));
  EXPECT_TRUE(decodeOk(bytesOf({0x01, 0x07})).asBoolean());  // any non-zero byte is true
}

TEST(Amf0, ObjectIsKeyValuePairsThenEndMarker) {
  EXPECT_EQ(encode(Amf0::object({{"a", Amf0::boolean(true)}})),
            bytesOf({0x03, 0x00, 0x01, 'a', 0x01, 0x01, 0x00, 0x00, 0x09}));
}

TEST(Amf0, EcmaArrayCarriesAnAdvisoryCountThatDecodingIgnores) {
  const Bytes wrong_count = bytesOf({0x08, 0, 0, 0, 9, 0x00, 0x01, 'w', 0x05, 0x00, 0x00, 0x09});
  const Amf0 value = decodeOk(wrong_count);
  EXPECT_EQ(value.type(), Amf0::Type::kEcmaArray);
  ASSERT_EQ(value.properties().size(), 1u);
  EXPECT_TRUE(value.find("w")->isNull());
}

TEST(Amf0, StrictArrayDateAndLongString) {
  EXPECT_EQ(encode(Amf0::strictArray({Amf0::null(), Amf0::boolean(false)})),
            bytesOf({0x0A, 0, 0, 0, 2, 0x05, 0x01, 0x00}));
  EXPECT_EQ(encode(Amf0::date(0, 0)), bytesOf({0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode(Amf0::longString("x")), bytesOf({0x0C, 0, 0, 0, 1, 'x'}));
}

TEST(Amf0, StringsLongerThan65535BytesAreEncodedAsLongStrings) {
  const Bytes encoded = encode(Amf0::string(std::string(70000, 'x')));
  EXPECT_EQ(encoded[0], 0x0C);
  EXPECT_EQ(encoded.size(), 1u + 4 + 70000);
}

TEST(Amf0, EveryTypeRoundTrips) {
  const Amf0 value = Amf0::object({
      {"number", Amf0::number(-0.5)},
      {"bool", Amf0::boolean(true)},
      {"string", Amf0::string("rtmp://host/live")},
      {"object", Amf0::object({{"inner", Amf0::number(2)}})},
      {"null", Amf0::null()},
      {"undefined", Amf0::undefined()},
      {"ecma", Amf0::ecmaArray({{"width", Amf0::number(1280)}, {"height", Amf0::number(720)}})},
      {"strict", Amf0::strictArray({Amf0::number(1), Amf0::string("two")})},
      {"date", Amf0::date(1700000000000.0, -60)},
      {"long", Amf0::longString("long string")},
  });
  EXPECT_EQ(decodeOk(encode(value)), value);
}

TEST(Amf0, PropertiesKeepWireOrderAndFindReturnsTheFirst) {
  const Amf0 value = decodeOk(encode(
      Amf0::object({{"b", Amf0::number(1)}, {"a", Amf0::number(2)}, {"b", Amf0::number(3)}})));
  ASSERT_EQ(value.properties().size(), 3u);
  EXPECT_EQ(value.properties()[0].first, "b");
  EXPECT_EQ(value.find("b")->asNumber(), 1);
  EXPECT_EQ(value.find("missing"), nullptr);
  EXPECT_EQ(value.stringAt("a"), "");  // a number, not a string
}

TEST(Amf0, ASequenceDecodesValuesBackToBack) {
  const std::vector<Amf0> command = {Amf0::string("connect"), Amf0::number(1),
                                     Amf0::object({{"app", Amf0::string("live")}})};
  auto decoded = decodeAmf0Sequence(encodeAmf0Sequence(command));
  ASSERT_TRUE(std::holds_alternative<std::vector<Amf0>>(decoded));
  EXPECT_EQ(std::get<std::vector<Amf0>>(decoded), command);
}

TEST(Amf0, EveryTruncationOfAValueNeedsMore) {
  const Bytes full = encode(Amf0::object({{"s", Amf0::string("abc")},
                                          {"a", Amf0::strictArray({Amf0::number(1)})},
                                          {"e", Amf0::ecmaArray({{"d", Amf0::date(1, 2)}})},
                                          {"l", Amf0::longString("xyz")}}));
  for (size_t n = 0; n < full.size(); ++n) {
    const Bytes prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(std::holds_alternative<NeedMore>(decodeAmf0(prefix))) << "prefix " << n;
  }
}

TEST(Amf0, ATruncatedSequenceIsAnErrorBecauseTheMessageIsComplete) {
  Bytes bytes = encodeAmf0Sequence(std::vector<Amf0>{Amf0::string("publish"), Amf0::number(0)});
  bytes.pop_back();
  EXPECT_TRUE(std::holds_alternative<ParseError>(decodeAmf0Sequence(bytes)));
}

TEST(Amf0, NestingIsLimitedTo16Levels) {
  EXPECT_EQ(decodeOk(encode(nested(16))), nested(16));
  EXPECT_NE(decodeError(encode(nested(17))).find("nesting"), std::string::npos);
}

TEST(Amf0, DeepStrictArraysAreLimitedToo) {
  Amf0 value = Amf0::null();
  for (int i = 0; i < 40; ++i) value = Amf0::strictArray({value});
  EXPECT_NE(decodeError(encode(value)).find("nesting"), std::string::npos);
}

TEST(Amf0, StringLengthIsCheckedBeforeAnythingIsAllocated) {
  // A long string claiming 4 GiB, with 3 bytes behind it.
  EXPECT_NE(decodeError(bytesOf({0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 'a', 'b', 'c'})).find("exceeds"),
            std::string::npos);
  Amf0Limits small;
  small.max_string_bytes = 2;
  EXPECT_FALSE(decodeError(bytesOf({0x02, 0x00, 0x03, 'a', 'b', 'c'}), small).empty());
}

TEST(Amf0, AStrictArrayCountBeyondTheValueBudgetIsRefusedUpFront) {
  EXPECT_NE(decodeError(bytesOf({0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05})).find("strict array"),
            std::string::npos);
}

TEST(Amf0, TheNumberOfValuesPerMessageIsBounded) {
  const Bytes five_thousand_nulls(5000, 0x05);
  auto decoded = decodeAmf0Sequence(five_thousand_nulls);
  ASSERT_TRUE(std::holds_alternative<ParseError>(decoded));
  EXPECT_NE(std::get<ParseError>(decoded).why.find("values"), std::string::npos);
}

TEST(Amf0, UnsupportedMarkersAreErrors) {
  for (int marker : {0x04, 0x07, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x42}) {
    EXPECT_TRUE(std::holds_alternative<ParseError>(decodeAmf0(bytesOf({marker, 0, 0, 0, 0}))))
        << marker;
  }
}

TEST(Amf0, ObjectEndOutsideAnObjectAndEmptyKeysAreErrors) {
  EXPECT_NE(decodeError(bytesOf({0x09})).find("outside"), std::string::npos);
  EXPECT_NE(decodeError(bytesOf({0x03, 0x00, 0x00, 0x05})).find("empty name"), std::string::npos);
}

}  // namespace
}  // namespace bloomcast::ingest
