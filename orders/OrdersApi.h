#pragma once
// OrdersApi: the HTTP calls of buying and of the numbers —
//   POST /api/orders {"stream","sku","qty","idempotency_key"}   (buyer session; rate limited)
//   POST /api/orders/:id/pay                                      (the buyer; organizer)
//   POST /api/orders/:id/cancel                                   (the buyer; organizer, owner)
//   GET  /api/orders?stream=ID[&after=SEQ][&limit=N]              (organizer, owner) JSON page
//   GET  /api/orders?[stream=ID&]format=csv                       (organizer, owner) CSV, streamed
//   GET  /api/gmv[?stream=ID][&minutes=N]                         (anyone)
//
// Placing an order: per-IP bucket, session check (HMAC, no Redis), per-session bucket, JSON
// validation, then one EVALSHA. 201 {"order_id","amount_cents","status":"created"}; a replayed
// idempotency key 200 with the first answer; 503 store_unavailable whenever the script's
// answer did not arrive — never a success that was not stored.
//
// The CSV export pulls 500 orders per Redis call only when the socket has taken the previous
// piece (HttpResponse::streamed), so memory stays flat for any number of orders.
//
// Thread: loop thread. Owned by OrdersModule; routes hold `this`.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "infra/HttpServer.h"
#include "orders/ApiSupport.h"
#include "orders/CatalogApi.h"
#include "orders/GmvService.h"
#include "orders/OrderService.h"
#include "orders/RateLimiter.h"
#include "orders/Sessions.h"

namespace bloomcast::orders {

struct OrdersApiOptions {
  bool rate_limits = true;
  RateLimit orders_per_session{2, 10};
  RateLimit orders_per_ip{100, 400};
  api::Clock clock = api::systemClockMs;
  int64_t csv_batch = 500;  // orders per Redis call in the CSV export
};

class OrdersApi {
 public:
  OrdersApi(HttpServer& http, CatalogApi& catalog_api, Catalog& catalog, const Sessions& sessions,
            OrderService& orders, GmvService& gmv, OrdersApiOptions options);

  void sweepRateLimits(uint64_t now_ms);

  // One CSV line (with "\n") of an order; the header is csvHeader().
  static std::string csvHeader();
  static void appendCsv(std::string& out, const Order& o);

 private:
  void placeOrder(HttpRequest& req, HttpResponder r);
  void pay(HttpRequest& req, HttpResponder r);
  void cancel(HttpRequest& req, HttpResponder r);
  void getOrder(HttpRequest& req, HttpResponder r);
  void listOrders(HttpRequest& req, HttpResponder r);
  void gmv(HttpRequest& req, HttpResponder r);
  // Who acts on an order: "" for the organizer or the owning factory, else the buyer's id.
  void withOrderActor(HttpRequest& req, const HttpResponder& r,
                      std::function<void(std::string order_id, std::string buyer_id)> then);
  // One page of a stream's orders for GET /api/orders: oldest first after `from`, or newest
  // first before it (docs/API.md).
  struct ListPage {
    bool newest_first = false;
    int64_t from = 0;
    int64_t limit = 0;
  };
  void sendPage(const std::string& stream_id, ListPage page, const HttpResponder& r);
  void exportCsv(std::vector<std::string> stream_ids, const HttpResponder& r);

  CatalogApi& catalog_api_;
  Catalog& catalog_;
  const Sessions& sessions_;
  OrderService& orders_;
  GmvService& gmv_;
  // GET /api/gmv's last body per series class, with the shared snapshot and the minutes it
  // shows: the home page of every viewer asks for the same one (rendering the streams cost
  // ~6 ms at 2,000 of them, more than the shared snapshot saved).
  struct Rendered {
    GmvService::Shared snapshot;
    std::size_t minutes = 0;
    std::string body;
  };
  std::map<int64_t, Rendered> rendered_;
  OrdersApiOptions options_;
  RateLimiter per_session_;
  RateLimiter per_ip_;
};

}  // namespace bloomcast::orders
