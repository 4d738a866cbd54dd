// Secrets in a running bloomcast at debug log level: the admin token, factory tokens, stream
// keys and session tokens never reach its log, not even when a publisher uses a wrong key or a
// tenant tries another's stream; and every cross-tenant call is 403.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "TestSupport.h"

namespace bloomcast {
namespace {

using namespace test;
using nlohmann::json;

const std::string kAdmin = "secrets-test-admin-token-0123456789abcdef";

TEST(Secrets, NoSecretReachesTheLogAndTenantsStayApart) {
  TempDir dir;
  auto b = startBloomcast(dir.path() + "/data", {"--admin-token", kAdmin, "--renditions", "source"});
  ASSERT_TRUE(waitUntil([&] { return http("GET", b.base_url + "/healthz").status == 200; }));
  auto call = [&](const std::string& method, const std::string& path, const json& body, const std::string& token) {
    return http(method, b.base_url + path, body.is_null() ? "" : body.dump(),
                {"Content-Type: application/json", "Authorization: Bearer " + token});
  };
  auto mine = json::parse(call("POST", "/api/factories", {{"name", "甲厂"}}, kAdmin).body);
  auto theirs = json::parse(call("POST", "/api/factories", {{"name", "乙厂"}}, kAdmin).body);
  std::string my_token = mine["token"], their_token = theirs["token"];
  auto stream = json::parse(call("POST", "/api/streams", {{"title", "甲的直播"}}, my_token).body);
  std::string id = stream["id"], key = stream["stream_key"];
  ASSERT_EQ(call("POST", "/api/streams/" + id + "/products",
                 {{"sku", "A"}, {"title", "a"}, {"price_cents", 100}, {"stock", 5}}, my_token).status, 201);
  std::string session = json::parse(call("POST", "/api/sessions", {{"name", "买家"}}, "").body)["token"];
  ASSERT_EQ(call("POST", "/api/orders", {{"stream", id}, {"sku", "A"}, {"qty", 1}, {"idempotency_key", "x1"}},
                 session).status, 201);

  // Every call another factory might try on this stream: 403, and nothing changed.
  const std::string s = "/api/streams/" + id;
  EXPECT_EQ(call("POST", s + "/products", {{"sku", "B"}, {"title", "b"}, {"price_cents", 1}, {"stock", 1}}, their_token).status, 403);
  EXPECT_EQ(call("PATCH", s + "/products/A", {{"stock", 999}}, their_token).status, 403);
  EXPECT_EQ(call("POST", s + "/pin", {{"sku", "A"}}, their_token).status, 403);
  EXPECT_EQ(call("DELETE", s + "/pin", nullptr, their_token).status, 403);
  EXPECT_EQ(call("POST", s + "/key", nullptr, their_token).status, 403);
  EXPECT_EQ(call("POST", s + "/status", {{"status", "ended"}}, their_token).status, 403);
  EXPECT_EQ(call("POST", s + "/chat/ban", {{"user", "买家"}}, their_token).status, 403);
  EXPECT_EQ(call("POST", s + "/chat/slow", {{"seconds", 10}}, their_token).status, 403);
  EXPECT_EQ(call("POST", s + "/chat/delete", {{"id", 1}}, their_token).status, 403);
  EXPECT_EQ(http("GET", b.base_url + "/api/orders?stream=" + id, "", {"Authorization: Bearer " + their_token}).status, 403);
  EXPECT_EQ(http("GET", b.base_url + "/api/orders?stream=" + id + "&format=csv", "", {"Authorization: Bearer " + their_token}).status, 403);
  EXPECT_EQ(call("POST", "/api/streams", {{"title", "冒名"}, {"factory_id", mine["id"]}}, their_token).status, 403);
  auto product = json::parse(http("GET", b.base_url + s + "/products").body)["products"][0];
  EXPECT_EQ(product["stock"], 4) << "untouched by the other factory";

  // Publishers: a wrong key is refused; the right one goes live. Neither key is logged.
  auto publish = [&](const std::string& k) {
    Process ffmpeg({"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=10", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "10", "-f", "flv", "rtmp://127.0.0.1:" + std::to_string(b.rtmp_port) + "/live/" + k});
    return ffmpeg.wait(std::chrono::seconds(30));
  };
  std::string wrong_key = key.substr(0, key.size() - 4) + "beef";
  EXPECT_NE(publish(wrong_key), 0);
  EXPECT_EQ(publish(key), 0);

  auto log = b.process->output();
  ASSERT_NE(log.find("http: POST /api/orders -> 201"), std::string::npos) << "the log is at debug level";
  for (const auto& [name, secret] : std::vector<std::pair<std::string, std::string>>{
           {"admin token", kAdmin}, {"factory token", my_token}, {"other factory token", their_token},
           {"stream key", key}, {"wrong stream key", wrong_key}, {"session token", session}}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << name << " in the log";
  }
}

}  // namespace
}  // namespace bloomcast
