#pragma once
// EmbeddedRedis: the redis-server bloomcast starts for itself when no --redis is given, so that
// one command brings up a working system.
//
// It lives in DATA_DIR/redis/: redis.conf (written on every start), the unix socket redis.sock,
// the AOF directory and redis.log. It listens on no TCP port. The child gets PR_SET_PDEATHSIG,
// so it goes down with bloomcast even on kill -9 (Redis then exits cleanly, flushing its AOF);
// a server left over from an earlier run (its pidfile names a live redis-server) is stopped
// before a new one starts, so two servers never share one AOF.
//
// Thread: start() and stop() on the main thread, before the loop runs and after it ends
// (start() blocks until the server answers PING, at most timeout_ms).
#include <sys/types.h>

#include <expected>
#include <string>

#include "infra/Error.h"

namespace bloomcast {

struct EmbeddedRedisOptions {
  std::string dir;                          // DATA_DIR/redis
  // "everysec": Redis 7 replies only after the AOF write(), so an acknowledged order survives
  // kill -9 of redis-server or bloomcast; an OS crash or power loss may lose up to 1 s.
  // "always" also survives those, at 0-35% of the order throughput (docs/perf.md, orders).
  std::string appendfsync = "everysec";
  std::string redis_server = "redis-server";
  int start_timeout_ms = 10000;
};

class EmbeddedRedis {
 public:
  explicit EmbeddedRedis(EmbeddedRedisOptions options);
  ~EmbeddedRedis();

  std::expected<void, Error> start();
  // SIGTERM (Redis flushes the AOF and exits), SIGKILL after 5 s.
  void stop();

  std::string socketPath() const { return options_.dir + "/redis.sock"; }
  std::string url() const { return "unix:" + socketPath(); }
  pid_t pid() const { return pid_; }

 private:
  void stopLeftover();
  EmbeddedRedisOptions options_;
  pid_t pid_ = -1;
};

}  // namespace bloomcast
