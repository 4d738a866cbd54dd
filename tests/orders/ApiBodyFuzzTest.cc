// Mutation fuzzing of the JSON request bodies the orders and catalog APIs read (order, product,
// pin, session): parseObject and the field readers either accept a value within its stated
// bounds or refuse with bad_json / invalid_argument; nothing crashes or throws; and scanObject
// (the SAX reader of order bodies) gives each body the DOM's verdict and each field its value. Run under the
// ASan+UBSan build as well. (The libFuzzer target over whole bodies is
// tests/fuzz/fuzz_api_body.cc; why both: see tests/support/Mutator.h.)
#include <gtest/gtest.h>

#include "Mutator.h"
#include "orders/ApiFields.h"

namespace bloomcast::orders {
namespace {

TEST(ApiBodyFuzz, MutatedBodiesAreAcceptedWithinBoundsOrRefusedWithACode) {
  test::Mutator mutator(
      {R"({"stream":"42","sku":"TEA-1","qty":2,"idempotency_key":"k-1"})",
       R"({"sku":"A.b_c-1","title":"东莞运动鞋","price_cents":19900,"stock":1000,"limit_per_buyer":2,"image_url":"/static/a.png"})",
       R"({"sku":"A","flash_sale_ends_at":1790000000000})", R"({"name":"小明"})"},
      {"\"", "{", "}", "[", "]", ":", ",", "null", "true", "-", "1e308", "-9223372036854775809",
       "9223372036854775807", "\\u0000", "\\ud800", "\xc0\xaf", "\xff", "好", "\"qty\":", "\"stock\":",
       "\"sku\":", "0.5", "[[[[[[[[[[[[[[[["});
  // The fields the SAX scan (decodeOrderBody's reader) is asked for; it must read them as the DOM.
  const std::string_view scan_names[] = {"stream", "sku", "qty", "idempotency_key", "title", "stock"};
  api::ScalarField scanned[std::size(scan_names)];
  int accepted = 0, refused = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string text = mutator.next();
    auto body = api::parseObject(text);
    auto scan = api::scanObject(text, scan_names, scanned);
    ASSERT_EQ(scan.has_value(), body.has_value()) << text;
    if (!body) {
      EXPECT_EQ(body.error().code, "bad_json");
      EXPECT_EQ(scan.error().message, body.error().message) << text;
      ++refused;
      continue;
    }
    ASSERT_TRUE(body->is_object());
    for (std::size_t n = 0; n < std::size(scan_names); ++n)
      ASSERT_EQ(scanned[n], api::fieldOf(*body, std::string(scan_names[n]).c_str())) << text;
    for (const char* name : {"stream", "sku", "title", "idempotency_key", "name", "image_url"}) {
      auto s = api::stringField(*body, name, false, 64);
      if (!s) {
        EXPECT_EQ(s.error().code, "invalid_argument");
        ++refused;
      } else if (*s) {
        EXPECT_LE((*s)->size(), 64u);
        api::isValidSku(**s);  // the validators take any bytes
        api::isValidIdempotencyKey(**s);
        api::isPlainText(**s);
        api::isValidImageUrl(**s);
        ++accepted;
      }
    }
    for (const char* name : {"qty", "price_cents", "stock", "limit_per_buyer", "flash_sale_ends_at"}) {
      auto v = api::intField(*body, name, false, 1, 999);
      if (!v) {
        EXPECT_EQ(v.error().code, "invalid_argument");
        EXPECT_NE(v.error().message.find(name), std::string::npos);
        ++refused;
      } else if (*v) {
        EXPECT_GE(**v, 1);
        EXPECT_LE(**v, 999);
        ++accepted;
      }
    }
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(refused, 1000);
}

}  // namespace
}  // namespace bloomcast::orders
