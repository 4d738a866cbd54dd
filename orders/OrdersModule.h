#pragma once
// OrdersModule: the orders part as app/ sees it — catalog, sessions, ordering and GMV on
// Redis, with their HTTP routes — plus the calls other parts need:
//   ingest: authorizePublish() (is this stream key good, and for which stream?) and
//           setStreamStatus() (live / offline / ended)
//   chat:   verifySession() and isStreamHost() for the tokens on /ws
//
// Construct after the RedisClient and HttpServer and before HttpServer::start() (it registers
// routes and Lua scripts). Destroy after RedisClient::close() or the RedisClient itself, since
// pending Redis replies call back into it (app/Server does both in that order).
//
// Thread: loop thread. Owned by app/Server.
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "infra/Config.h"
#include "infra/Error.h"
#include "infra/EventLoop.h"
#include "infra/HttpServer.h"
#include "infra/Metrics.h"
#include "infra/RedisClient.h"
#include "orders/ApiSupport.h"
#include "orders/RateLimiter.h"
#include "orders/Sessions.h"

namespace bloomcast::orders {

class Catalog;
class CatalogApi;
class DashboardFeed;
class GmvService;
class OrderService;
class OrdersApi;

struct OrdersOptions {
  std::string admin_token;
  bool rate_limits = true;
  std::string public_url;  // base of hls_url / page_url; "" = http://127.0.0.1:HTTP_PORT
  std::string rtmp_host = "127.0.0.1";
  int rtmp_port = 1935;
  int64_t order_expiry_ms = 15 * 60 * 1000;
  uint64_t expiry_interval_ms = 1000;  // 0: no periodic expiry (tests call expireDue)
  std::size_t expire_batch = 200;      // see OrderServiceOptions
  std::size_t expire_calls_per_pass = 10;
  uint64_t expiry_sweep_ms = 30000;    // see OrderServiceOptions
  // GET /api/streams and the campaign-wide GET /api/gmv and dashboard tick: one answer per node
  // this long (GmvService.h, SharedResult.h).
  uint64_t shared_answer_ms = 900;
  std::size_t max_events = 1000000;    // per stream event stream, MAXLEN ~
  std::size_t max_timeline = 10000;    // per stream replay timeline, MAXLEN ~
  std::size_t list_page = 1000;        // streams / factories read per page (Catalog::kListPage)
  RateLimit orders_per_session{2, 10};
  RateLimit orders_per_ip{100, 400};
  RateLimit sessions_per_ip{2, 20};
  api::Clock clock = api::systemClockMs;

  static OrdersOptions fromConfig(const Config& config);
};

class OrdersModule {
 public:
  OrdersModule(EventLoop& loop, RedisClient& redis, HttpServer& http, MetricsRegistry& metrics,
               const Config& config);
  OrdersModule(EventLoop& loop, RedisClient& redis, HttpServer& http, MetricsRegistry& metrics,
               OrdersOptions options);
  ~OrdersModule();

  // Ingest: answers the stream id that `stream_key` may publish to; "forbidden" for a wrong or
  // unknown key, "stream_ended" for an ended stream, "store_unavailable" when Redis does not
  // answer. Callback on the loop thread.
  void authorizePublish(const std::string& stream_key,
                        std::function<void(std::expected<std::string, Error>)> cb);
  // Ingest: a publisher started (live) or stopped (offline). Fire and forget; failures are
  // logged. A stream the organizer or owner ended stays ended and takes no new orders.
  void setPublishStatus(const std::string& stream_id, bool live);

  // Chat: the viewer a session token names (no Redis).
  std::optional<Session> verifySession(std::string_view token) const;
  // Chat: whether `token` is the factory token of the stream's factory (speaks as host).
  void isStreamHost(const std::string& token, const std::string& stream_id,
                    std::function<void(std::expected<bool, Error>)> cb);

  Catalog& catalog() { return *catalog_; }
  OrderService& orders() { return *orders_; }
  GmvService& gmv() { return *gmv_; }
  const Sessions& sessions() const { return *sessions_; }

 private:
  OrdersOptions options_;
  std::unique_ptr<Sessions> sessions_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<OrderService> orders_;
  std::unique_ptr<GmvService> gmv_;
  std::unique_ptr<DashboardFeed> dashboard_;
  std::unique_ptr<CatalogApi> catalog_api_;
  std::unique_ptr<OrdersApi> orders_api_;
  Timer sweep_timer_;
};

}  // namespace bloomcast::orders
