#pragma once
// EmbeddedRedis: the redis-server bloomcast starts for itself when no --redis is given, so that
// one command brings up a working system.
//
// It lives in DATA_DIR/redis/: redis.conf (written on every start), the unix socket redis.sock,
// the AOF directory and redis.log. It listens on no TCP port. The child gets PR_SET_PDEATHSIG,
// so it goes down with bloomcast even on kill -9 (Redis then exits cleanly, flushing its AOF);
// a server left over from an earlier run (its pidfile names a live redis-server) is stopped
// before a new one starts, so two servers never share one AOF. Once the loop runs, supervise()
// restarts a server that exits on its own (a crash, kill -9, the OOM killer): it replays its
// AOF, and the RedisClient, which redials by itself, carries on without a bloomcast restart.
//
// Thread: start() and stop() on the main thread, before the loop runs and after it ends
// (start() blocks until the server answers PING, at most timeout_ms); supervise() on the loop
// thread, which must be the thread that called start() (PR_SET_PDEATHSIG follows the thread).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "infra/Error.h"
#include "infra/EventLoop.h"

namespace bloomcast {

struct EmbeddedRedisOptions {
  std::string dir;                          // DATA_DIR/redis
  // "always": Redis fsyncs the AOF before it sends the replies of an event-loop turn, so an
  // acknowledged order survives kill -9 of redis-server or bloomcast, and power loss. Not
  // "everysec": Redis 7.0 postpones the AOF write() (up to 2 s) while a background fsync runs,
  // yet still replies, so kill -9 in that window loses acknowledged orders. The cost, 14-42% of
  // the order throughput by orders in flight: docs/reliability.md, "Durability choice".
  std::string appendfsync = "always";
  std::string redis_server = "redis-server";
  int start_timeout_ms = 10000;
};

class EmbeddedRedis {
 public:
  explicit EmbeddedRedis(EmbeddedRedisOptions options);
  ~EmbeddedRedis();

  std::expected<void, Error> start();
  // Checks every kWatchMs whether the server has exited, and starts it again: at once after a
  // server that ran for a minute, else after a delay doubling from 250 ms to 10 s (a server
  // that cannot start does not spin). Not waited for: the client redials until it answers.
  void supervise(EventLoop& loop);
  // SIGTERM (Redis flushes the AOF and exits), SIGKILL after 5 s. Ends the supervision.
  void stop();
  uint64_t restarts() const { return restarts_; }

  static constexpr uint64_t kWatchMs = 100;

  std::string socketPath() const { return options_.dir + "/redis.sock"; }
  std::string url() const { return "unix:" + socketPath(); }
  pid_t pid() const { return pid_; }

 private:
  void stopLeftover();
  std::expected<void, Error> spawn();
  void checkOnServer();
  EmbeddedRedisOptions options_;
  pid_t pid_ = -1;
  std::unique_ptr<Timer> watch_;
  std::chrono::steady_clock::time_point spawned_at_{};
  std::chrono::steady_clock::time_point restart_at_{};
  std::chrono::milliseconds backoff_{0};
  uint64_t restarts_ = 0;
};

}  // namespace bloomcast
