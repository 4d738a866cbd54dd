// The JSON request bodies of the orders API (orders/ApiBodies.h): what each decoder accepts, and
// which error a faulty body gets — the first fault in the order the fields are listed.
#include <gtest/gtest.h>

#include "orders/ApiBodies.h"

namespace bloomcast::orders::api {
namespace {

template <typename T>
std::string codeOf(const std::expected<T, Error>& r) {
  return r ? "accepted" : r.error().code;
}

std::string orderCode(const std::string& body) {
  OrderFields fields;
  return codeOf(decodeOrderBody(body, fields));
}

TEST(ApiBodies, AnOrderNamesAStreamASkuAQuantityAndAnIdempotencyKey) {
  std::string body = R"({"stream":"42","sku":"TEA-1","qty":2,"idempotency_key":"k-1"})";
  OrderFields fields;
  auto o = decodeOrderBody(body, fields);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->stream_id, "42");
  EXPECT_EQ(o->sku, "TEA-1");
  EXPECT_EQ(o->qty, 2);
  EXPECT_EQ(o->idempotency_key, "k-1");
  // The flat scan's strings are views into the body, not copies.
  EXPECT_TRUE(o->idempotency_key.data() >= body.data() && o->idempotency_key.data() < body.data() + body.size());

  // An escape sends the body through nlohmann's parser: then the strings are views into `fields`.
  std::string escaped = R"({"stream":"42","sku":"TEA-1","qty":2,"idempotency_key":"k\u002d1"})";
  auto e = decodeOrderBody(escaped, fields);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->stream_id, "42");
  EXPECT_EQ(e->sku, "TEA-1");
  EXPECT_EQ(e->idempotency_key, "k-1");
  EXPECT_EQ(e->idempotency_key.data(), fields[3].text.data());

  EXPECT_EQ(orderCode("[1]"), "bad_json");
  EXPECT_EQ(orderCode(R"({"sku":"A","qty":1,"idempotency_key":"k"})"), "invalid_argument");
  EXPECT_EQ(orderCode(R"({"stream":"4","sku":"A","qty":1000,"idempotency_key":"k"})"),
            "invalid_argument");
  EXPECT_EQ(orderCode(R"({"stream":"4","sku":"A","qty":1})"), "idempotency_key_required");
  EXPECT_EQ(orderCode(R"({"stream":"4","sku":"A","qty":1,"idempotency_key":"a b"})"),
            "invalid_argument");
  // The key is checked before the stream and SKU are looked at: a malformed id cannot name a stream.
  EXPECT_EQ(orderCode(R"({"stream":"04","sku":"A","qty":1,"idempotency_key":"k"})"),
            "stream_not_found");
  EXPECT_EQ(orderCode(R"({"stream":"4","sku":"A|B","qty":1,"idempotency_key":"k"})"),
            "product_not_found");
}

// decodeOrderBody reads with scanObject (SAX, no DOM): it must see what the DOM sees. Each body
// gets the same verdict from both, and each field the same type and value.
TEST(ApiBodies, TheOrderScanReadsFieldsAsTheDomDoes) {
  const std::string_view names[] = {"stream", "sku", "qty", "idempotency_key"};
  const std::string bodies[] = {
      R"({"stream":"42","sku":"TEA-1","qty":2,"idempotency_key":"k-1"})",
      R"({"qty":-3,"sku":null,"stream":true,"idempotency_key":1.5})",
      R"({"qty":18446744073709551615,"stream":[1,{"stream":"9"}],"sku":{"qty":1}})",
      R"({"qty":1e2,"x":{"stream":"7","y":[{"sku":"B"}]},"sku":"A"})",
      R"({"qty":1,"qty":"2","stream":"1","stream":null})",  // the last of a repeated field wins
      R"({"idempotency_key":"\u00e9\"\\","stream":"\ud83d\ude00"})",
      R"({})", R"([])", R"("stream")", R"(5)", R"(null)", R"([{"stream":"1"}])",
      R"({"stream":"1",})", R"({"stream":"1"} x)", R"({"stream":"1")", "", " ", "{\"a\":\"\xff\"}",
      R"({"stream":"1"}  )", R"({"s\u0074ream":"3"})",
      // The flat shape scanObject reads without nlohmann, at its edges: signs and zeros, 18 and
      // 19 digits, leading zeros, whitespace everywhere, literals, the last repeated key, and
      // the places where it must hand over (a fraction, an escape, a control byte, nesting).
      " {\t\"qty\" :\r\n-0 , \"sku\":\"A\" ,\"x\":true,\"y\":false,\"z\":null}\n",
      R"({"qty":999999999999999999,"stream":"1"})", R"({"qty":-999999999999999999})",
      R"({"qty":9999999999999999999})", R"({"qty":-9223372036854775809})", R"({"qty":0})",
      R"({"qty":01})", R"({"qty":-})", R"({"qty":1.})", R"({"qty":2E1})", R"({"qty":1x})",
      R"({"sku":"A","sku":"B","sku":7})", R"({"stream":"a\nb"})", "{\"stream\":\"a\tb\"}",
      R"({"stream":"~ !#$%&'()*+,./:;<=>?@[]^_`{|}"})", R"({"x":tru})", R"({"x":nul,"qty":1})",
      R"({"stream":"1" "sku":"2"})", R"({"stream" "1"})", R"({,})", R"({"stream":"1"}})",
      R"({"stream":{}})", R"({"stream":"1","qty":[]})", R"({"stream":"unterminated)",
  };
  for (const auto& body : bodies) {
    SCOPED_TRACE(body);
    ScalarField scanned[std::size(names)];
    auto scan = scanObject(body, names, scanned);
    auto dom = parseObject(body);
    ASSERT_EQ(scan.has_value(), dom.has_value());
    if (!dom) {
      EXPECT_EQ(scan.error().code, dom.error().code);
      EXPECT_EQ(scan.error().message, dom.error().message);
      continue;
    }
    for (std::size_t i = 0; i < std::size(names); ++i)
      EXPECT_EQ(scanned[i], fieldOf(*dom, std::string(names[i]).c_str())) << names[i];
  }
  ScalarField one[1];
  ASSERT_TRUE(scanObject(R"({"stream":"1","stream":{"a":"b"}})", std::span(names, 1), one).has_value());
  EXPECT_EQ(one[0].kind, ScalarField::Kind::Other);
}

// The flat scan reads strings 16 bytes at a time: every byte it must stop at, at every offset
// of values longer than a block, and at the body's end, reads as the DOM does.
TEST(ApiBodies, TheOrderScanStopsWhereTheDomDoesAtEveryOffsetOfALongString) {
  const std::string_view names[] = {"stream", "idempotency_key"};
  const std::string stops[] = {"\\\"", "\\\\", "\\u0041", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\"", ""};
  for (const auto& stop : stops) {
    for (std::size_t at = 0; at <= 40; ++at) {
      std::string value = std::string(at, 'k') + stop + std::string(40 - at, 'v');
      for (const std::string& body : {R"({"idempotency_key":")" + value + R"(","stream":"7"})",
                                      R"({"stream":"7","idempotency_key":")" + value + "\"}",
                                      R"({"stream":"7","idempotency_key":")" + value}) {
        SCOPED_TRACE(body);
        ScalarField scanned[std::size(names)];
        auto scan = scanObject(body, names, scanned);
        auto dom = parseObject(body);
        ASSERT_EQ(scan.has_value(), dom.has_value());
        if (!dom) continue;
        for (std::size_t i = 0; i < std::size(names); ++i)
          EXPECT_EQ(scanned[i], fieldOf(*dom, std::string(names[i]).c_str())) << names[i];
      }
    }
  }
}

TEST(ApiBodies, AnIdempotencyKeyIsRefusedForABadByteAtAnyOffset) {
  std::string key(64, 'k');
  EXPECT_TRUE(isValidIdempotencyKey(key));
  EXPECT_FALSE(isValidIdempotencyKey(key + "k")) << "65 characters";
  for (char bad : {' ', '\x01', '\x7f', '\x80', '\xff'}) {
    for (std::size_t at = 0; at < key.size(); ++at) {
      std::string k = key;
      k[at] = bad;
      EXPECT_FALSE(isValidIdempotencyKey(k)) << at;
      EXPECT_FALSE(isValidIdempotencyKey(std::string_view(k).substr(0, at + 1))) << at;
    }
  }
}

TEST(ApiBodies, FactoriesAndStreamsHavePlainTextNames) {
  EXPECT_EQ(decodeFactoryBody(R"({"name":"东莞鞋厂"})")->name, "东莞鞋厂");
  EXPECT_EQ(codeOf(decodeFactoryBody(R"({"name":"a\nb"})")), "invalid_argument");
  EXPECT_EQ(codeOf(decodeFactoryBody(R"({"name":")" + std::string(201, 'n') + "\"}")), "invalid_argument");

  auto s = decodeStreamBody(R"({"title":"春季新品"})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->title, "春季新品");
  EXPECT_FALSE(s->factory_id.has_value());
  EXPECT_EQ(decodeStreamBody(R"({"title":"t","factory_id":"7"})")->factory_id, "7");
  EXPECT_EQ(codeOf(decodeStreamBody(R"({"title":"t","factory_id":"1234567890123456789"})")),
            "invalid_argument");
  EXPECT_EQ(codeOf(decodeStreamBody(R"({"title":"\u0007"})")), "invalid_argument");

  EXPECT_EQ(decodeStreamStatusBody(R"({"status":"live"})")->status, "live");
  EXPECT_EQ(codeOf(decodeStreamStatusBody(R"({"status":"paused"})")), "invalid_argument");
}

TEST(ApiBodies, AProductIsCheckedFieldByFieldThenAsAWhole) {
  auto p = decodeProductBody(
      R"({"sku":"A.b_c-1","title":"鞋","price_cents":19900,"stock":0,"image_url":"/static/a.png"})");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->price_cents, 19900);
  EXPECT_EQ(p->stock, 0);
  EXPECT_EQ(p->limit_per_buyer, 0) << "absent: no limit";
  EXPECT_EQ(p->image_url, "/static/a.png");

  EXPECT_EQ(codeOf(decodeProductBody(R"({"sku":"A","title":"t","price_cents":0,"stock":1})")),
            "invalid_argument");
  EXPECT_EQ(codeOf(decodeProductBody(R"({"sku":"A","title":"t","price_cents":10000000001,"stock":1})")),
            "invalid_argument");
  EXPECT_EQ(codeOf(decodeProductBody(R"({"sku":"A|B","title":"t","price_cents":1,"stock":1})")),
            "invalid_argument") << "a new product's SKU is an argument, not a lookup";
  EXPECT_EQ(codeOf(decodeProductBody(
                R"({"sku":"A","title":"t","price_cents":1,"stock":1,"image_url":"javascript:x"})")),
            "invalid_argument");
}

TEST(ApiBodies, AProductEditChangesOnlyWhatItNames) {
  auto c = decodeProductChanges(R"({"price_cents":9900,"image_url":null})", "TEA-1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->price_cents, 9900);
  EXPECT_EQ(c->image_url, "") << "null clears the picture";
  EXPECT_FALSE(c->title || c->stock || c->limit_per_buyer);

  EXPECT_EQ(codeOf(decodeProductChanges("{}", "TEA-1")), "invalid_argument");
  EXPECT_EQ(codeOf(decodeProductChanges(R"({"stock":1})", "A|B")), "product_not_found");
  // A faulty body is reported before the path's SKU, and the SKU before "nothing to change".
  EXPECT_EQ(codeOf(decodeProductChanges(R"({"stock":-1})", "A|B")), "invalid_argument");
  EXPECT_EQ(codeOf(decodeProductChanges("{}", "A|B")), "product_not_found");
}

TEST(ApiBodies, APinsSaleEndsWithinAWeekOfNow) {
  constexpr int64_t now_ms = 1'790'000'000'000;
  auto p = decodePinBody(R"({"sku":"TEA-1"})", now_ms);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->ends_at_ms, 0) << "no flash-sale end";
  std::string week = std::to_string(now_ms + kMaxFlashSaleMs);
  EXPECT_EQ(decodePinBody(R"({"sku":"A","flash_sale_ends_at":)" + week + "}", now_ms)->ends_at_ms,
            now_ms + kMaxFlashSaleMs);
  EXPECT_EQ(codeOf(decodePinBody(R"({"sku":"A","flash_sale_ends_at":)" + std::to_string(now_ms) + "}",
                                 now_ms)),
            "invalid_argument") << "the end must lie ahead";
  EXPECT_EQ(codeOf(decodePinBody(R"({"sku":"A|B"})", now_ms)), "product_not_found");
}

TEST(ApiBodies, ASessionMayNameItsViewer) {
  EXPECT_EQ(decodeSessionBody("")->name, "") << "no body: a name is picked";
  EXPECT_EQ(decodeSessionBody("{}")->name, "");
  EXPECT_EQ(decodeSessionBody(R"({"name":"小明"})")->name, "小明");
  EXPECT_EQ(codeOf(decodeSessionBody(R"({"name":")" + std::string(33, 'a') + "\"}")), "invalid_argument");
  EXPECT_EQ(codeOf(decodeSessionBody(R"({"name":"a\u2028b"})")), "invalid_argument");
  EXPECT_EQ(codeOf(decodeSessionBody("{")), "bad_json");
}

}  // namespace
}  // namespace bloomcast::orders::api
