#pragma once
// Operations endpoints: GET /healthz (200 when the loop runs and Redis answers PING, else 503)
// and GET /metrics (Prometheus text). A 1 s Redis PING feeds bloomcast_redis_up and the
// bloomcast_redis_latency_seconds histogram.
// Thread: loop thread. Owned by app/; must outlive nothing it registers (routes hold `this`).
#include <chrono>
#include <memory>

#include "infra/EventLoop.h"
#include "infra/HttpServer.h"
#include "infra/Metrics.h"
#include "infra/RedisClient.h"

namespace bloomcast {

class OpsRoutes {
 public:
  OpsRoutes(EventLoop& loop, HttpServer& http, RedisClient& redis, MetricsRegistry& metrics);

 private:
  void ping();

  EventLoop& loop_;
  RedisClient& redis_;
  MetricsRegistry& metrics_;
  Timer ping_timer_;
  std::shared_ptr<Gauge> redis_up_;
  std::shared_ptr<Histogram> redis_latency_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace bloomcast
