// WS /ws/dashboard with the real binary: the organizer sees GMV and orders tick every second;
// nobody else gets in.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "TestSupport.h"
#include "WsClient.h"

namespace bloomcast {
namespace {

using namespace test;
using nlohmann::json;

json post(const RunningBloomcast& b, const std::string& path, const json& body, const std::string& token) {
  auto r = http("POST", b.base_url + path, body.dump(),
                {"Content-Type: application/json", "Authorization: Bearer " + token});
  EXPECT_LT(r.status, 300) << path << ": " << r.body;
  return json::parse(r.body, nullptr, false);
}

TEST(Dashboard, TicksEverySecondWithGmvAndOrdersForTheOrganizerOnly) {
  TempDir dir;
  const std::string admin = "dashboard-admin-token-0123456789";
  auto b = startBloomcast(dir.path() + "/data", {"--admin-token", admin, "--rate-limits", "off"});
  ASSERT_TRUE(waitUntil([&] { return http("GET", b.base_url + "/healthz").status == 200; }));

  WsClients clients;
  int outsider = clients.connect(b.http_port, "/ws/dashboard?token=guess");
  ASSERT_TRUE(clients.waitClosed(outsider));
  EXPECT_NE(clients.messages(outsider).at(0).find("forbidden"), std::string::npos);

  int organizer = clients.connect(b.http_port, "/ws/dashboard?token=" + admin);
  ASSERT_TRUE(clients.waitOpen(organizer));
  ASSERT_TRUE(clients.waitFor(organizer, [](auto& m) { return !m.empty(); }));
  auto first = json::parse(clients.messages(organizer).back());
  EXPECT_EQ(first["type"], "tick");
  EXPECT_EQ(first["gmv_cents"], 0);

  auto factory = post(b, "/api/factories", {{"name", "袜厂"}}, admin);
  auto stream = post(b, "/api/streams", {{"title", "直播"}, {"factory_id", factory["id"]}}, admin);
  std::string id = stream["id"];
  post(b, "/api/streams/" + id + "/products",
       {{"sku", "sock"}, {"title", "棉袜"}, {"price_cents", 1500}, {"stock", 10}}, admin);
  std::string buyer = json::parse(http("POST", b.base_url + "/api/sessions", R"({"name":"小李"})",
                                       {"Content-Type: application/json"}).body)["token"];
  auto first_order = post(b, "/api/orders", {{"stream", id}, {"sku", "sock"}, {"qty", 2}, {"idempotency_key", "d1"}}, buyer);

  ASSERT_TRUE(clients.waitFor(organizer, [](auto& m) {
    auto j = json::parse(m.back(), nullptr, false);
    return j.is_object() && j["gmv_cents"] == 3000;
  }, std::chrono::seconds(5)));
  auto tick = json::parse(clients.messages(organizer).back());
  EXPECT_EQ(tick["orders"], 1);
  EXPECT_EQ(tick["units"], 2);
  EXPECT_EQ(tick["streams"][0]["id"], id);
  EXPECT_FALSE(tick["series"].empty());
  EXPECT_EQ(tick["orders_placed"], 1);
  std::size_t before = clients.messages(organizer).size();
  ASSERT_TRUE(clients.waitFor(organizer, [&](auto& m) { return m.size() >= before + 2; }, std::chrono::seconds(4)))
      << "about one tick a second";

  // A cancel and a new order: the net count stays at 1, yet an order was placed, and the tick
  // that first counts it shows orders coming in.
  post(b, "/api/orders/" + first_order["order_id"].get<std::string>() + "/cancel", json::object(), buyer);
  post(b, "/api/orders", {{"stream", id}, {"sku", "sock"}, {"qty", 1}, {"idempotency_key", "d2"}}, buyer);
  auto placed2 = [](const std::string& m) {
    auto j = json::parse(m, nullptr, false);
    return j.is_object() && j["orders_placed"] == 2;
  };
  ASSERT_TRUE(clients.waitFor(organizer, [&](auto& m) { return placed2(m.back()); }, std::chrono::seconds(5)));
  auto all = clients.messages(organizer);
  tick = json::parse(*std::find_if(all.begin(), all.end(), placed2));
  EXPECT_EQ(tick["orders"], 1) << "net of the cancel";
  EXPECT_EQ(tick["gmv_cents"], 1500);
  EXPECT_GT(tick["orders_per_second"].get<double>(), 0.0);

  // Viewers: the chat rooms' counts of the live streams. Two viewers join this stream's room
  // once it is live.
  post(b, "/api/streams/" + id + "/status", {{"status", "live"}}, admin);
  for (const char* name : {"甲", "乙"}) {
    std::string token = json::parse(http("POST", b.base_url + "/api/sessions", json{{"name", name}}.dump(),
                                         {"Content-Type: application/json"}).body)["token"];
    ASSERT_TRUE(clients.waitOpen(clients.connect(b.http_port, "/ws?room=" + id + "&token=" + token)));
  }
  ASSERT_TRUE(clients.waitFor(organizer, [](auto& m) {
    auto j = json::parse(m.back(), nullptr, false);
    return j.is_object() && j["viewers"] == 2;
  }, std::chrono::seconds(5))) << clients.messages(organizer).back();
  EXPECT_EQ(json::parse(clients.messages(organizer).back())["live_streams"], 1);
}

}  // namespace
}  // namespace bloomcast
