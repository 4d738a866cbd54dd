#include "orders/OrdersModule.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "orders/Catalog.h"
#include "orders/CatalogApi.h"
#include "orders/DashboardFeed.h"
#include "orders/GmvService.h"
#include "orders/OrderService.h"
#include "orders/OrdersApi.h"

namespace bloomcast::orders {
namespace {

constexpr uint64_t kSweepIntervalMs = 10000;

// "http://example.com:8080/x" -> "example.com"
std::string hostOf(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto end = url.find_first_of(":/", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

OrdersOptions OrdersOptions::fromConfig(const Config& config) {
  OrdersOptions o;
  o.admin_token = config.admin_token;
  o.rate_limits = config.rate_limits;
  o.public_url = config.public_url;
  while (!o.public_url.empty() && o.public_url.back() == '/') o.public_url.pop_back();
  if (!o.public_url.empty()) o.rtmp_host = hostOf(o.public_url);
  else if (config.bind_address != "0.0.0.0") o.rtmp_host = config.bind_address;
  o.rtmp_port = config.rtmp_port;
  o.order_expiry_ms = config.order_expiry_s * 1000;
  return o;
}

OrdersModule::OrdersModule(EventLoop& loop, RedisClient& redis, HttpServer& http,
                           MetricsRegistry& metrics, const Config& config)
    : OrdersModule(loop, redis, http, metrics, OrdersOptions::fromConfig(config)) {}

OrdersModule::OrdersModule(EventLoop& loop, RedisClient& redis, HttpServer& http,
                           MetricsRegistry& metrics, OrdersOptions options)
    : options_(std::move(options)), sweep_timer_(loop) {
  sessions_ = std::make_unique<Sessions>(options_.admin_token);
  catalog_ = std::make_unique<Catalog>(redis, *sessions_, options_.admin_token, options_.max_timeline,
                                       options_.list_page);
  orders_ = std::make_unique<OrderService>(
      loop, redis, metrics,
      OrderServiceOptions{options_.order_expiry_ms, options_.expiry_interval_ms, options_.max_events,
                          options_.expire_batch, options_.expire_calls_per_pass, options_.expiry_sweep_ms,
                          options_.clock});
  gmv_ = std::make_unique<GmvService>(redis, *catalog_, options_.shared_answer_ms);
  dashboard_ = std::make_unique<DashboardFeed>(loop, http, *gmv_, options_.admin_token);

  CatalogApiOptions catalog_options;
  catalog_options.public_base = [this, &http] {
    return options_.public_url.empty() ? "http://127.0.0.1:" + std::to_string(http.port())
                                       : options_.public_url;
  };
  catalog_options.rtmp_base = [this] {
    return "rtmp://" + options_.rtmp_host + ":" + std::to_string(options_.rtmp_port) + "/live/";
  };
  catalog_options.rate_limits = options_.rate_limits;
  catalog_options.sessions_per_ip = options_.sessions_per_ip;
  catalog_options.clock = options_.clock;
  catalog_options.list_shared_ms = options_.shared_answer_ms;
  catalog_options.stream_shared_ms = options_.shared_answer_ms;
  catalog_api_ = std::make_unique<CatalogApi>(http, *catalog_, *sessions_, catalog_options);

  OrdersApiOptions orders_options;
  orders_options.rate_limits = options_.rate_limits;
  orders_options.orders_per_session = options_.orders_per_session;
  orders_options.orders_per_ip = options_.orders_per_ip;
  orders_options.clock = options_.clock;
  orders_api_ = std::make_unique<OrdersApi>(http, *catalog_api_, *catalog_, *sessions_, *orders_,
                                            *gmv_, orders_options);

  sweep_timer_.start(kSweepIntervalMs, kSweepIntervalMs, [this] {
    auto now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now().time_since_epoch())
                                            .count());
    catalog_api_->sweepRateLimits(now_ms);
    orders_api_->sweepRateLimits(now_ms);
  });
}

OrdersModule::~OrdersModule() = default;

void OrdersModule::authorizePublish(const std::string& stream_key,
                                    std::function<void(std::expected<std::string, Error>)> cb) {
  catalog_->authorizePublish(stream_key, std::move(cb));
}

void OrdersModule::setPublishStatus(const std::string& stream_id, bool live) {
  catalog_->setPublishStatus(stream_id, live, [stream_id, live](std::expected<bool, Error> r) {
    const char* status = live ? "live" : "offline";
    if (!r) spdlog::warn("orders: stream {} status {}: {}", stream_id, status, r.error().message);
    else if (!*r) spdlog::info("orders: stream {} has ended; stays ended, not {}", stream_id, status);
  });
}

std::optional<Session> OrdersModule::verifySession(std::string_view token) const {
  return sessions_->verify(token, options_.clock() / 1000);
}

void OrdersModule::isStreamHost(const std::string& token, const std::string& stream_id,
                                std::function<void(std::expected<bool, Error>)> cb) {
  catalog_->isStreamHost(token, stream_id, std::move(cb));
}

}  // namespace bloomcast::orders
