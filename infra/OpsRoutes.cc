#include "infra/OpsRoutes.h"

#include <nlohmann/json.hpp>

namespace bloomcast {

namespace {
constexpr uint64_t kHealthTimeoutMs = 1000;
}

OpsRoutes::OpsRoutes(EventLoop& loop, HttpServer& http, RedisClient& redis,
                     MetricsRegistry& metrics)
    : loop_(loop),
      redis_(redis),
      metrics_(metrics),
      ping_timer_(loop),
      started_(std::chrono::steady_clock::now()) {
  redis_up_ = metrics_.gauge("bloomcast_redis_up", "1 when the last Redis PING was answered");
  redis_latency_ = metrics_.histogram("bloomcast_redis_latency_seconds",
                                      "Round trip of a Redis PING", latencyBucketsSeconds());
  metrics_.gaugeCallback("bloomcast_redis_pending_commands", "Redis commands awaiting a reply",
                         [this] { return static_cast<double>(redis_.pendingCommands()); });
  metrics_.gaugeCallback("bloomcast_loop_queue_depth", "Tasks posted to the loop, not yet run",
                         [this] { return static_cast<double>(loop_.queuedTasks()); });
  metrics_.gaugeCallback("bloomcast_loop_queue_high_water", "Most tasks ever waiting at once",
                         [this] { return static_cast<double>(loop_.queueHighWater()); });
  metrics_.gaugeCallback("bloomcast_uptime_seconds", "Seconds since start", [this] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  });

  http.route("GET", "/healthz", [this](HttpRequest&, HttpResponder responder) {
    redis_.command(
        {"PING"},
        [responder](RedisResult r) {
          if (r && !r->isError()) {
            responder.send(HttpResponse::json(200, {{"status", "ok"}, {"redis", "up"}}));
          } else {
            responder.send(HttpResponse::error(503, "store_unavailable",
                                               r ? r->str : r.error().message));
          }
        },
        kHealthTimeoutMs);
  });
  http.route("GET", "/metrics", [this](HttpRequest&, HttpResponder responder) {
    responder.send(HttpResponse::text(200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8"));
  });
  ping_timer_.start(1000, 1000, [this] { ping(); });
}

void OpsRoutes::ping() {
  auto sent = std::chrono::steady_clock::now();
  redis_.command(
      {"PING"},
      [this, sent](RedisResult r) {
        bool up = r && !r->isError();
        redis_up_->set(up ? 1 : 0);
        if (up)
          redis_latency_->observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count());
      },
      kHealthTimeoutMs);
}

}  // namespace bloomcast
