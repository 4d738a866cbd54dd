// The orders part inside the real bloomcast executable with its embedded Redis: acknowledged
// orders survive kill -9 of redis-server (which bloomcast starts again) and of bloomcast, and the CSV export of 100,000 orders
// leaves the server's peak memory flat.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "TestSupport.h"
#include "orders/Keys.h"

namespace bloomcast {
namespace {

using namespace test;

const std::string kAdmin = "process-test-admin-token-0123456789";

pid_t readPid(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = -1;
  in >> pid;
  return pid;
}

// Peak resident set of a process, in KiB (VmHWM).
long peakRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
  return -1;
}

struct Api {
  std::string base;
  nlohmann::json post(const std::string& path, const nlohmann::json& body, const std::string& token,
                      long expect = 201) {
    auto r = http("POST", base + path, body.dump(),
                  {"Content-Type: application/json", "Authorization: Bearer " + token});
    EXPECT_EQ(r.status, expect) << path << " " << r.body;
    return nlohmann::json::parse(r.body, nullptr, false);
  }
};

RunningBloomcast start(const std::string& data_dir) {
  auto b = startBloomcast(data_dir, {"--admin-token", kAdmin, "--rate-limits", "off"});
  EXPECT_TRUE(waitUntil([&] { return http("GET", b.base_url + "/healthz").status == 200; }))
      << b.process->output();
  return b;
}

TEST(OrdersProcess, AcknowledgedOrdersSurviveKill9OfRedisAndOfBloomcast) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  auto b = start(data);
  Api api{b.base_url};
  auto f = api.post("/api/factories", {{"name", "厂"}}, kAdmin);
  auto s = api.post("/api/streams", {{"title", "t"}}, f["token"]);
  std::string stream = s["id"];
  api.post("/api/streams/" + stream + "/products", {{"sku", "A"}, {"title", "a"}, {"price_cents", 100}, {"stock", 1000}}, kAdmin);
  std::string buyer = api.post("/api/sessions", {{"name", "b"}}, "")["token"];
  std::set<std::string> acknowledged;
  auto placeSome = [&](Api& api, int n, const std::string& tag) {
    for (int i = 0; i < n; ++i) {
      auto j = api.post("/api/orders", {{"stream", stream}, {"sku", "A"}, {"qty", 1}, {"idempotency_key", tag + std::to_string(i)}}, buyer);
      acknowledged.insert(j["order_id"].get<std::string>());
    }
  };
  placeSome(api, 50, "a");

  // kill -9 of redis-server: every acknowledged order was written to the AOF before its reply.
  // bloomcast starts its Redis again by itself (a new pid in the pidfile, the AOF replayed), and
  // orders succeed again without a bloomcast restart.
  pid_t redis_pid = readPid(data + "/redis/redis.pid");
  ASSERT_GT(redis_pid, 0);
  kill(redis_pid, SIGKILL);
  ASSERT_TRUE(waitUntil([&] {
    pid_t now = readPid(data + "/redis/redis.pid");
    return now > 0 && now != redis_pid && kill(now, 0) == 0;
  }, std::chrono::seconds(10))) << b.process->output();
  // The first order is retried (under one idempotency key) until Redis has replayed its AOF.
  ASSERT_TRUE(waitUntil([&] {
    auto r = http("POST", b.base_url + "/api/orders",
                  nlohmann::json{{"stream", stream}, {"sku", "A"}, {"qty", 1}, {"idempotency_key", "back"}}.dump(),
                  {"Content-Type: application/json", "Authorization: Bearer " + buyer});
    if (r.status != 201) return false;
    acknowledged.insert(nlohmann::json::parse(r.body)["order_id"].get<std::string>());
    return true;
  }, std::chrono::seconds(10)));
  placeSome(api, 50, "b");
  EXPECT_NE(b.process->output().find("embedded redis: started again"), std::string::npos);

  // kill -9 of bloomcast: its redis-server gets SIGTERM (PR_SET_PDEATHSIG) and exits cleanly.
  pid_t redis2 = readPid(data + "/redis/redis.pid");
  b.process->signal(SIGKILL);
  b.process->wait(std::chrono::seconds(5));
  ASSERT_TRUE(waitUntil([&] { return kill(redis2, 0) != 0; }, std::chrono::seconds(10)));

  auto third = start(data);
  auto list = http("GET", third.base_url + "/api/orders?stream=" + stream + "&limit=1000", "",
                   {"Authorization: Bearer " + kAdmin});
  ASSERT_EQ(list.status, 200) << list.body;
  std::set<std::string> stored;
  auto listed = nlohmann::json::parse(list.body);
  for (const auto& o : listed["orders"]) stored.insert(o["order_id"].get<std::string>());
  for (const auto& id : acknowledged) EXPECT_TRUE(stored.contains(id)) << id;
  auto stream_json = nlohmann::json::parse(http("GET", third.base_url + "/api/streams/" + stream).body);
  EXPECT_EQ(stream_json["units"], static_cast<int64_t>(acknowledged.size()));
}

// SIGTERM while four clients place orders as fast as they can: requests the server took are
// answered, it exits 0, and after a restart every 201 is there (its key replays the same order)
// and no request that failed on the wire was carried out behind the client's back.
TEST(OrdersProcess, SigtermUnderOrderLoadAnswersWhatItTookAndExitsCleanly) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  auto b = start(data);
  Api api{b.base_url};
  auto f = api.post("/api/factories", {{"name", "厂"}}, kAdmin);
  std::string stream = api.post("/api/streams", {{"title", "t"}}, f["token"])["id"];
  api.post("/api/streams/" + stream + "/products", {{"sku", "A"}, {"title", "a"}, {"price_cents", 100}, {"stock", 1000000}}, kAdmin);
  std::string buyer = api.post("/api/sessions", {{"name", "b"}}, "")["token"];

  struct Outcome {
    std::string key;
    HttpResult result;
  };
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::atomic<int> created{0};
  std::atomic<bool> refused{false};
  auto order = [&](const std::string& base, const std::string& key) {
    return http("POST", base + "/api/orders",
                nlohmann::json{{"stream", stream}, {"sku", "A"}, {"qty", 1}, {"idempotency_key", key}}.dump(),
                {"Content-Type: application/json", "Authorization: Bearer " + buyer});
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !refused; ++i) {
        std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        auto r = order(b.base_url, key);
        if (r.status == 201) ++created;
        if (r.curl_code == 7) refused = true;  // the listener is gone
        std::lock_guard lock(mu);
        outcomes.push_back({key, std::move(r)});
      }
    });
  }
  ASSERT_TRUE(waitUntil([&] { return created >= 300; }, std::chrono::seconds(30)));
  b.process->signal(SIGTERM);
  EXPECT_EQ(b.process->wait(std::chrono::seconds(15)), 0) << b.process->output();
  for (auto& c : clients) c.join();

  std::size_t answered = 0, unanswered = 0;
  for (const auto& o : outcomes) {
    if (o.result.status != 0) {
      ++answered;
      EXPECT_TRUE(o.result.status == 201 || o.result.status == 503) << o.result.status << " " << o.result.body;
    } else {
      ++unanswered;
      // Refused before the request was read, or reset in the accept backlog: never a request
      // read and then dropped without an answer (that would be an empty reply, 52).
      EXPECT_NE(o.result.curl_code, 52) << o.key;
    }
  }
  EXPECT_GE(answered, 300u);

  auto again = start(data);
  for (const auto& o : outcomes) {
    auto r = order(again.base_url, o.key);
    if (o.result.status == 201) {
      EXPECT_EQ(r.status, 200) << o.key << ": an acknowledged order is gone";
      EXPECT_EQ(nlohmann::json::parse(r.body)["order_id"], nlohmann::json::parse(o.result.body)["order_id"]);
    } else {
      EXPECT_EQ(r.status, 201) << o.key << ": carried out without a 201 to the client";
    }
  }
}

TEST(OrdersProcess, CsvExportOf100000OrdersKeepsServerMemoryFlat) {
  constexpr int kOrders = 100000;
  // Under ASan freed memory sits in a quarantine and would look like growth: the child
  // bloomcast (which inherits this environment) gets a small one.
  std::string asan = getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "";
  setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "quarantine_size_mb=1").c_str(), 1);
  TempDir dir;
  std::string data = dir.path() + "/data";
  auto b = start(data);
  Api api{b.base_url};
  auto f = api.post("/api/factories", {{"name", "厂"}}, kAdmin);
  std::string stream = api.post("/api/streams", {{"title", "t"}}, f["token"])["id"];

  std::string small_stream = api.post("/api/streams", {{"title", "small"}}, f["token"])["id"];

  // Orders written straight into Redis in the place script's record format (fast to set up).
  std::string sock = data + "/redis/redis.sock";
  redisContext* c = redisConnectUnix(sock.c_str());
  ASSERT_TRUE(c && !c->err);
  for (auto [id, n] : {std::pair{stream, kOrders}, std::pair{small_stream, 1000}}) {
    auto* reply = static_cast<redisReply*>(redisCommand(
        c, "EVAL %s 2 %s %s %d",
        "for i = 1, tonumber(ARGV[1]) do "
        "  redis.call('HSET', KEYS[1], 'o:' .. i, 'created|SKU-' .. (i % 7) .. "
        "             '|1|1990|0123456789abcdef|1714564800123|1714564800123') "
        "end "
        "redis.call('HSET', KEYS[2], 'seq', ARGV[1]) return 1",
        orders::keys::orders(id).c_str(), orders::keys::stats(id).c_str(), n));
    ASSERT_TRUE(reply && reply->type == REDIS_REPLY_INTEGER) << (reply ? reply->str : c->errstr);
    freeReplyObject(reply);
  }
  redisFree(c);

  std::vector<std::string> auth{"Authorization: Bearer " + kAdmin};
  auto csvOf = [&](const std::string& id) {
    return http("GET", b.base_url + "/api/orders?stream=" + id + "&format=csv", "", auth, 120000);
  };
  // Warm up code paths and the allocator with a small export; a body built whole would then
  // raise the peak by at least its own size (about 10 MiB).
  ASSERT_EQ(csvOf(small_stream).status, 200);
  long before_kib = peakRssKib(b.process->pid());
  auto csv = csvOf(stream);
  long after_kib = peakRssKib(b.process->pid());
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), kOrders + 1);
  EXPECT_TRUE(csv.body.ends_with(",created,0123456789abcdef,2024-05-01T12:00:00.123Z,2024-05-01T12:00:00.123Z\n"));
  std::cout << "[ info ] CSV " << csv.body.size() / 1024 << " KiB; server peak RSS " << before_kib
            << " -> " << after_kib << " KiB\n";
  EXPECT_GT(csv.body.size(), 8u << 20);
  EXPECT_LT(after_kib - before_kib, 4 * 1024) << "the export is not built in memory";
}

}  // namespace
}  // namespace bloomcast
