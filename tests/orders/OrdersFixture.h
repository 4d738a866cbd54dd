#pragma once
// OrdersFixture: a real redis-server, an in-process HttpServer with the orders part on a
// LoopThread, and helpers that speak the HTTP API like a client: organizer, factories,
// streams, products, viewer sessions, orders. Plus ConcurrentHttp: many requests over many
// keep-alive connections from one thread (libcurl multi), for the flash-sale tests.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "LoopThread.h"
#include "TestSupport.h"
#include "infra/HttpServer.h"
#include "infra/Metrics.h"
#include "infra/RedisClient.h"
#include "orders/OrdersModule.h"

namespace bloomcast::orders::test {

using bloomcast::test::http;
using bloomcast::test::HttpResult;
using bloomcast::test::LoopThread;
using bloomcast::test::RedisServer;
using bloomcast::test::waitUntil;

struct Request {
  std::string method;
  std::string path;
  std::string body;
  std::string token;
};

struct Reply {
  long status = 0;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// Runs `requests` against base_url over `connections` keep-alive connections at once.
std::vector<Reply> runConcurrently(const std::string& base_url, const std::vector<Request>& requests,
                                   int connections, long timeout_ms = 30000);

inline const std::string kAdmin = "admin-token-for-tests-0123456789";

struct Created {
  std::string id;
  std::string secret;
};

class OrdersFixture : public ::testing::Test {
 protected:
  // Starts everything; `configure` may change the module options first, `configure_http` the
  // HTTP server's (trusted proxies, say).
  void start(std::vector<std::string> redis_config = {},
             std::function<void(OrdersOptions&)> configure = {},
             std::function<void(HttpServerOptions&)> configure_http = {});
  void TearDown() override;

  // `headers`: more request header lines ("X-Forwarded-For: ...").
  HttpResult call(const std::string& method, const std::string& path, const nlohmann::json& body,
                  const std::string& token, const std::vector<std::string>& headers = {});
  HttpResult get(const std::string& path, const std::string& token = "");
  Created createFactory(const std::string& name = "东莞一厂");
  Created createStream(const Created& factory, const std::string& title = "夏季上新");
  void addProduct(const std::string& stream, const std::string& sku, int64_t price_cents,
                  int64_t stock, int64_t limit_per_buyer = 0, const std::string& title = "茶具");
  std::string newSession(const std::string& name = "小明");
  HttpResult order(const std::string& token, const std::string& stream, const std::string& sku,
                   int64_t qty, const std::string& key);
  Request orderRequest(const std::string& token, const std::string& stream, const std::string& sku,
                       int64_t qty, const std::string& key);
  // Redis values, read with a separate synchronous connection.
  int64_t stockOf(const std::string& stream, const std::string& sku);
  int64_t statOf(const std::string& stream, const std::string& field);
  int64_t eventCount(const std::string& stream);
  // How many times Redis ran `command` (lower case, "evalsha"), from INFO commandstats.
  int64_t commandCalls(const std::string& command);

  std::unique_ptr<RedisServer> redis_server_;
  LoopThread lt_;
  MetricsRegistry metrics_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<OrdersModule> module_;
  std::string base_;
  std::atomic<int64_t> clock_offset_ms_{0};  // added to the wall clock the module sees
};

}  // namespace bloomcast::orders::test
