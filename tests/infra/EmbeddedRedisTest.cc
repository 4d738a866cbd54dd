// EmbeddedRedis's supervision with a real redis-server: a server that exits is started again,
// and one that keeps exiting is started again later each time.
#include "infra/EmbeddedRedis.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "LoopThread.h"
#include "TestSupport.h"

namespace bloomcast {
namespace {

using test::LoopThread;
using test::TempDir;
using test::waitUntil;

bool answersPing(const std::string& socket_path) {
  redisContext* c = redisConnectUnix(socket_path.c_str());
  bool ok = false;
  if (c && !c->err) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return ok;
}

std::string configValue(const std::string& socket_path, const char* name) {
  redisContext* c = redisConnectUnix(socket_path.c_str());
  std::string value;
  if (c && !c->err) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "CONFIG GET %s", name));
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) value.assign(r->element[1]->str, r->element[1]->len);
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return value;
}

// The AOF is on, fsynced as configured: "always" unless the operator chose "no".
TEST(EmbeddedRedis, RunsTheAofWithTheConfiguredFsync) {
  for (std::string fsync : {"always", "no"}) {
    SCOPED_TRACE(fsync);
    TempDir dir;
    EmbeddedRedisOptions options{.dir = dir.path() + "/redis"};
    if (fsync != "always") options.appendfsync = fsync;
    EmbeddedRedis redis(options);
    ASSERT_TRUE(redis.start().has_value());
    EXPECT_EQ(configValue(redis.socketPath(), "appendonly"), "yes");
    EXPECT_EQ(configValue(redis.socketPath(), "appendfsync"), fsync);
  }
}

TEST(EmbeddedRedis, AServerThatExitsIsStartedAgainAndOneThatKeepsExitingLater) {
  TempDir dir;
  LoopThread lt;
  EmbeddedRedis redis({.dir = dir.path() + "/redis"});
  // Started and supervised from the loop thread: the child's PR_SET_PDEATHSIG follows it.
  ASSERT_TRUE(lt.sync([&] {
    auto started = redis.start();
    if (started) redis.supervise(lt.loop());
    return started.has_value();
  }));
  auto pid = [&] { return lt.sync([&] { return redis.pid(); }); };
  auto restarts = [&] { return lt.sync([&] { return redis.restarts(); }); };

  pid_t first = pid();
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_TRUE(waitUntil([&] { return restarts() == 1; }, std::chrono::seconds(5)));
  pid_t second = pid();
  EXPECT_NE(second, first);
  ASSERT_TRUE(waitUntil([&] { return answersPing(redis.socketPath()); }, std::chrono::seconds(5)));

  // It died again within a minute of its start: the next start waits (250 ms, then 500 ms).
  auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(second, SIGKILL), 0);
  ASSERT_TRUE(waitUntil([&] { return restarts() == 2; }, std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - killed, std::chrono::milliseconds(500));
  EXPECT_NE(pid(), second);
  EXPECT_TRUE(waitUntil([&] { return answersPing(redis.socketPath()); }, std::chrono::seconds(5)));

  // stop() ends the supervision: the server is not started again.
  pid_t last = pid();
  lt.sync([&] { redis.stop(); });
  EXPECT_NE(kill(last, 0), 0) << "stopped";
  EXPECT_FALSE(answersPing(redis.socketPath()));
  EXPECT_EQ(restarts(), 2u);
}

}  // namespace
}  // namespace bloomcast
