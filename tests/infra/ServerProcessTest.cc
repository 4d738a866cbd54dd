// The bloomcast executable as operators run it: embedded Redis, /healthz and /metrics,
// Redis outages, configuration errors and graceful shutdown on SIGTERM/SIGINT.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "TestSupport.h"

namespace bloomcast {
namespace {

using namespace test;

bool processAlive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

// Redis connects asynchronously after start, so health is awaited, not sampled once.
bool becomesHealthy(const RunningBloomcast& b) {
  return waitUntil([&] { return http("GET", b.base_url + "/healthz").status == 200; });
}

pid_t readPid(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = -1;
  in >> pid;
  return pid;
}

TEST(ServerProcess, StartsWithItsOwnRedisAndAnswersHealthAndMetrics) {
  TempDir dir;
  auto b = startBloomcast(dir.path() + "/data", {});
  ASSERT_TRUE(b.process->running()) << b.process->output();
  EXPECT_TRUE(becomesHealthy(b)) << b.process->output();

  auto metrics = http("GET", b.base_url + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.headers["content-type"].find("text/plain; version=0.0.4"), std::string::npos);
  // Every line is a comment or "name{labels} value".
  std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.]+(e[-+]?[0-9]+)?|[-+]Inf|NaN)$)");
  std::istringstream lines(metrics.body);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << "bad line: " << line;
    ++samples;
  }
  EXPECT_GT(samples, 5);
  EXPECT_NE(metrics.body.find("# TYPE bloomcast_redis_up gauge"), std::string::npos);

  // The embedded redis-server keeps its AOF in the data dir.
  std::string redis_dir = dir.path() + "/data/redis";
  pid_t redis_pid = readPid(redis_dir + "/redis.pid");
  ASSERT_TRUE(processAlive(redis_pid));
  std::ifstream conf(redis_dir + "/redis.conf");
  std::stringstream conf_text;
  conf_text << conf.rdbuf();
  EXPECT_NE(conf_text.str().find("appendonly yes"), std::string::npos);

  auto started = std::chrono::steady_clock::now();
  b.process->signal(SIGTERM);
  EXPECT_EQ(b.process->wait(std::chrono::seconds(5)), 0) << b.process->output();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_TRUE(waitUntil([&] { return !processAlive(redis_pid); }, std::chrono::seconds(2)))
      << "embedded redis stopped with bloomcast";
}

TEST(ServerProcess, EmbeddedRedisDiesWithAKilledBloomcastAndARestartWorks) {
  TempDir dir;
  auto first = startBloomcast(dir.path() + "/data", {});
  ASSERT_TRUE(becomesHealthy(first)) << first.process->output();
  pid_t redis_pid = readPid(dir.path() + "/data/redis/redis.pid");
  first.process->signal(SIGKILL);
  first.process->wait(std::chrono::seconds(5));
  EXPECT_TRUE(waitUntil([&] { return !processAlive(redis_pid); }, std::chrono::seconds(5)));

  auto second = startBloomcast(dir.path() + "/data", {});
  EXPECT_TRUE(becomesHealthy(second)) << second.process->output();
  second.process->signal(SIGINT);
  EXPECT_EQ(second.process->wait(std::chrono::seconds(5)), 0);
}

TEST(ServerProcess, HealthzIs503WhileRedisIsDownAndRecoversWithoutRestart) {
  TempDir dir;
  RedisServer redis(RedisServer::Mode::Unix);  // kill -9 frees a TCP port another test may take
  auto b = startBloomcast(dir.path() + "/data", {"--redis", redis.url()});
  ASSERT_TRUE(becomesHealthy(b)) << b.process->output();

  redis.kill9();
  ASSERT_TRUE(waitUntil([&] { return http("GET", b.base_url + "/healthz").status == 503; }));
  auto down = http("GET", b.base_url + "/healthz");
  EXPECT_EQ(nlohmann::json::parse(down.body)["error"], "store_unavailable");

  redis.start();
  EXPECT_TRUE(waitUntil([&] { return http("GET", b.base_url + "/healthz").status == 200; }))
      << b.process->output();
  EXPECT_TRUE(b.process->running());
}

TEST(ServerProcess, BadConfigurationExitsWithAClearMessage) {
  Process p({bloomcastBinary(), "serve", "--http-port", "eighty"});
  EXPECT_EQ(p.wait(std::chrono::seconds(5)), 2);
  EXPECT_NE(p.output().find("http_port"), std::string::npos) << p.output();

  Process env({bloomcastBinary(), "serve"}, {{"BLOOMCAST_RATE_LIMITS", "sometimes"}});
  EXPECT_EQ(env.wait(std::chrono::seconds(5)), 2);
  EXPECT_NE(env.output().find("environment: rate_limits"), std::string::npos) << env.output();

  Process proxy({bloomcastBinary(), "serve", "--trusted-proxies", "10.0.0.0/8", "--trusted-proxies", "10.0.0.0/33"});
  EXPECT_EQ(proxy.wait(std::chrono::seconds(5)), 2);
  EXPECT_NE(proxy.output().find("command line: trusted_proxies: '10.0.0.0/33'"), std::string::npos) << proxy.output();
}

TEST(ServerProcess, UnreachableRedisUrlStillServesAnd503s) {
  TempDir dir;
  auto b = startBloomcast(dir.path() + "/data", {"--redis", "redis://127.0.0.1:" + std::to_string(freePort())},
                          std::chrono::seconds(3));
  ASSERT_TRUE(b.process->running()) << b.process->output();
  EXPECT_EQ(http("GET", b.base_url + "/healthz").status, 503);
  b.process->signal(SIGTERM);
  EXPECT_EQ(b.process->wait(std::chrono::seconds(5)), 0);
}

}  // namespace
}  // namespace bloomcast
