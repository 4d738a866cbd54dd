#pragma once
// CatalogApi: the HTTP calls that manage the catalog and identities —
//   POST /api/factories, GET /api/factories                              (organizer)
//   POST /api/streams                                                   (organizer, factory)
//   GET  /api/streams, GET /api/streams/:id                             (anyone)
//   POST /api/streams/:id/key, POST /api/streams/:id/status              (organizer, owner)
//   POST /api/streams/:id/products, POST /api/streams/:id/pin            (organizer, owner)
//   PATCH /api/streams/:id/products/:sku, DELETE /api/streams/:id/pin   (organizer, owner)
//   GET  /api/streams/:id/products, GET /api/streams/:id/timeline        (anyone)
//   POST /api/sessions                                                  (anyone; rate limited per IP)
// Answers are JSON; errors {"error","message"} (ApiSupport.h). Stream keys appear only in the
// answers of stream creation and key rotation, never in anything a viewer can read.
//
// Thread: loop thread. Owned by OrdersModule; routes hold `this`, so it lives as long as the
// HttpServer serves.
#include <cstddef>
#include <functional>
#include <string>

#include "infra/HttpServer.h"
#include "orders/ApiSupport.h"
#include "orders/Catalog.h"
#include "orders/RateLimiter.h"
#include "orders/Sessions.h"
#include "orders/SharedResult.h"

namespace bloomcast::orders {

struct CatalogApiOptions {
  std::function<std::string()> public_base;  // "http://host:port", for hls_url and page_url
  std::function<std::string()> rtmp_base;    // "rtmp://host:port/live/"
  bool rate_limits = true;
  RateLimit sessions_per_ip{2, 20};
  api::Clock clock = api::systemClockMs;
  uint64_t list_shared_ms = 900;  // GET /api/streams: one answer per node this long (SharedResult)
  // GET /api/streams/:id, its products and its timeline: one answer per stream and node this
  // long, for at most max_shared_streams streams at a time (SharedResults).
  uint64_t stream_shared_ms = 900;
  std::size_t max_shared_streams = 4096;
};

class CatalogApi {
 public:
  CatalogApi(HttpServer& http, Catalog& catalog, const Sessions& sessions,
             CatalogApiOptions options);

  // Public JSON of a stream (no secrets).
  nlohmann::json streamJson(const StreamInfo& s) const;
  static nlohmann::json productJson(const Product& p);

  // The principal, or answers 401 itself.
  void withPrincipal(const HttpRequest& req, const HttpResponder& r,
                     std::function<void(Principal)> then);
  // The stream, when the request's principal may manage it; or answers 401/403/404 itself.
  void withManagedStream(const HttpRequest& req, const HttpResponder& r,
                         std::function<void(Principal, StreamInfo)> then);

  void sweepRateLimits(uint64_t now_ms) { sessions_per_ip_.sweep(now_ms); }

 private:
  void createFactory(HttpRequest& req, HttpResponder r);
  void listFactories(HttpRequest& req, HttpResponder r);
  void createStream(HttpRequest& req, HttpResponder r);
  void listStreams(HttpRequest& req, HttpResponder r);
  void getStream(HttpRequest& req, HttpResponder r);
  void rotateKey(HttpRequest& req, HttpResponder r);
  void setStatus(HttpRequest& req, HttpResponder r);
  void createProduct(HttpRequest& req, HttpResponder r);
  void listProducts(HttpRequest& req, HttpResponder r);
  void updateProduct(HttpRequest& req, HttpResponder r);
  void pin(HttpRequest& req, HttpResponder r);
  void unpin(HttpRequest& req, HttpResponder r);
  void timeline(HttpRequest& req, HttpResponder r);
  void createSession(HttpRequest& req, HttpResponder r);

  Catalog& catalog_;
  const Sessions& sessions_;
  CatalogApiOptions options_;
  RateLimiter sessions_per_ip_;
  SharedResult<std::string> stream_list_;  // GET /api/streams's body
  // The bodies of a stream's public reads, by stream id.
  SharedResults<std::string> stream_bodies_, product_bodies_, timeline_bodies_;
};

}  // namespace bloomcast::orders
