// The catalog over HTTP with a real Redis: factories, streams and stream keys, products, pins,
// viewer sessions — and who may do what.
#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "OrdersFixture.h"
#include "orders/Catalog.h"
#include "orders/Keys.h"

namespace bloomcast::orders::test {
namespace {

class Catalog : public OrdersFixture {
 protected:
  void SetUp() override { start(); }

  std::expected<std::string, Error> authorizePublish(const std::string& key) {
    std::promise<std::expected<std::string, Error>> p;
    lt_.sync([&] { module_->authorizePublish(key, [&](auto r) { p.set_value(std::move(r)); }); });
    return p.get_future().get();
  }
};

TEST_F(Catalog, OrganizerCreatesFactoriesAndFactoriesCreateTheirStreams) {
  EXPECT_EQ(call("POST", "/api/factories", {{"name", "x"}}, "").status, 401);
  auto f = createFactory();
  EXPECT_TRUE(f.secret.starts_with("ft_" + f.id + "_"));
  EXPECT_EQ(call("POST", "/api/factories", {{"name", "x"}}, f.secret).status, 403)
      << "a factory cannot create factories";

  auto r = call("POST", "/api/streams", {{"title", "直播一"}}, f.secret);
  ASSERT_EQ(r.status, 201) << r.body;
  auto s = nlohmann::json::parse(r.body);
  std::string key = s["stream_key"];
  EXPECT_TRUE(key.starts_with("sk_"));
  EXPECT_GE(key.size(), 3 + 1 + 1 + 32u) << "at least 128 random bits";
  EXPECT_EQ(s["rtmp_url"].get<std::string>().rfind("/live/" + key), s["rtmp_url"].get<std::string>().size() - key.size() - 6);
  EXPECT_EQ(s["hls_url"], base_ + "/hls/" + s["id"].get<std::string>() + "/master.m3u8");
  EXPECT_EQ(s["status"], "offline");

  auto other = createFactory("二厂");
  EXPECT_EQ(call("POST", "/api/streams", {{"title", "t"}, {"factory_id", f.id}}, other.secret).status, 403);
  EXPECT_EQ(call("POST", "/api/streams", {{"title", "t"}, {"factory_id", "999"}}, kAdmin).status, 404);
  EXPECT_EQ(call("POST", "/api/streams", {{"title", "t"}, {"factory_id", f.id}}, kAdmin).status, 201);
  EXPECT_EQ(call("POST", "/api/streams", {{"title", "t"}}, newSession()).status, 403);
  auto forged = f.secret;
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(call("POST", "/api/streams", {{"title", "t"}}, forged).status, 401);
}

TEST_F(Catalog, StreamKeysNeverAppearInViewerAnswersOrInRedis) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "TEA-1", 1990, 10);
  for (const std::string& path : std::vector<std::string>{"/api/streams", "/api/streams/" + s.id,
                                                          "/api/streams/" + s.id + "/products",
                                                          "/api/gmv", "/api/gmv?stream=" + s.id}) {
    auto r = get(path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body.find(s.secret), std::string::npos) << path;
    EXPECT_EQ(r.body.find("stream_key"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("key_sha256"), std::string::npos) << path;
  }
  // A Redis dump holds only hashes of the secrets.
  for (const auto& key : {keys::meta(s.id), keys::factory(f.id)}) {
    for (const auto& secret : {s.secret, f.secret}) {
      auto all = redis_server_->command({"EVAL",
                                         "local t = redis.call('HGETALL', KEYS[1]) "
                                         "for _, v in ipairs(t) do if v == ARGV[1] then return 1 end end "
                                         "return 0",
                                         "1", key, secret});
      EXPECT_EQ(all, "0") << key;
    }
  }
  EXPECT_EQ(redis_server_->command({"HGET", keys::meta(s.id), "key_sha256"}).size(), 64u);
}

TEST_F(Catalog, IngestChecksStreamKeysAndARotatedKeyReplacesTheOld) {
  auto f = createFactory();
  auto s = createStream(f);
  auto ok = authorizePublish(s.secret);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(*ok, s.id);
  std::string wrong = s.secret;
  wrong[wrong.size() - 1] = wrong.back() == '0' ? '1' : '0';
  EXPECT_EQ(authorizePublish(wrong).error().code, "forbidden");
  EXPECT_EQ(authorizePublish("").error().code, "forbidden");
  EXPECT_EQ(authorizePublish("sk_999_" + std::string(48, 'a')).error().code, "forbidden");

  auto other = createFactory("别家");
  EXPECT_EQ(call("POST", "/api/streams/" + s.id + "/key", nullptr, other.secret).status, 403);
  auto r = call("POST", "/api/streams/" + s.id + "/key", nullptr, f.secret);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string rotated = nlohmann::json::parse(r.body)["stream_key"];
  EXPECT_NE(rotated, s.secret);
  EXPECT_EQ(authorizePublish(s.secret).error().code, "forbidden");
  EXPECT_EQ(*authorizePublish(rotated), s.id);
}

TEST_F(Catalog, IngestSetsTheStatusAndAnEndedStreamTakesNoOrders) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "A", 100, 10);
  lt_.sync([&] { module_->setStreamStatus(s.id, "live"); });
  ASSERT_TRUE(waitUntil([&] { return nlohmann::json::parse(get("/api/streams/" + s.id).body)["status"] == "live"; }));
  auto buyer = newSession();
  EXPECT_EQ(order(buyer, s.id, "A", 1, "k1").status, 201);
  auto ended = call("POST", "/api/streams/" + s.id + "/status", {{"status", "ended"}}, f.secret);
  ASSERT_EQ(ended.status, 200) << ended.body;
  auto refused = order(buyer, s.id, "A", 1, "k2");
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(nlohmann::json::parse(refused.body)["error"], "stream_ended");
  EXPECT_EQ(order(buyer, s.id, "A", 1, "k1").status, 200) << "a replay still gets its first answer";
  EXPECT_EQ(stockOf(s.id, "A"), 9);
}

TEST_F(Catalog, ProductsAreValidatedAndListedWithStockLeft) {
  auto f = createFactory();
  auto s = createStream(f);
  std::string path = "/api/streams/" + s.id + "/products";
  nlohmann::json good = {{"sku", "CUP-01"}, {"title", "青花瓷杯"}, {"price_cents", 8800},
                         {"stock", 50}, {"limit_per_buyer", 2}, {"image_url", "https://img.example/cup.png"}};
  ASSERT_EQ(call("POST", path, good, f.secret).status, 201);
  EXPECT_EQ(call("POST", path, good, f.secret).status, 409) << "SKU taken";
  EXPECT_EQ(call("POST", path, good, createFactory("other").secret).status, 403);
  EXPECT_EQ(call("POST", path, good, newSession()).status, 403);
  EXPECT_EQ(call("POST", "/api/streams/999/products", good, kAdmin).status, 404);
  for (auto [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"sku", "bad sku"}, {"sku", ""}, {"sku", 5}, {"price_cents", 0}, {"price_cents", 1.5},
           {"price_cents", "100"}, {"stock", -1}, {"limit_per_buyer", -2}, {"title", ""},
           {"image_url", "javascript:alert(1)"}}) {
    auto bad = good;
    bad["sku"] = "NEW";
    bad[field] = value;
    auto r = call("POST", path, bad, f.secret);
    EXPECT_EQ(r.status, 400) << field << "=" << value.dump() << " " << r.body;
  }
  auto list = nlohmann::json::parse(get(path).body)["products"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["sku"], "CUP-01");
  EXPECT_EQ(list[0]["title"], "青花瓷杯");
  EXPECT_EQ(list[0]["price_cents"], 8800);
  EXPECT_EQ(list[0]["stock"], 50);
  EXPECT_EQ(list[0]["limit_per_buyer"], 2);
  EXPECT_EQ(list[0]["image_url"], "https://img.example/cup.png");
}

TEST_F(Catalog, APinIsPublishedToTheRoomAndRecordedOnTheTimeline) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "TEA", 1990, 5, 0, "明前龙井");
  std::mutex mu;
  std::vector<std::string> frames;
  lt_.sync([&] {
    redis_->subscribe(keys::room(s.id), [&](const std::string&, const std::string& payload) {
      std::lock_guard lock(mu);
      if (payload != "ping") frames.push_back(payload);
    });
  });
  // PUBLISH answers the number of receivers: 1 once our subscription is in place.
  ASSERT_TRUE(waitUntil([&] { return redis_server_->command({"PUBLISH", keys::room(s.id), "ping"}) == "1"; }));
  int64_t ends = api::systemClockMs() + 600000;
  auto r = call("POST", "/api/streams/" + s.id + "/pin", {{"sku", "TEA"}, {"flash_sale_ends_at", ends}}, f.secret);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["pinned"]["sku"], "TEA");
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return !frames.empty(); }));
  auto frame = nlohmann::json::parse(frames[0]);
  EXPECT_EQ(frame["type"], "pin");
  EXPECT_EQ(frame["product"]["sku"], "TEA");
  EXPECT_EQ(frame["product"]["title"], "明前龙井");
  EXPECT_EQ(frame["product"]["price_cents"], 1990);
  EXPECT_EQ(frame["product"]["stock"], 5);
  EXPECT_EQ(frame["product"]["flash_sale_ends_at"], ends);
  EXPECT_GT(frame["ts"].get<int64_t>(), 0);
  EXPECT_EQ(redis_server_->command({"XLEN", keys::timeline(s.id)}), "1");
  auto stream = nlohmann::json::parse(get("/api/streams/" + s.id).body);
  EXPECT_EQ(stream["pinned"]["sku"], "TEA");
  EXPECT_EQ(stream["pinned"]["flash_sale_ends_at"], ends);

  EXPECT_EQ(call("POST", "/api/streams/" + s.id + "/pin", {{"sku", "NOPE"}}, f.secret).status, 404);
  EXPECT_EQ(call("POST", "/api/streams/" + s.id + "/pin", {{"sku", "TEA"}, {"flash_sale_ends_at", 5}}, f.secret).status, 400)
      << "an end in the past";
  EXPECT_EQ(call("POST", "/api/streams/" + s.id + "/pin", {{"sku", "TEA"}}, newSession()).status, 403);
  lt_.sync([&] { redis_->unsubscribe(keys::room(s.id)); });
}

TEST_F(Catalog, SessionsAreSignedAndForgeriesAreRefused) {
  auto r = call("POST", "/api/sessions", {{"name", "王小二"}}, "");
  ASSERT_EQ(r.status, 201);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["user"], "王小二");
  EXPECT_EQ(j["user_id"].get<std::string>().size(), 16u);
  auto anonymous = call("POST", "/api/sessions", nullptr, "");
  ASSERT_EQ(anonymous.status, 201);
  EXPECT_FALSE(nlohmann::json::parse(anonymous.body)["user"].get<std::string>().empty());
  EXPECT_EQ(call("POST", "/api/sessions", {{"name", std::string(40, 'x')}}, "").status, 400);
  EXPECT_EQ(call("POST", "/api/sessions", {{"name", 7}}, "").status, 400);

  std::string token = j["token"];
  auto session = lt_.sync([&] { return module_->verifySession(token); });
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->name, "王小二");
  // Change the name inside the token: the signature no longer holds.
  auto dot = token.find('.');
  std::string forged = token.substr(0, dot + 1) + "5bCP5piO" + token.substr(token.find('.', dot + 1));
  EXPECT_FALSE(lt_.sync([&] { return module_->verifySession(forged); }).has_value());
}

TEST_F(Catalog, ChatCanAskWhetherATokenIsTheStreamsHost) {
  auto f = createFactory();
  auto s = createStream(f);
  auto other = createFactory("二厂");
  auto ask = [&](const std::string& token) {
    std::promise<std::expected<bool, Error>> p;
    lt_.sync([&] { module_->isStreamHost(token, s.id, [&](auto r) { p.set_value(r); }); });
    return p.get_future().get();
  };
  EXPECT_TRUE(*ask(f.secret));
  EXPECT_FALSE(*ask(other.secret));
  EXPECT_FALSE(*ask(newSession()));
  EXPECT_FALSE(*ask("ft_1_" + std::string(48, '0')));
}

}  // namespace
}  // namespace bloomcast::orders::test
