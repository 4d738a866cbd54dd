// The catalog over HTTP with a real Redis: factories, streams and stream keys, products, pins,
// viewer sessions — and who may do what.
#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "OrdersFixture.h"
#include "orders/ApiSupport.h"
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

  // An ended stream takes no publisher (a live one is cut off at its next re-check: ingest's
  // PublisherRevocation tests) until it is reopened.
  ASSERT_EQ(call("POST", "/api/streams/" + s.id + "/status", {{"status", "ended"}}, f.secret).status, 200);
  EXPECT_EQ(authorizePublish(rotated).error().code, "stream_ended");
  EXPECT_EQ(authorizePublish(s.secret).error().code, "forbidden") << "a wrong key is told nothing more";
  ASSERT_EQ(call("POST", "/api/streams/" + s.id + "/status", {{"status", "offline"}}, f.secret).status, 200);
  EXPECT_EQ(*authorizePublish(rotated), s.id);
}

TEST_F(Catalog, IngestSetsTheStatusAndAnEndedStreamStaysEndedAndTakesNoOrders) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "A", 100, 10);
  lt_.sync([&] { module_->setPublishStatus(s.id, true); });
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

  // The host's encoder stops and starts again after the show: ingest's offline and live leave
  // the stream ended. Each status change is one command on the module's Redis connection, which
  // runs commands in order, so the GET sent after them sees whatever they did.
  for (bool live : {false, true}) {
    lt_.sync([&] { module_->setPublishStatus(s.id, live); });
    EXPECT_EQ(nlohmann::json::parse(get("/api/streams/" + s.id).body)["status"], "ended");
  }
  EXPECT_EQ(order(buyer, s.id, "A", 1, "k3").status, 409);
  EXPECT_EQ(stockOf(s.id, "A"), 9);

  // The organizer or owner may reopen it on purpose; then ingest's changes apply again.
  ASSERT_EQ(call("POST", "/api/streams/" + s.id + "/status", {{"status", "offline"}}, f.secret).status, 200);
  lt_.sync([&] { module_->setPublishStatus(s.id, true); });
  EXPECT_EQ(nlohmann::json::parse(get("/api/streams/" + s.id).body)["status"], "live");
  EXPECT_EQ(order(buyer, s.id, "A", 1, "k4").status, 201);
}

// Lists are read a page at a time (Catalog::kListPage, 1000; 2 here): every stream and factory
// is listed, counted in GMV and exported, however many pages they take.
class CatalogPaged : public OrdersFixture {
 protected:
  void SetUp() override {
    start({}, [](OrdersOptions& o) { o.list_page = 2; });
  }
};

TEST_F(CatalogPaged, ListsGmvAndTheExportCoverEveryStreamAcrossPages) {
  std::vector<Created> factories = {createFactory("一厂"), createFactory("二厂"), createFactory("三厂")};
  std::vector<std::string> streams;
  auto buyer = newSession();
  for (int i = 0; i < 5; ++i) {
    auto s = createStream(factories[static_cast<std::size_t>(i % 3)], "场次" + std::to_string(i));
    addProduct(s.id, "P", 100 * (i + 1), 10);
    ASSERT_EQ(order(buyer, s.id, "P", 1, "k" + std::to_string(i)).status, 201);
    streams.push_back(s.id);
  }

  auto listed = nlohmann::json::parse(get("/api/streams").body)["streams"];
  std::vector<std::string> ids;
  for (const auto& s : listed) ids.push_back(s["id"]);
  EXPECT_EQ(ids, streams) << "all five, in creation order";
  EXPECT_EQ(nlohmann::json::parse(get("/api/factories", kAdmin).body)["factories"].size(), 3u);

  auto gmv = nlohmann::json::parse(get("/api/gmv", kAdmin).body);
  EXPECT_EQ(gmv["gmv_cents"], 100 + 200 + 300 + 400 + 500);
  EXPECT_EQ(gmv["orders"], 5);
  EXPECT_EQ(gmv["streams"].size(), 5u);
  ASSERT_EQ(gmv["factories"].size(), 3u);
  EXPECT_EQ(gmv["factories"][0]["gmv_cents"], 200 + 500) << "二厂: streams 1 and 4";

  auto csv = get("/api/orders?format=csv", kAdmin);
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 1 + 5) << csv.body;
  for (const auto& id : streams) EXPECT_NE(csv.body.find("," + id + ","), std::string::npos) << id;
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

TEST_F(Catalog, APinnedProductWhoseFlashSaleHasEndedSellsNoMoreUntilPinnedAgain) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "TEA", 100, 10);
  addProduct(s.id, "CUP", 100, 10);
  auto buyer = newSession();
  int64_t ends = api::systemClockMs() + 400;
  auto pin = [&](nlohmann::json body) { return call("POST", "/api/streams/" + s.id + "/pin", body, f.secret).status; };
  ASSERT_EQ(pin({{"sku", "TEA"}, {"flash_sale_ends_at", ends}}), 200);
  EXPECT_EQ(order(buyer, s.id, "TEA", 1, "during").status, 201) << "the sale is on";
  // The event waited for is the end itself: the wall clock passing it.
  ASSERT_TRUE(waitUntil([&] { return api::systemClockMs() > ends + 1; }));
  auto refused = order(buyer, s.id, "TEA", 1, "after");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(nlohmann::json::parse(refused.body)["error"], "flash_sale_ended");
  EXPECT_EQ(order(buyer, s.id, "TEA", 1, "during").status, 200) << "a replay still gets its first answer";
  EXPECT_EQ(order(buyer, s.id, "CUP", 1, "cup").status, 201) << "only the pinned product's sale ended";
  EXPECT_EQ(stockOf(s.id, "TEA"), 9) << "the refused order took nothing";

  ASSERT_EQ(pin({{"sku", "TEA"}}), 200);
  EXPECT_EQ(order(buyer, s.id, "TEA", 1, "pinned-again").status, 201) << "pinned again without an end";
  EXPECT_EQ(stockOf(s.id, "TEA"), 8);
}

TEST_F(Catalog, TheTimelineListsPinsAndUnpinsOldestFirstForAnyone) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "TEA", 1990, 5, 0, "明前龙井");
  addProduct(s.id, "CUP", 8800, 3, 1, "青花瓷杯");
  std::string path = "/api/streams/" + s.id;
  auto empty = get(path + "/timeline");
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(nlohmann::json::parse(empty.body)["events"], nlohmann::json::array());
  EXPECT_EQ(get("/api/streams/999/timeline").status, 404);
  EXPECT_EQ(get("/api/streams/abc/timeline").status, 404);

  int64_t ends = api::systemClockMs() + 600000;
  ASSERT_EQ(call("POST", path + "/pin", {{"sku", "TEA"}, {"flash_sale_ends_at", ends}}, f.secret).status, 200);
  ASSERT_EQ(call("POST", path + "/pin", {{"sku", "CUP"}}, kAdmin).status, 200);
  EXPECT_EQ(call("DELETE", path + "/pin", nullptr, newSession()).status, 403);
  EXPECT_EQ(call("DELETE", path + "/pin", nullptr, createFactory("other").secret).status, 403);
  EXPECT_EQ(call("DELETE", "/api/streams/999/pin", nullptr, kAdmin).status, 404);
  auto un = call("DELETE", path + "/pin", nullptr, f.secret);
  ASSERT_EQ(un.status, 200) << un.body;
  EXPECT_TRUE(nlohmann::json::parse(un.body)["pinned"].is_null());
  EXPECT_TRUE(nlohmann::json::parse(get(path).body)["pinned"].is_null()) << "the stream has no pin any more";

  auto events = nlohmann::json::parse(get(path + "/timeline").body)["events"];
  ASSERT_EQ(events.size(), 3u) << events.dump();
  EXPECT_EQ(events[0]["type"], "pin");
  EXPECT_EQ(events[0]["product"]["sku"], "TEA");
  EXPECT_EQ(events[0]["product"]["title"], "明前龙井");
  EXPECT_EQ(events[0]["product"]["flash_sale_ends_at"], ends);
  EXPECT_EQ(events[1]["product"]["sku"], "CUP");
  EXPECT_EQ(events[1]["product"]["limit_per_buyer"], 1);
  EXPECT_TRUE(events[2]["product"].is_null()) << "an unpin is a pin of nothing";
  EXPECT_LE(events[0]["ts"].get<int64_t>(), events[1]["ts"].get<int64_t>());
  EXPECT_LE(events[1]["ts"].get<int64_t>(), events[2]["ts"].get<int64_t>());
  EXPECT_GT(events[0]["ts"].get<int64_t>(), 1'600'000'000'000);
}

TEST_F(Catalog, UnpinningTellsTheRoom) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "TEA", 1990, 5);
  std::mutex mu;
  std::vector<std::string> frames;
  lt_.sync([&] {
    redis_->subscribe(keys::room(s.id), [&](const std::string&, const std::string& payload) {
      std::lock_guard lock(mu);
      if (payload != "ping") frames.push_back(payload);
    });
  });
  ASSERT_TRUE(waitUntil([&] { return redis_server_->command({"PUBLISH", keys::room(s.id), "ping"}) == "1"; }));
  ASSERT_EQ(call("DELETE", "/api/streams/" + s.id + "/pin", nullptr, f.secret).status, 200);
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return !frames.empty(); }));
  auto frame = nlohmann::json::parse(frames[0]);
  EXPECT_EQ(frame["type"], "pin");
  EXPECT_TRUE(frame.contains("product") && frame["product"].is_null()) << frames[0];
  EXPECT_GT(frame["ts"].get<int64_t>(), 0);
  lt_.sync([&] { redis_->unsubscribe(keys::room(s.id)); });
}

TEST_F(Catalog, ProductsAreEditedByTheirOwnerValidatedAsOnCreationAndAnnounced) {
  auto f = createFactory();
  auto s = createStream(f);
  addProduct(s.id, "CUP", 8800, 50, 2, "青花瓷杯");
  std::string path = "/api/streams/" + s.id + "/products/CUP";
  std::mutex mu;
  std::vector<std::string> frames;
  lt_.sync([&] {
    redis_->subscribe(keys::room(s.id), [&](const std::string&, const std::string& payload) {
      std::lock_guard lock(mu);
      if (payload != "ping") frames.push_back(payload);
    });
  });
  ASSERT_TRUE(waitUntil([&] { return redis_server_->command({"PUBLISH", keys::room(s.id), "ping"}) == "1"; }));

  auto r = call("PATCH", path, {{"title", "青花瓷杯 礼盒装"}, {"price_cents", 9900}, {"stock", 7}}, f.secret);
  ASSERT_EQ(r.status, 200) << r.body;
  auto p = nlohmann::json::parse(r.body);
  EXPECT_EQ(p["title"], "青花瓷杯 礼盒装");
  EXPECT_EQ(p["price_cents"], 9900);
  EXPECT_EQ(p["stock"], 7);
  EXPECT_EQ(p["limit_per_buyer"], 2) << "fields not given stay";
  auto list = nlohmann::json::parse(get("/api/streams/" + s.id + "/products").body)["products"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["title"], "青花瓷杯 礼盒装");
  EXPECT_EQ(list[0]["stock"], 7);
  EXPECT_EQ(stockOf(s.id, "CUP"), 7);
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return !frames.empty(); }));
  auto frame = nlohmann::json::parse(frames[0]);
  EXPECT_EQ(frame["type"], "product");
  EXPECT_EQ(frame["product"]["sku"], "CUP");
  EXPECT_EQ(frame["product"]["stock"], 7);

  // An order uses the new price; its frame carries the stock left.
  auto buyer = newSession();
  auto o = order(buyer, s.id, "CUP", 2, "k1");
  ASSERT_EQ(o.status, 201) << o.body;
  EXPECT_EQ(nlohmann::json::parse(o.body)["amount_cents"], 19800);
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return frames.size() >= 2; }));
  auto placed = nlohmann::json::parse(frames[1]);
  EXPECT_EQ(placed["type"], "order");
  EXPECT_EQ(placed["stock"], 5);
  lt_.sync([&] { redis_->unsubscribe(keys::room(s.id)); });

  EXPECT_EQ(call("PATCH", path, {{"stock", 1}}, kAdmin).status, 200) << "the organizer may";
  EXPECT_EQ(call("PATCH", path, {{"stock", 1}}, createFactory("other").secret).status, 403);
  EXPECT_EQ(call("PATCH", path, {{"stock", 1}}, newSession()).status, 403);
  EXPECT_EQ(call("PATCH", path, {{"stock", 1}}, "").status, 401);
  EXPECT_EQ(call("PATCH", "/api/streams/" + s.id + "/products/NOPE", {{"stock", 1}}, f.secret).status, 404);
  EXPECT_EQ(call("PATCH", "/api/streams/999/products/CUP", {{"stock", 1}}, kAdmin).status, 404);
  for (auto [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"price_cents", 0}, {"price_cents", 1.5}, {"price_cents", "100"}, {"stock", -1},
           {"limit_per_buyer", -2}, {"title", ""}, {"title", 5}, {"image_url", "javascript:alert(1)"}}) {
    auto bad = call("PATCH", path, {{field, value}}, f.secret);
    EXPECT_EQ(bad.status, 400) << field << "=" << value.dump() << " " << bad.body;
  }
  EXPECT_EQ(call("PATCH", path, nlohmann::json::object(), f.secret).status, 400) << "nothing to change";
  EXPECT_EQ(stockOf(s.id, "CUP"), 1) << "refused edits changed nothing";
  auto sold = order(buyer, s.id, "CUP", 2, "k2");
  EXPECT_EQ(sold.status, 409) << "the edited stock is what is sold";
}

TEST_F(Catalog, StreamsCarryTheRoomsViewersAndLikes) {
  auto f = createFactory();
  auto s = createStream(f);
  auto fresh = nlohmann::json::parse(get("/api/streams/" + s.id).body);
  EXPECT_EQ(fresh["viewers"], 0);
  EXPECT_EQ(fresh["likes"], 0);
  // What the chat part's room tick writes.
  redis_server_->command({"HSET", keys::stats(s.id), "viewers", "12", "likes", "345", "pub_ms", "1"});
  redis_server_->command({"SET", keys::likes(s.id), "345"});
  // The node shares a stream's answer for up to shared_answer_ms (0.9 s): the next one shows it.
  nlohmann::json one;
  ASSERT_TRUE(waitUntil([&] {
    one = nlohmann::json::parse(get("/api/streams/" + s.id).body);
    return one["viewers"] == 12;
  }));
  EXPECT_EQ(one["likes"], 345);
  auto all = nlohmann::json::parse(get("/api/streams").body)["streams"];
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["viewers"], 12);
  EXPECT_EQ(all[0]["likes"], 345);
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

// Stream ids come from INCR and streams are never deleted, so an id above the counter names no
// stream: its public reads are 404 without reading the stream (they were 3 commands each, a miss
// not being shared), and ids made up at once share the counter's reads. A stream another node
// has just created is found at once all the same.
TEST_F(Catalog, AStreamIdAboveTheCounterIsNotFoundWithoutReadingTheStream) {
  auto f = createFactory();
  auto s = createStream(f);
  auto reads = [&] { return commandCalls("hgetall") + commandCalls("xrange"); };
  int64_t before = reads();
  for (const char* what : {"", "/products", "/timeline"})
    ASSERT_EQ(get("/api/streams/" + s.id + what).status, 200) << what;
  EXPECT_EQ(reads(), before + 3) << "a known stream's reads reach Redis";

  std::string made_up = std::to_string(std::stoll(s.id) + 1000);
  before = reads();
  for (const char* what : {"", "/products", "/timeline"}) {
    auto res = get("/api/streams/" + made_up + what);
    EXPECT_EQ(res.status, 404) << what;
    EXPECT_NE(res.body.find("stream_not_found"), std::string::npos) << res.body;
  }
  EXPECT_EQ(reads(), before) << "no stream was read for an id above the counter";

  // 100 made-up ids in one loop turn: the first read of the counter, then one for the 99 that
  // came while it was under way.
  auto& catalog = module_->catalog();
  uint64_t counter_reads = lt_.sync([&] { return catalog.streamSeqReads(); });
  std::atomic<int> not_found{0};
  lt_.sync([&] {
    for (int i = 0; i < 100; ++i)
      catalog.getStream(std::to_string(std::stoll(s.id) + 2000 + i), [&](std::expected<StreamInfo, Error> r) {
        if (!r && r.error().code == "stream_not_found") ++not_found;
      });
  });
  ASSERT_TRUE(waitUntil([&] { return not_found == 100; }));
  EXPECT_EQ(lt_.sync([&] { return catalog.streamSeqReads(); }), counter_reads + 2);

  // Another node on the same Redis creates a stream; this node finds it on the first ask.
  std::promise<std::expected<IdAndSecret, Error>> made;
  std::unique_ptr<bloomcast::orders::Catalog> other;
  lt_.sync([&] {
    other = std::make_unique<bloomcast::orders::Catalog>(*redis_, module_->sessions(), kAdmin, 100);
    other->createStream(f.id, "另一节点", api::systemClockMs(), [&](auto r) { made.set_value(std::move(r)); });
  });
  auto fresh = made.get_future().get();
  lt_.sync([&] { other.reset(); });
  ASSERT_TRUE(fresh.has_value()) << fresh.error().message;
  auto found = get("/api/streams/" + fresh->id);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(nlohmann::json::parse(found.body)["title"], "另一节点");
}

}  // namespace
}  // namespace bloomcast::orders::test
