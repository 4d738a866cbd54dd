#include "infra/EmbeddedRedis.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace bloomcast {
namespace fs = std::filesystem;
namespace {

bool pingOnce(const std::string& socket_path) {
  timeval tv{0, 200000};
  redisContext* c = redisConnectUnixWithTimeout(socket_path.c_str(), tv);
  if (!c) return false;
  bool ok = false;
  if (!c->err) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
  }
  redisFree(c);
  return ok;
}

bool waitExit(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

EmbeddedRedis::EmbeddedRedis(EmbeddedRedisOptions options) : options_(std::move(options)) {}

EmbeddedRedis::~EmbeddedRedis() { stop(); }

void EmbeddedRedis::stopLeftover() {
  std::ifstream in(options_.dir + "/redis.pid");
  pid_t old = 0;
  if (!(in >> old) || old <= 1) return;
  std::ifstream comm("/proc/" + std::to_string(old) + "/comm");
  std::string name;
  if (!(comm >> name) || name.rfind("redis-server", 0) != 0) return;
  spdlog::warn("embedded redis: stopping leftover redis-server pid {}", old);
  kill(old, SIGTERM);
  for (int i = 0; i < 500 && kill(old, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (kill(old, 0) == 0) kill(old, SIGKILL);
}

std::expected<void, Error> EmbeddedRedis::start() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) return std::unexpected(Error{"embedded_redis", "cannot create " + options_.dir + ": " + ec.message()});
  std::string dir = fs::absolute(options_.dir).string();
  options_.dir = dir;
  if (socketPath().size() >= 100)
    return std::unexpected(Error{"embedded_redis", "data dir path too long for a unix socket: " + dir});
  stopLeftover();

  // Orders are acknowledged only after Redis has them; the AOF keeps them across kill -9.
  // AOF rewrites: a restart replays the AOF's incremental part at ~55k orders/s on the bench VM
  // (26 s for 1.44M orders, 1.1 GB), and orders fail with 503 until it is done; a rewrite forks
  // (7-17 ms pause) and its child takes a core for 4-8 s (1.44M orders), costing 20-40% of the
  // order rate meanwhile, with no errors. So the incremental part is kept to ~256 MB (~350k
  // orders) or the size of the base, whichever is larger: a restart then takes ~6-9 s
  // (docs/reliability.md, "AOF rewrites and restart time").
  std::ofstream conf(dir + "/redis.conf", std::ios::trunc);
  conf << "# written by bloomcast on every start; edits are lost\n"
       << "port 0\n"
       << "unixsocket " << socketPath() << "\n"
       << "unixsocketperm 700\n"
       << "dir " << dir << "\n"
       << "pidfile " << dir << "/redis.pid\n"
       << "logfile " << dir << "/redis.log\n"
       << "daemonize no\n"
       << "save \"\"\n"
       << "appendonly yes\n"
       << "appendfsync " << options_.appendfsync << "\n"
       << "auto-aof-rewrite-percentage 100\n"
       << "auto-aof-rewrite-min-size 256mb\n"
       << "maxclients 10000\n"
       << "timeout 0\n";
  conf.close();
  if (!conf) return std::unexpected(Error{"embedded_redis", "cannot write " + dir + "/redis.conf"});

  if (auto r = spawn(); !r) return r;

  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return std::unexpected(Error{"embedded_redis", "redis-server exited at start (status " +
                                                         std::to_string(status) + "); see " + dir +
                                                         "/redis.log"});
    }
    if (pingOnce(socketPath())) {
      spdlog::info("embedded redis: pid {} on unix:{}", pid_, socketPath());
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  return std::unexpected(Error{"embedded_redis", "redis-server did not answer within " +
                                                     std::to_string(options_.start_timeout_ms) + " ms"});
}

std::expected<void, Error> EmbeddedRedis::spawn() {
  std::error_code ec;
  fs::remove(socketPath(), ec);
  // Everything the child needs is built before fork(): after it, the child of a threaded
  // process makes only async-signal-safe calls.
  std::string conf_path = options_.dir + "/redis.conf";
  const char* program = options_.redis_server.c_str();
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) return std::unexpected(Error{"embedded_redis", "fork failed"});
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    execlp(program, program, conf_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = child;
  spawned_at_ = std::chrono::steady_clock::now();
  return {};
}

void EmbeddedRedis::supervise(EventLoop& loop) {
  watch_ = std::make_unique<Timer>(loop);
  watch_->start(kWatchMs, kWatchMs, [this] { checkOnServer(); });
}

void EmbeddedRedis::checkOnServer() {
  using namespace std::chrono;
  auto now = steady_clock::now();
  if (pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return;
    std::string how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "exited with status " + std::to_string(WEXITSTATUS(status));
    bool ran_a_while = now - spawned_at_ >= minutes(1);
    backoff_ = ran_a_while ? milliseconds(0) : std::clamp(backoff_ * 2, milliseconds(250), milliseconds(10000));
    spdlog::error("embedded redis: pid {} {}; starting it again in {} ms (see {}/redis.log)", pid_, how,
                  backoff_.count(), options_.dir);
    pid_ = -1;
    restart_at_ = now + backoff_;
  }
  if (now < restart_at_) return;
  if (auto r = spawn(); !r) {
    backoff_ = std::clamp(backoff_ * 2, milliseconds(250), milliseconds(10000));
    restart_at_ = now + backoff_;
    spdlog::error("embedded redis: {}; trying again in {} ms", r.error().message, backoff_.count());
    return;
  }
  ++restarts_;
  spdlog::warn("embedded redis: started again as pid {}", pid_);
}

void EmbeddedRedis::stop() {
  watch_.reset();
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!waitExit(pid_, std::chrono::seconds(5))) {
    spdlog::warn("embedded redis: pid {} ignored SIGTERM, killing", pid_);
    kill(pid_, SIGKILL);
    waitExit(pid_, std::chrono::seconds(2));
  }
  pid_ = -1;
}

}  // namespace bloomcast
