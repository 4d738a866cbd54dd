#pragma once
// Server: one bloomcast process — wires the parts together around one EventLoop.
//
//   main thread = loop thread: EventLoop (libuv) <- lws HTTP/WS, Redis (hiredis), RTMP (later)
//   EmbeddedRedis: a child redis-server when no --redis is given
//
// Shutdown (SIGINT/SIGTERM): stop accepting, let requests in flight finish (up to
// shutdown_timeout_ms), close Redis and HTTP, stop the loop, stop the embedded Redis; run()
// then returns 0.
// Thread: constructed, run and destroyed on the main thread.
#include <csignal>
#include <expected>
#include <functional>
#include <memory>

#include "infra/Config.h"
#include "infra/EmbeddedRedis.h"
#include "infra/EventLoop.h"
#include "infra/HttpServer.h"
#include "infra/Metrics.h"
#include "infra/OpsRoutes.h"
#include "infra/RedisClient.h"
#include "app/Adapters.h"
#include "chat/ChatService.h"
#include "orders/OrdersModule.h"
#include "ingest/RtmpServer.h"
#include "transcode/HlsPipelineFactory.h"

namespace bloomcast {

class Server {
 public:
  explicit Server(Config config);
  ~Server();

  // Starts everything, runs the loop until shutdown, returns the exit code.
  int run();

  // Called on the loop thread once the server is listening (demo mode hooks in here).
  std::function<void(Server&)> on_ready;
  // Called on the loop thread when the graceful shutdown begins (demo mode stops its publisher).
  std::function<void()> on_shutdown;

  EventLoop& loop() { return loop_; }
  const Config& config() const { return config_; }
  int httpPort() const { return http_ ? http_->port() : 0; }
  int rtmpPort() const;
  // The orders part (catalog, sessions, stream keys); null before run() has wired it.
  orders::OrdersModule* orders() { return orders_.get(); }
  // Where ingest hands each publish (the HLS pipelines); null before run() has wired it.
  MediaSinkFactory* mediaSinks() { return hls_.get(); }
  // Begins the graceful shutdown (loop thread).
  void shutdown();

 private:
  std::expected<void, Error> prepareDataDir();
  std::expected<void, Error> startRedis();
  void finishShutdown();

  Config config_;
  EventLoop loop_;
  MetricsRegistry metrics_;
  std::unique_ptr<EmbeddedRedis> embedded_redis_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<OpsRoutes> ops_;
  std::unique_ptr<orders::OrdersModule> orders_;  // destroyed after redis_ is closed
  std::unique_ptr<OrdersChatAuthority> chat_authority_;
  std::unique_ptr<chat::ChatService> chat_;
  std::unique_ptr<transcode::HlsPipelineFactory> hls_;  // outlives the RTMP server's sinks
  std::unique_ptr<OrdersPublishGate> publish_gate_;
  std::unique_ptr<ingest::RtmpServer> rtmp_;
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  std::unique_ptr<Timer> shutdown_timer_;
  bool shutting_down_ = false;
};

}  // namespace bloomcast
