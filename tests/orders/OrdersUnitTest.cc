// The pure pieces of orders/: secrets and their comparison, session tokens, rate limiting,
// order ids and records, JSON field validation and rendering money.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "orders/ApiSupport.h"
#include "orders/Catalog.h"
#include "infra/Crypto.h"
#include "orders/Keys.h"
#include "orders/OrderService.h"
#include "orders/OrdersApi.h"
#include "orders/RateLimiter.h"
#include "orders/Sessions.h"
#include "orders/SharedResult.h"

namespace bloomcast::orders {
namespace {

TEST(Crypto, RandomHexHasTheRequestedEntropyAndDiffers) {
  auto a = randomHex(16), b = randomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Crypto, Sha256MatchesTheStandardVector) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacMatchesRfc4231TestCase2) {
  HmacSha256 h("Jefe");
  auto mac = h.mac("what do ya want for nothing?");
  std::string hex;
  for (unsigned char c : mac) hex += fmt::format("{:02x}", c);
  EXPECT_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // The state is reusable.
  EXPECT_EQ(h.mac("what do ya want for nothing?"), mac);
}

TEST(Crypto, HmacWithAKeyLongerThanABlockIsHashedFirst) {
  // RFC 4231 test case 6.
  HmacSha256 h(std::string(131, '\xaa'));
  auto mac = h.mac("Test Using Larger Than Block-Size Key - Hash Key First");
  std::string hex;
  for (unsigned char c : mac) hex += fmt::format("{:02x}", c);
  EXPECT_EQ(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, Base64UrlRoundTripsAndRefusesOtherAlphabets) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    std::string back;
    ASSERT_TRUE(base64UrlDecode(base64UrlEncode(s), back));
    EXPECT_EQ(back, s);
  }
  // RFC 4648's vectors without padding, and the two characters of the URL alphabet.
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},           {"f", "Zg"},         {"fo", "Zm8"},           {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff\xbf", "-_-_"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64UrlEncode(bytes), text);
    std::string decoded = "left over";
    ASSERT_TRUE(base64UrlDecode(text, decoded)) << text;
    EXPECT_EQ(decoded, bytes);
  }
  std::string appended = "sig.";
  base64UrlEncode("foobar", appended);
  EXPECT_EQ(appended, "sig.Zm9vYmFy") << "encoding appends to what the string holds";
  std::string out;
  EXPECT_FALSE(base64UrlDecode("a+b/", out));
  EXPECT_FALSE(base64UrlDecode("a", out));
  EXPECT_FALSE(base64UrlDecode("Zh", out)) << "non-zero leftover bits: a second encoding of 'f'";
}

TEST(Crypto, ConstantTimeEqualsComparesContentAndLength) {
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(constantTimeEquals("", ""));
}

TEST(Sessions, AnIssuedTokenVerifiesWithItsIdentity) {
  Sessions s("admin-secret");
  std::string token = s.issue(Session{"0123456789abcdef", "小明", 1000});
  auto v = s.verify(token, 1000);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->user_id, "0123456789abcdef");
  EXPECT_EQ(v->name, "小明");
  EXPECT_EQ(v->masked_name_json, "\"小**\"");
  auto again = s.verify(token, 1000);  // remembered
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->masked_name_json, "\"小**\"");
}

TEST(Sessions, AnyTamperingIsRefused) {
  Sessions s("admin-secret");
  std::string token = s.issue(Session{"0123456789abcdef", "bob", 1000});
  ASSERT_TRUE(s.verify(token, 1000).has_value()) << "remembered from here on";
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(s.verify(t, 1000).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(s.verify(token + "x", 1000).has_value());
  EXPECT_FALSE(s.verify(token.substr(0, token.size() - 1), 1000).has_value());
  EXPECT_FALSE(s.verify("", 1000).has_value());
  EXPECT_FALSE(s.verify("no-dots-at-all", 1000).has_value());
  // Another deployment (another admin token) signs differently.
  EXPECT_FALSE(Sessions("other").verify(token, 1000).has_value());
}

// Tokens verified lately are remembered; with more tokens than slots, each still verifies to
// its own identity (evicted ones are verified again), and the same token seen again is answered
// the same.
TEST(Sessions, ManyMoreTokensThanRememberedEachVerifyToTheirOwnIdentity) {
  Sessions s("admin-secret");
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < Sessions::kCacheSlots + 1000; ++i) {
    char uid[17];
    std::snprintf(uid, sizeof uid, "%016zx", i);
    tokens.push_back(s.issue(Session{uid, "买家" + std::to_string(i), 1000}));
  }
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      auto v = s.verify(tokens[i], 1000);
      ASSERT_TRUE(v.has_value()) << "round " << round << ", token " << i;
      char uid[17];
      std::snprintf(uid, sizeof uid, "%016zx", i);
      ASSERT_EQ(v->user_id, uid);
      ASSERT_EQ(v->name, "买家" + std::to_string(i));
      ASSERT_EQ(v->masked_name_json, "\"买**\"");
    }
  }
}

TEST(Sessions, TokensAgeOut) {
  Sessions s("k", 3600);
  std::string token = s.issue(Session{"0123456789abcdef", "bob", 1000});
  EXPECT_TRUE(s.verify(token, 1000 + 3600).has_value());
  EXPECT_FALSE(s.verify(token, 1000 + 3601).has_value()) << "a remembered token ages out too";
  EXPECT_FALSE(s.verify(token, 1000 - 301).has_value()) << "issued in the future";
}

TEST(ViewerName, NamesAreValidatedAndMasked) {
  EXPECT_TRUE(isValidViewerName("张三"));
  EXPECT_TRUE(isValidViewerName(std::string(32, 'a')));
  EXPECT_FALSE(isValidViewerName(std::string(33, 'a')));
  EXPECT_FALSE(isValidViewerName(""));
  EXPECT_FALSE(isValidViewerName("a\nb"));
  EXPECT_FALSE(isValidViewerName("\xc0\xaf"));  // overlong '/'
  EXPECT_FALSE(isValidViewerName("\xed\xa0\x80"));  // surrogate
  EXPECT_EQ(maskedViewerName("张三丰"), "张**");
  EXPECT_EQ(maskedViewerName("bob"), "b**");
}

TEST(ViewerName, TheMaskedNameIsQuotedAsJsonWouldQuoteIt) {
  for (std::string name : {"张三", "\"quoted\"", "\\back", "a", "😀 smile", "Ωmega", "", "\x01x"})
    EXPECT_EQ(maskedViewerNameJson(name), nlohmann::json(maskedViewerName(name)).dump()) << name;
  EXPECT_EQ(maskedViewerNameJson("张三"), "\"张**\"");
}

TEST(RateLimiter, BurstThenRefillPerSecond) {
  RateLimiter rl(RateLimit{2, 3});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.allow("k", 1000));
  EXPECT_FALSE(rl.allow("k", 1000));
  EXPECT_TRUE(rl.allow("other", 1000)) << "keys are independent";
  EXPECT_FALSE(rl.allow("k", 1400));
  EXPECT_TRUE(rl.allow("k", 1500)) << "2 per second: one token after 500 ms";
  EXPECT_FALSE(rl.allow("k", 1500));
}

TEST(RateLimiter, IdleBucketsAreForgottenAndMemoryIsBounded) {
  RateLimiter rl(RateLimit{1, 1}, 2);
  EXPECT_TRUE(rl.allow("a", 0));
  EXPECT_TRUE(rl.allow("b", 0));
  EXPECT_EQ(rl.size(), 2u);
  EXPECT_TRUE(rl.allow("c", 0)) << "full of busy buckets: fail open";
  EXPECT_EQ(rl.size(), 2u);
  rl.sweep(5000);
  EXPECT_EQ(rl.size(), 0u);
}

TEST(Keys, ThePlaceKeysAreTheSchemasKeys) {
  std::string buffer = "stale";
  auto views = keys::placeKeys("1234", "TEA-1", buffer);
  const std::string expected[] = {keys::meta("1234"),    keys::product("1234", "TEA-1"),
                                  keys::stock("1234"),   keys::orders("1234"),
                                  keys::stats("1234"),   keys::leaderboard("1234"),
                                  keys::events("1234"),  keys::room("1234")};
  ASSERT_EQ(views.size(), std::size(expected));
  for (std::size_t i = 0; i < views.size(); ++i) EXPECT_EQ(views[i], expected[i]) << i;
}

TEST(Keys, EveryKeyOfAStreamSharesItsHashTag) {
  for (auto key : {keys::meta("7"), keys::stock("7"), keys::product("7", "A-1"), keys::orders("7"),
                   keys::stats("7"), keys::leaderboard("7"),
                   keys::events("7"), keys::timeline("7"), keys::room("7")})
    EXPECT_TRUE(key.starts_with("bc:{s:7}:")) << key;
  EXPECT_TRUE(keys::isValidId("123"));
  EXPECT_FALSE(keys::isValidId("0"));
  EXPECT_FALSE(keys::isValidId("01"));
  EXPECT_FALSE(keys::isValidId("1}x"));
  EXPECT_FALSE(keys::isValidId(""));
  EXPECT_FALSE(keys::isValidId(std::string(19, '1')));
}

TEST(Catalog, SecretsNameTheirOwnerAndHaveAFixedShape) {
  std::string hex48(48, 'a');
  EXPECT_EQ(Catalog::idInSecret("sk_12_" + hex48, "sk_"), "12");
  EXPECT_EQ(Catalog::idInSecret("ft_3_" + hex48, "ft_"), "3");
  EXPECT_EQ(Catalog::idInSecret("ft_3_" + hex48, "sk_"), "");
  EXPECT_EQ(Catalog::idInSecret("sk_12_" + hex48.substr(1), "sk_"), "");
  EXPECT_EQ(Catalog::idInSecret("sk_12_" + std::string(48, 'G'), "sk_"), "");
  EXPECT_EQ(Catalog::idInSecret("sk_x_" + hex48, "sk_"), "");
}

TEST(OrderService, OrderIdsAndRecordsParse) {
  auto id = OrderService::parseOrderId("12-345");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->first, "12");
  EXPECT_EQ(id->second, 345);
  EXPECT_FALSE(OrderService::parseOrderId("12").has_value());
  EXPECT_FALSE(OrderService::parseOrderId("12-").has_value());
  EXPECT_FALSE(OrderService::parseOrderId("a-1").has_value());
  EXPECT_FALSE(OrderService::parseOrderId("1-0").has_value());

  auto o = OrderService::parseRecord("12", 3, "paid|SKU-1|2|3998|0123456789abcdef|1000|2000");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->id, "12-3");
  EXPECT_EQ(o->status, "paid");
  EXPECT_EQ(o->sku, "SKU-1");
  EXPECT_EQ(o->qty, 2);
  EXPECT_EQ(o->amount_cents, 3998);
  EXPECT_EQ(o->buyer_id, "0123456789abcdef");
  EXPECT_EQ(o->created_ms, 1000);
  EXPECT_EQ(o->updated_ms, 2000);
  EXPECT_FALSE(OrderService::parseRecord("12", 3, "paid|SKU-1|2|3998|b|1000").has_value());
  EXPECT_FALSE(OrderService::parseRecord("12", 3, "paid|SKU-1|x|3998|b|1000|1").has_value());
}

TEST(OrdersApi, CsvLinesRenderCentsAndYuanWithoutFloatingPoint) {
  Order o;
  o.id = "5-9";
  o.stream_id = "5";
  o.sku = "TEA";
  o.qty = 3;
  o.amount_cents = 100000000005;
  o.status = "created";
  o.buyer_id = "0123456789abcdef";
  o.created_ms = 1714564800123;
  o.updated_ms = 1714564800123;
  std::string line;
  OrdersApi::appendCsv(line, o);
  EXPECT_EQ(line,
            "5-9,5,TEA,3,100000000005,1000000000.05,created,0123456789abcdef,"
            "2024-05-01T12:00:00.123Z,2024-05-01T12:00:00.123Z\n");
  EXPECT_EQ(api::yuan(0), "0.00");
  EXPECT_EQ(api::yuan(7), "0.07");
  EXPECT_EQ(api::yuan(-150), "-1.50");
}

TEST(ApiSupport, FieldsAreCheckedForTypeAndRange) {
  auto j = nlohmann::json::parse(R"({"s":"x","n":5,"f":1.5,"b":true,"big":18446744073709551615,"neg":-1})");
  EXPECT_EQ(**api::stringField(j, "s", true, 10), "x");
  EXPECT_FALSE(api::stringField(j, "n", true, 10).has_value());
  EXPECT_FALSE(api::stringField(j, "missing", true, 10).has_value());
  EXPECT_FALSE(api::stringField(j, "missing", false, 10)->has_value());
  EXPECT_EQ(**api::intField(j, "n", true, 1, 10), 5);
  EXPECT_FALSE(api::intField(j, "n", true, 6, 10).has_value());
  EXPECT_FALSE(api::intField(j, "f", true, 0, 10).has_value());
  EXPECT_FALSE(api::intField(j, "b", true, 0, 10).has_value());
  EXPECT_FALSE(api::intField(j, "big", true, 0, 1000).has_value());
  EXPECT_FALSE(api::intField(j, "neg", true, 0, 1000).has_value());
  EXPECT_FALSE(api::parseObject("[1]").has_value());
  EXPECT_FALSE(api::parseObject("{").has_value());
  EXPECT_EQ(api::parseObject("{").error().code, "bad_json");
  EXPECT_TRUE(api::isValidIdempotencyKey(std::string(64, 'k')));
  EXPECT_FALSE(api::isValidIdempotencyKey(std::string(65, 'k')));
  EXPECT_FALSE(api::isValidIdempotencyKey("a b"));
  EXPECT_TRUE(api::isValidSku("A-1_b.2"));
  EXPECT_FALSE(api::isValidSku("a|b"));
  EXPECT_FALSE(api::isValidImageUrl("javascript:alert(1)"));
  EXPECT_FALSE(api::isValidImageUrl("//evil.example/x.png"));
  EXPECT_TRUE(api::isValidImageUrl("https://cdn.example/x.png"));
}

TEST(SharedResults, KeysAreBoundedAndAFullMapOfBusyKeysComputesUnshared) {
  SharedResults<int> shared(2);
  std::vector<Callback<int>> pending;  // computations under way, finished by the test
  int computed = 0;
  auto compute = [&](Callback<int> done) {
    ++computed;
    pending.push_back(std::move(done));
  };
  std::vector<int> answers;
  auto answer = [&](std::expected<SharedResults<int>::Ptr, Error> v) { answers.push_back(v ? **v : -1); };
  const uint64_t kFresh = 3'600'000;

  shared.get("a", kFresh, 0, compute, answer);
  shared.get("a", kFresh, 0, compute, answer);  // waits for the computation under way
  shared.get("b", kFresh, 0, compute, answer);
  EXPECT_EQ(computed, 2);
  EXPECT_EQ(shared.size(), 2u);
  // Full, and both keys busy: a third key is computed for itself and not kept.
  shared.get("c", kFresh, 0, compute, answer);
  EXPECT_EQ(computed, 3);
  EXPECT_EQ(shared.size(), 2u);
  pending[2](7);
  EXPECT_EQ(answers, std::vector<int>{7});
  pending[0](1);
  EXPECT_EQ(answers, (std::vector<int>{7, 1, 1}));
  pending[1](std::unexpected(Error{"stream_not_found", "no stream b"}));
  EXPECT_EQ(answers, (std::vector<int>{7, 1, 1, -1}));
  pending.clear();

  // "a" holds a fresh answer; "b" failed, so it holds nothing: a new key takes b's place.
  shared.get("a", kFresh, 0, compute, answer);
  EXPECT_EQ(answers.back(), 1);
  shared.get("d", kFresh, 0, compute, answer);
  EXPECT_EQ(computed, 4);
  EXPECT_EQ(shared.size(), 2u);
  pending[0](4);
  EXPECT_EQ(answers.back(), 4);
  shared.get("d", kFresh, 0, compute, answer);
  EXPECT_EQ(computed, 4) << "d is kept";
  // Another generation: computed again.
  shared.get("d", kFresh, 1, compute, answer);
  EXPECT_EQ(computed, 5);
}

}  // namespace
}  // namespace bloomcast::orders
