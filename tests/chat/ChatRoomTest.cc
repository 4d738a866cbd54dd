// Chat rooms end to end: two bloomcast processes on one real Redis, real WebSocket clients.
// A message sent on node A reaches every client of both nodes exactly once, in one order.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "TestSupport.h"
#include "WsClient.h"

namespace bloomcast {
namespace {

using namespace test;
using nlohmann::json;

// Every chat/system message a client received, batches unpacked, in arrival order.
std::vector<json> unpacked(const std::vector<std::string>& frames) {
  std::vector<json> out;
  for (const auto& f : frames) {
    json j = json::parse(f, nullptr, false);
    if (j.is_discarded()) continue;
    if (j["type"] == "batch") {
      for (auto& m : j["messages"]) out.push_back(m);
    } else {
      out.push_back(j);
    }
  }
  return out;
}

std::vector<json> ofType(const std::vector<std::string>& frames, const std::string& type) {
  std::vector<json> out;
  for (auto& m : unpacked(frames))
    if (m["type"] == type) out.push_back(m);
  return out;
}

class ChatRoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = startBloomcast(dir_.path() + "/a", {"--redis", redis_.url(), "--admin-token", admin_, "--rate-limits", flags_rate_limits()});
    b_ = startBloomcast(dir_.path() + "/b", {"--redis", redis_.url(), "--admin-token", admin_, "--rate-limits", flags_rate_limits()});
    ASSERT_TRUE(waitUntil([&] { return http("GET", a_.base_url + "/healthz").status == 200 &&
                                       http("GET", b_.base_url + "/healthz").status == 200; }));
    auto factory = api(a_, "POST", "/api/factories", {{"name", "东莞鞋厂"}}, admin_);
    factory_token_ = factory["token"];
    auto stream = api(a_, "POST", "/api/streams", {{"title", "秋季新款"}, {"factory_id", factory["id"]}}, admin_);
    room_ = stream["id"];
  }
  virtual std::string flags_rate_limits() { return "off"; }

  json api(const RunningBloomcast& node, const std::string& method, const std::string& path,
           const json& body, const std::string& token = "") {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    auto r = http(method, node.base_url + path, body.dump(), headers);
    EXPECT_LT(r.status, 300) << method << " " << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::string session(const std::string& name) {
    return api(a_, "POST", "/api/sessions", {{"name", name}})["token"];
  }
  int join(WsClients& clients, const RunningBloomcast& node, const std::string& token = "") {
    std::string path = "/ws?room=" + room_ + (token.empty() ? "" : "&token=" + token);
    int c = clients.connect(node.http_port, path);
    EXPECT_TRUE(clients.waitOpen(c));
    EXPECT_TRUE(clients.waitFor(c, [](auto& m) { return !ofType(m, "welcome").empty(); }));
    return c;
  }
  void say(WsClients& clients, int c, const std::string& text) {
    clients.send(c, json{{"type", "chat"}, {"text", text}}.dump());
  }

  TempDir dir_;
  // A unix socket (a TCP port freed by kill -9 could be taken by a parallel test's server) and an
  // AOF, so the room survives the kill -9 of the Redis test.
  RedisServer redis_{RedisServer::Mode::Unix, {"appendonly yes", "appendfsync always"}};
  std::string admin_ = "admin-token-for-tests-0123456789";
  RunningBloomcast a_, b_;
  std::string factory_token_, room_;
};

TEST_F(ChatRoomTest, EveryClientOfBothNodesGetsEachMessageOnceInOneOrder) {
  WsClients clients;
  int alice = join(clients, a_, session("alice"));
  int bob = join(clients, b_, session("bob"));
  int guest_a = join(clients, a_);
  int guest_b = join(clients, b_);
  for (int i = 0; i < 25; ++i) {
    say(clients, alice, "a" + std::to_string(i));
    say(clients, bob, "b" + std::to_string(i));
  }
  std::vector<int> all = {alice, bob, guest_a, guest_b};
  for (int c : all)
    ASSERT_TRUE(clients.waitFor(c, [](auto& m) { return ofType(m, "chat").size() >= 50; }))
        << "client " << c << " got " << ofType(clients.messages(c), "chat").size();
  std::vector<int64_t> reference;
  for (auto& m : ofType(clients.messages(alice), "chat")) reference.push_back(m["id"]);
  ASSERT_EQ(reference.size(), 50u) << "exactly once";
  EXPECT_TRUE(std::is_sorted(reference.begin(), reference.end()));
  EXPECT_EQ(std::set<int64_t>(reference.begin(), reference.end()).size(), 50u);
  for (int c : all) {
    std::vector<int64_t> ids;
    for (auto& m : ofType(clients.messages(c), "chat")) ids.push_back(m["id"]);
    EXPECT_EQ(ids, reference) << "client " << c << " sees the room's one order";
  }
  // Sender order is kept within each sender, and the sender gets its own messages.
  int next_a = 0;
  for (auto& m : ofType(clients.messages(bob), "chat")) {
    if (m["user"] == "alice") {
      EXPECT_EQ(m["text"], "a" + std::to_string(next_a++));
    }
  }
  EXPECT_EQ(next_a, 25);
}

TEST_F(ChatRoomTest, JoiningClientsGetTheLast50MessagesInTheWelcome) {
  WsClients clients;
  int alice = join(clients, a_, session("alice"));
  for (int i = 1; i <= 60; ++i) say(clients, alice, "m" + std::to_string(i));
  ASSERT_TRUE(clients.waitFor(alice, [](auto& m) { return ofType(m, "chat").size() == 60; }));
  int late = join(clients, b_);
  auto welcome = ofType(clients.messages(late), "welcome").at(0);
  ASSERT_EQ(welcome["history"].size(), 50u);
  EXPECT_EQ(welcome["history"][0]["text"], "m11");
  EXPECT_EQ(welcome["history"][49]["text"], "m60");
  EXPECT_TRUE(welcome["user"].get<std::string>().starts_with("游客"));
  say(clients, alice, "after");
  ASSERT_TRUE(clients.waitFor(late, [](auto& m) { return ofType(m, "chat").size() == 1; }))
      << "no duplicates of the history after the welcome";
}

TEST_F(ChatRoomTest, GuestsReadButMustSignInToChat) {
  WsClients clients;
  int guest = join(clients, a_);
  say(clients, guest, "hi");
  ASSERT_TRUE(clients.waitFor(guest, [](auto& m) { return !ofType(m, "error").empty(); }));
  EXPECT_EQ(ofType(clients.messages(guest), "error")[0]["code"], "login_required");
  // Regression: the room's last member leaving crashed the node (an empty Redis callback).
  clients.close(guest);
  ASSERT_TRUE(waitUntil([&] {
    return http("GET", a_.base_url + "/metrics").body.find("bloomcast_chat_rooms 0\n") != std::string::npos;
  }));
  EXPECT_TRUE(a_.process->running());
  EXPECT_EQ(http("GET", a_.base_url + "/healthz").status, 200);
}

TEST_F(ChatRoomTest, UnknownRoomsAndBadTokensAreRefusedAndClosed) {
  WsClients clients;
  int c = clients.connect(a_.http_port, "/ws?room=nope");
  ASSERT_TRUE(clients.waitClosed(c));
  EXPECT_EQ(ofType(clients.messages(c), "error").at(0)["code"], "unknown_room");
  int d = clients.connect(a_.http_port, "/ws?room=" + room_ + "&token=forged.token");
  ASSERT_TRUE(clients.waitClosed(d));
  EXPECT_EQ(ofType(clients.messages(d), "error").at(0)["code"], "bad_token");
}

TEST_F(ChatRoomTest, BadFramesGetErrorsAndDoNotDisturbOthers) {
  WsClients clients;
  int alice = join(clients, a_, session("alice"));
  int bob = join(clients, a_, session("bob"));
  clients.send(alice, "not json");
  clients.send(alice, R"({"type":"dance"})");
  clients.send(alice, json{{"type", "chat"}, {"text", std::string(281, 'x')}}.dump());
  ASSERT_TRUE(clients.waitFor(alice, [](auto& m) { return ofType(m, "error").size() == 3; }));
  auto errors = ofType(clients.messages(alice), "error");
  EXPECT_EQ(errors[0]["code"], "invalid_json");
  EXPECT_EQ(errors[1]["code"], "unknown_type");
  EXPECT_EQ(errors[2]["code"], "too_long");
  clients.sendBinary(alice, std::string("\x00\x01", 2));
  ASSERT_TRUE(clients.waitClosed(alice));
  int carol = join(clients, a_, session("carol"));
  clients.send(carol, std::string(5000, '{'));
  ASSERT_TRUE(clients.waitClosed(carol));
  say(clients, bob, "still here");
  ASSERT_TRUE(clients.waitFor(bob, [](auto& m) { return ofType(m, "chat").size() == 1; }));
  EXPECT_TRUE(ofType(clients.messages(bob), "error").empty());
}

TEST_F(ChatRoomTest, BansDeletesAndTheKeywordListAreEnforcedOnEveryNode) {
  WsClients clients;
  int troll = join(clients, b_, session("troll"));
  int alice = join(clients, a_, session("alice"));
  say(clients, troll, "first");
  ASSERT_TRUE(clients.waitFor(alice, [](auto& m) { return ofType(m, "chat").size() == 1; }));
  int64_t id = ofType(clients.messages(alice), "chat")[0]["id"];

  api(a_, "POST", "/api/streams/" + room_ + "/chat/delete", {{"id", id}}, admin_);
  ASSERT_TRUE(clients.waitFor(troll, [](auto& m) { return !ofType(m, "delete").empty(); }));
  ASSERT_TRUE(clients.waitFor(alice, [](auto& m) { return !ofType(m, "delete").empty(); }));
  EXPECT_EQ(ofType(clients.messages(alice), "delete")[0]["id"], id);

  // The factory token of the stream may moderate too; another factory's may not.
  api(a_, "POST", "/api/streams/" + room_ + "/chat/ban", {{"user", "troll"}}, factory_token_);
  ASSERT_TRUE(clients.waitFor(troll, [](auto& m) {
    for (auto& e : ofType(m, "error")) {
      if (e["code"] == "banned") return true;
    }
    return false;
  }));
  say(clients, troll, "again");
  say(clients, alice, "fine");
  ASSERT_TRUE(clients.waitFor(alice, [](auto& m) { return ofType(m, "chat").size() == 2; }));
  for (auto& m : ofType(clients.messages(alice), "chat")) EXPECT_NE(m["text"], "again");
  auto other = api(a_, "POST", "/api/factories", {{"name", "other"}}, admin_);
  auto r = http("POST", a_.base_url + "/api/streams/" + room_ + "/chat/ban", R"({"user":"alice"})",
                {"Authorization: Bearer " + other["token"].get<std::string>()});
  EXPECT_EQ(r.status, 403);

  auto kw = http("PUT", a_.base_url + "/api/chat/keywords", R"({"keywords":["假货"]})",
                 {"Authorization: Bearer " + admin_});
  ASSERT_EQ(kw.status, 200) << kw.body;
  // Node B learns the list within its refresh period.
  ASSERT_TRUE(waitUntil([&] {
    int c = clients.connect(b_.http_port, "/ws?room=" + room_ + "&token=" + session("probe"));
    clients.waitFor(c, [](auto& m) { return !ofType(m, "welcome").empty(); });
    say(clients, c, "这是假货吗");
    bool blocked = clients.waitFor(c, [](auto& m) { return !ofType(m, "error").empty() || !ofType(m, "chat").empty(); },
                                   std::chrono::seconds(2)) &&
                   !ofType(clients.messages(c), "error").empty() &&
                   ofType(clients.messages(c), "error")[0]["code"] == "blocked";
    clients.close(c);
    return blocked;
  }, std::chrono::seconds(15)));
}

TEST_F(ChatRoomTest, LikeStormsBecomeAFewTotals) {
  WsClients clients;
  int viewer = join(clients, a_);
  int other = join(clients, b_);
  for (int i = 0; i < 500; ++i) clients.send(i % 2 ? viewer : other, R"({"type":"like","count":10})");
  ASSERT_TRUE(clients.waitFor(viewer, [](auto& m) {
    auto likes = ofType(m, "likes");
    return !likes.empty() && likes.back()["total"] == 5000;
  }, std::chrono::seconds(15)));
  auto likes = ofType(clients.messages(viewer), "likes");
  EXPECT_LT(likes.size(), 40u) << "5,000 likes must not become thousands of broadcasts";
  auto viewers = ofType(clients.messages(viewer), "viewers");
  ASSERT_FALSE(viewers.empty());
  EXPECT_EQ(viewers.back()["count"], 2) << "viewer counts are summed across nodes";
}

TEST_F(ChatRoomTest, OrdersPlacedOnAnotherNodeShowUpInTheRoom) {
  WsClients clients;
  int viewer = join(clients, a_);
  api(b_, "POST", "/api/streams/" + room_ + "/products",
      {{"sku", "shoe-1"}, {"title", "跑鞋"}, {"price_cents", 19900}, {"stock", 5}}, factory_token_);
  std::string buyer = api(b_, "POST", "/api/sessions", {{"name", "buyer"}})["token"];
  api(b_, "POST", "/api/orders", {{"stream", room_}, {"sku", "shoe-1"}, {"qty", 1}, {"idempotency_key", "k1"}}, buyer);
  ASSERT_TRUE(clients.waitFor(viewer, [](auto& m) { return !ofType(m, "order").empty(); }));
  EXPECT_EQ(ofType(clients.messages(viewer), "order")[0]["sku"], "shoe-1");
}

// A client that completes the WebSocket handshake and then never reads, with a tiny receive
// buffer so the kernel cannot hide the backlog (a phone that froze).
int stuckReader(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int rcvbuf = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return -1;
  // Read the 101 answer and the welcome frame (so it has joined the room), then nothing more.
  std::string seen;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (seen.find("welcome") == std::string::npos) {
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return -1;
    seen.append(buf, static_cast<std::size_t>(n));
  }
  return fd;
}

TEST_F(ChatRoomTest, ASlowReaderDoesNotHoldUpOthersAndIsEventuallyDropped) {
  WsClients clients;
  int alice = join(clients, a_, session("alice"));
  int fast = join(clients, a_, session("fast"));
  int stuck = stuckReader(a_.http_port, "/ws?room=" + room_);
  ASSERT_GE(stuck, 0);
  std::string big;
  for (int i = 0; i < 280; ++i) big += "好";  // 840 bytes, the longest message allowed
  // About 500 KB of chat, more than the stuck reader's socket buffers (128 KiB send buffer,
  // 4 KiB receive buffer) can hold.
  for (int i = 0; i < 600; ++i) say(clients, alice, big);
  say(clients, alice, "the end");
  // The reader that keeps reading gets everything up to the last message.
  ASSERT_TRUE(clients.waitFor(fast, [&](auto& m) {
    for (std::size_t i = m.size(), k = 0; i > 0 && k < 10; --i, ++k)
      if (m[i - 1].find("the end") != std::string::npos) return true;
    return false;
  }, std::chrono::seconds(120))) << [&] {
    std::map<std::string, int> types;
    for (auto& m : unpacked(clients.messages(fast))) ++types[m["type"].get<std::string>()];
    std::string out = "fast open=" + std::to_string(clients.isOpen(fast)) +
                      " close=" + std::to_string(clients.closeCode(fast)) + " got";
    for (auto& [t, n] : types) out += " " + t + ":" + std::to_string(n);
    out += "; alice open=" + std::to_string(clients.isOpen(alice)) + " got";
    types.clear();
    for (auto& m : unpacked(clients.messages(alice))) ++types[m["type"].get<std::string>()];
    for (auto& [t, n] : types) out += " " + t + ":" + std::to_string(n);
    auto metrics = http("GET", a_.base_url + "/metrics");
    out += "\nmetrics " + std::to_string(metrics.status) + ":\n";
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("bloomcast_chat", 0) == 0 || line.rfind("bloomcast_ws", 0) == 0) out += line + "\n";
    auto log = a_.process->output();
    return out + log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  }();
  // The stuck one loses chat and is dropped (its queue is bounded; it never grows the server).
  EXPECT_TRUE(waitUntil([&] {
    return http("GET", a_.base_url + "/metrics").body.find("bloomcast_chat_connections 2\n") != std::string::npos;
  }, std::chrono::seconds(30)));
  auto metrics = http("GET", a_.base_url + "/metrics").body;
  EXPECT_EQ(metrics.find("bloomcast_ws_slow_closed_total 0\n"), std::string::npos) << metrics;
  close(stuck);
}

TEST_F(ChatRoomTest, ChatSaysUnavailableWhileRedisIsDownAndResumesOnItsOwn) {
  WsClients clients;
  int alice = join(clients, a_, session("alice"));
  int bob = join(clients, b_, session("bob"));
  say(clients, alice, "before");
  ASSERT_TRUE(clients.waitFor(bob, [](auto& m) { return ofType(m, "chat").size() == 1; }));

  redis_.kill9();
  ASSERT_TRUE(waitUntil([&] { return http("GET", a_.base_url + "/healthz").status == 503; }));
  say(clients, alice, "during");
  ASSERT_TRUE(clients.waitFor(alice, [](auto& m) {
    for (auto& e : ofType(m, "error"))
      if (e["code"] == "unavailable") return true;
    return false;
  }));
  EXPECT_TRUE(clients.isOpen(alice)) << "a Redis outage does not cost viewers their sockets";
  EXPECT_TRUE(clients.isOpen(bob));

  redis_.start();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return http("GET", a_.base_url + "/healthz").status == 200 &&
                                     http("GET", b_.base_url + "/healthz").status == 200; }));
  // Both nodes re-dialled and re-subscribed: a message crosses nodes again, no restart.
  ASSERT_TRUE(waitUntil([&] {
    say(clients, alice, "after");
    return clients.waitFor(bob, [](auto& m) {
      for (auto& c : ofType(m, "chat"))
        if (c["text"] == "after") return true;
      return false;
    }, std::chrono::milliseconds(500));
  }, std::chrono::seconds(15)));
  std::cout << "chat recovered " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - t0).count()
            << " ms after Redis came back\n";
  for (auto& c : ofType(clients.messages(bob), "chat")) EXPECT_NE(c["text"], "during");
}

TEST_F(ChatRoomTest, TheStoredViewerCountFollowsTheLastViewerOut) {
  auto viewers = [&] {
    auto j = json::parse(http("GET", a_.base_url + "/api/streams/" + room_).body, nullptr, false);
    return j.is_object() && j["viewers"].is_number() ? j["viewers"].get<int>() : -1;
  };
  for (int round = 0; round < 3; ++round) {  // leaving right after a publication included
    {
      WsClients clients;
      int c = join(clients, a_);
      auto welcome = ofType(clients.messages(c), "welcome");
      ASSERT_EQ(welcome.size(), 1u);
      EXPECT_TRUE(welcome[0]["viewers"].is_number()) << "a newcomer sees the totals at once";
      EXPECT_TRUE(welcome[0]["likes"].is_number());
      EXPECT_TRUE(waitUntil([&] { return viewers() == 1; }, std::chrono::seconds(3)));
      clients.close(c);
      ASSERT_TRUE(clients.waitClosed(c));
    }
    EXPECT_TRUE(waitUntil([&] { return viewers() == 0; }, std::chrono::seconds(3))) << "round " << round;
  }
}

class RateLimitedChatTest : public ChatRoomTest {
  std::string flags_rate_limits() override { return "on"; }
};

TEST_F(RateLimitedChatTest, ABurstPastTheRateLimitIsRefusedWithRateLimited) {
  WsClients clients;
  int alice = join(clients, a_, session("alice"));
  for (int i = 0; i < 12; ++i) say(clients, alice, "spam " + std::to_string(i));
  ASSERT_TRUE(clients.waitFor(alice, [](auto& m) {
    return ofType(m, "chat").size() + ofType(m, "error").size() >= 12;
  }));
  auto chats = ofType(clients.messages(alice), "chat");
  auto errors = ofType(clients.messages(alice), "error");
  EXPECT_LE(chats.size(), 6u);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0]["code"], "rate_limited");
  // The host is exempt.
  int host = join(clients, a_, factory_token_);
  for (int i = 0; i < 12; ++i) say(clients, host, "sale " + std::to_string(i));
  ASSERT_TRUE(clients.waitFor(host, [](auto& m) {
    int n = 0;
    for (auto& c : ofType(m, "chat")) n += c["user"] == "主播";
    return n == 12;
  }));
}

}  // namespace
}  // namespace bloomcast
