#include "orders/OrdersApi.h"

#include "infra/TrustedProxies.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>

namespace bloomcast::orders {
namespace {

static_assert(api::kMaxOrderQty == OrderService::kMaxQty, "decodeOrderBody bounds qty as place() does");

constexpr int64_t kDefaultPage = 100;
constexpr int64_t kMaxPage = 1000;

uint64_t monotonicMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// 2024-05-01T12:00:00.123Z
void appendIsoTime(std::string& out, int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(ms % 1000));
  out.append(buf, static_cast<std::size_t>(n));
}

nlohmann::json orderJson(const Order& o) {
  return {{"order_id", o.id},       {"stream", o.stream_id},     {"sku", o.sku},
          {"qty", o.qty},           {"amount_cents", o.amount_cents}, {"status", o.status},
          {"buyer", o.buyer_id},    {"created_at", o.created_ms}, {"updated_at", o.updated_ms}};
}

std::optional<int64_t> queryInt(const HttpRequest& req, const char* name, int64_t min, int64_t max) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || v < min || v > max)
    return min - 1;  // caller treats as invalid
  return v;
}

}  // namespace

OrdersApi::OrdersApi(HttpServer& http, CatalogApi& catalog_api, Catalog& catalog,
                     const Sessions& sessions, OrderService& orders, GmvService& gmv,
                     OrdersApiOptions options)
    : catalog_api_(catalog_api),
      catalog_(catalog),
      sessions_(sessions),
      orders_(orders),
      gmv_(gmv),
      options_(std::move(options)),
      per_session_(options_.orders_per_session),
      per_ip_(options_.orders_per_ip) {
  auto bind = [this](void (OrdersApi::*fn)(HttpRequest&, HttpResponder)) {
    return [this, fn](HttpRequest& req, HttpResponder r) { (this->*fn)(req, std::move(r)); };
  };
  http.route("POST", "/api/orders", bind(&OrdersApi::placeOrder));
  http.route("GET", "/api/orders", bind(&OrdersApi::listOrders));
  http.route("GET", "/api/orders/:id", bind(&OrdersApi::getOrder));
  http.route("POST", "/api/orders/:id/pay", bind(&OrdersApi::pay));
  http.route("POST", "/api/orders/:id/cancel", bind(&OrdersApi::cancel));
  http.route("GET", "/api/gmv", bind(&OrdersApi::gmv));
}

void OrdersApi::sweepRateLimits(uint64_t now_ms) {
  per_session_.sweep(now_ms);
  per_ip_.sweep(now_ms);
}

// ---- placing ---------------------------------------------------------------------------------

void OrdersApi::placeOrder(HttpRequest& req, HttpResponder r) {
  auto fail = [&r](std::string code, std::string message) {
    r.send(api::errorResponse(Error{std::move(code), std::move(message)}));
  };
  uint64_t mono_ms = options_.rate_limits ? monotonicMs() : 0;
  if (options_.rate_limits && !per_ip_.allow(addressKey(req.remote_ip), mono_ms))
    return fail("rate_limited", "too many orders from this address");
  int64_t now_ms = options_.clock();
  std::string_view token = req.bearerToken();
  if (token.empty()) return fail("unauthorized", "orders need a session token (POST /api/sessions)");
  const Session* session = sessions_.verifyRemembered(token, now_ms / 1000);  // read before the next verify
  if (!session) return fail("unauthorized", "invalid or expired session token");
  if (options_.rate_limits && !per_session_.allow(session->user_id, mono_ms))
    return fail("rate_limited", "too many orders from this session");

  api::OrderFields fields;
  auto body = api::decodeOrderBody(req.body, fields);
  if (!body) return r.send(api::errorResponse(body.error()));

  PlaceRequest q;
  q.stream_id = body->stream_id;
  q.sku = body->sku;
  q.qty = body->qty;
  q.buyer_id = session->user_id;
  q.buyer_name_json = session->masked_name_json;
  q.idempotency_key = body->idempotency_key;
  orders_.place(q, now_ms, [r = std::move(r)](std::expected<PlaceResult, Error> placed) {
    if (!placed) return r.send(api::errorResponse(placed.error()));
    // Appended, not formatted, into a buffer kept for the next answer: this is every order's.
    thread_local std::string body;
    char number[24];
    auto append = [&number](std::string& out, int64_t v) {
      out.append(number, std::to_chars(number, number + sizeof number, v).ptr);
    };
    body.assign(R"({"order_id":")").append(placed->order_id).append(R"(","amount_cents":)");
    append(body, placed->amount_cents);
    body.append(R"(,"status":"created","expires_in_ms":)");
    append(body, placed->expires_in_ms);
    body.push_back('}');
    r.sendJson(placed->replay ? 200 : 201, body);
  });
}

// ---- lifecycle -------------------------------------------------------------------------------

void OrdersApi::withOrderActor(HttpRequest& req, const HttpResponder& r,
                               std::function<void(std::string, std::string)> then) {
  std::string order_id = req.params.at("id");
  auto parsed = OrderService::parseOrderId(order_id);
  if (!parsed) {
    r.send(api::errorResponse(Error{"order_not_found", "no such order"}));
    return;
  }
  catalog_api_.withPrincipal(
      req, r, [this, r, order_id, stream_id = parsed->first, then = std::move(then)](Principal who) {
        if (who.role == Role::Buyer) return then(order_id, who.session.user_id);
        catalog_.authorizeStream(who, stream_id, [r, order_id, then](std::expected<StreamInfo, Error> s) {
          if (!s) return r.send(api::errorResponse(s.error()));
          then(order_id, "");
        });
      });
}

void OrdersApi::pay(HttpRequest& req, HttpResponder r) {
  withOrderActor(req, r, [this, r](std::string order_id, std::string buyer_id) {
    orders_.pay(order_id, buyer_id, options_.clock(), [r](std::expected<OrderService::Transition, Error> t) {
      if (!t) return r.send(api::errorResponse(t.error()));
      r.send(HttpResponse::json(200, {{"order_id", t->order_id}, {"status", t->status},
                                      {"amount_cents", t->amount_cents}}));
    });
  });
}

void OrdersApi::cancel(HttpRequest& req, HttpResponder r) {
  withOrderActor(req, r, [this, r](std::string order_id, std::string buyer_id) {
    orders_.cancel(order_id, buyer_id, options_.clock(), [r](std::expected<OrderService::Transition, Error> t) {
      if (!t) return r.send(api::errorResponse(t.error()));
      r.send(HttpResponse::json(200, {{"order_id", t->order_id}, {"status", t->status},
                                      {"amount_cents", t->amount_cents}}));
    });
  });
}

// ---- reading ---------------------------------------------------------------------------------

// One order, for its buyer (another buyer's is not found, as for pay) or the stream's organizer
// or factory: the viewer page refreshes its "my orders" with it. An unpaid order also says the
// time left to pay (0 from its deadline on, though the expiry task may not have reached it yet).
void OrdersApi::getOrder(HttpRequest& req, HttpResponder r) {
  withOrderActor(req, r, [this, r](std::string order_id, std::string buyer_id) {
    auto id = OrderService::parseOrderId(order_id);  // well-formed: withOrderActor checked it
    orders_.readOrders(id->first, id->second, 1,
                       [this, r, buyer_id](std::expected<std::vector<Order>, Error> found) {
                         if (!found) return r.send(api::errorResponse(found.error()));
                         if (found->empty() || (!buyer_id.empty() && found->front().buyer_id != buyer_id))
                           return r.send(api::errorResponse(Error{"order_not_found", "no such order"}));
                         const Order& o = found->front();
                         nlohmann::json j = orderJson(o);
                         if (o.status == "created")
                           j["expires_in_ms"] =
                               std::max<int64_t>(0, o.created_ms + orders_.orderExpiryMs() - options_.clock());
                         r.send(HttpResponse::json(200, j));
                       });
  });
}

std::string OrdersApi::csvHeader() {
  return "order_id,stream_id,sku,qty,amount_cents,amount_yuan,status,buyer_id,created_at,updated_at\n";
}

void OrdersApi::appendCsv(std::string& out, const Order& o) {
  // Every field comes from a restricted alphabet (ids, SKU, status): no quoting is needed.
  out.append(o.id).push_back(',');
  out.append(o.stream_id).push_back(',');
  out.append(o.sku).push_back(',');
  out.append(std::to_string(o.qty)).push_back(',');
  out.append(std::to_string(o.amount_cents)).push_back(',');
  out.append(api::yuan(o.amount_cents)).push_back(',');
  out.append(o.status).push_back(',');
  out.append(o.buyer_id).push_back(',');
  appendIsoTime(out, o.created_ms);
  out.push_back(',');
  appendIsoTime(out, o.updated_ms);
  out.push_back('\n');
}

void OrdersApi::listOrders(HttpRequest& req, HttpResponder r) {
  std::string stream_id = req.queryOr("stream");
  std::string format = req.queryOr("format", "json");
  std::string order = req.queryOr("order", "asc");
  if (format != "json" && format != "csv") {
    r.send(api::errorResponse(Error{"invalid_argument", "format must be json or csv"}));
    return;
  }
  if (order != "asc" && order != "desc") {
    r.send(api::errorResponse(Error{"invalid_argument", "order must be asc or desc"}));
    return;
  }
  bool newest_first = order == "desc";
  auto after = queryInt(req, "after", 0, INT64_MAX / 2);
  auto before = queryInt(req, "before", 1, INT64_MAX / 2);
  auto limit = queryInt(req, "limit", 1, kMaxPage);
  if ((after && *after < 0) || (before && *before < 1) || (limit && *limit < 1)) {
    r.send(api::errorResponse(Error{"invalid_argument", "after must be >= 0, before >= 1 and limit 1..1000"}));
    return;
  }
  if ((after && newest_first) || (before && !newest_first)) {
    r.send(api::errorResponse(Error{"invalid_argument", "after pages order=asc, before pages order=desc"}));
    return;
  }
  if (stream_id.empty() && format == "json") {
    r.send(api::errorResponse(Error{"invalid_argument", "stream is required for JSON (CSV exports all)"}));
    return;
  }
  ListPage page{.newest_first = newest_first,
                .from = newest_first ? before.value_or(0) : after.value_or(0),
                .limit = limit.value_or(kDefaultPage)};
  catalog_api_.withPrincipal(req, r, [this, r, stream_id, format, page](Principal who) {
    if (stream_id.empty()) {
      if (who.role != Role::Organizer)
        return r.send(api::errorResponse(Error{"forbidden", "exporting every stream needs the organizer's token"}));
      return catalog_.listStreamIds([this, r](std::expected<std::vector<std::string>, Error> ids) {
        if (!ids) return r.send(api::errorResponse(ids.error()));
        exportCsv(std::move(*ids), r);
      });
    }
    catalog_.authorizeStream(who, stream_id, [this, r, format, page](std::expected<StreamInfo, Error> s) {
      if (!s) return r.send(api::errorResponse(s.error()));
      if (format == "csv") return exportCsv({s->id}, r);
      if (!page.newest_first) return sendPage(s->id, page, r);
      // Newest first: the page ends before `before`, or past the stream's last order if that
      // comes first (so no empty pages are walked down to it).
      orders_.lastSeq(s->id, [this, r, page, id = s->id](std::expected<int64_t, Error> last) mutable {
        if (!last) return r.send(api::errorResponse(last.error()));
        page.from = page.from > 0 ? std::min(page.from, *last + 1) : *last + 1;
        sendPage(id, page, r);
      });
    });
  });
}

void OrdersApi::sendPage(const std::string& stream_id, ListPage page, const HttpResponder& r) {
  // Oldest first: sequence numbers after `from`. Newest first: those before it, the last first.
  int64_t first = page.newest_first ? std::max<int64_t>(1, page.from - page.limit) : page.from + 1;
  int64_t count = page.newest_first ? page.from - first : page.limit;
  auto answer = [r, page](std::vector<Order> list, nlohmann::json next) {
    auto out = nlohmann::json::array();
    if (page.newest_first) std::reverse(list.begin(), list.end());
    for (const auto& o : list) out.push_back(orderJson(o));
    r.send(HttpResponse::json(200, {{"orders", out}, {page.newest_first ? "next_before" : "next_after", next}}));
  };
  if (count <= 0) return answer({}, nullptr);  // before=1: nothing comes before the first order
  orders_.readOrders(stream_id, first, count,
                     [r, answer, page, first, count](std::expected<std::vector<Order>, Error> list) {
                       if (!list) return r.send(api::errorResponse(list.error()));
                       // A full page may have more behind it; the client asks again.
                       nlohmann::json next;
                       if (page.newest_first && first > 1) next = first;
                       if (!page.newest_first && static_cast<int64_t>(list->size()) == count) next = first + count - 1;
                       answer(std::move(*list), std::move(next));
                     });
}

void OrdersApi::exportCsv(std::vector<std::string> stream_ids, const HttpResponder& r) {
  // Walks stream by stream, seq 1..last, csv_batch orders per piece.
  struct Export {
    OrderService& orders;
    std::vector<std::string> streams;
    int64_t batch;
    std::size_t stream_index = 0;
    int64_t next_seq = 1;
    int64_t last_seq = -1;  // -1: not read yet for this stream
    bool header_sent = false;

    void next(std::shared_ptr<Export> self, BodyWriter write) {
      if (!header_sent) {
        header_sent = true;
        return write(OrdersApi::csvHeader(), BodyEnd::More);
      }
      if (stream_index >= streams.size()) return write("", BodyEnd::Last);
      const std::string& id = streams[stream_index];
      if (last_seq < 0) {
        return orders.lastSeq(id, [self, write](std::expected<int64_t, Error> last) {
          if (!last) return write("", BodyEnd::Abort);
          self->last_seq = *last;
          self->next(self, write);
        });
      }
      if (next_seq > last_seq) {
        ++stream_index;
        next_seq = 1;
        last_seq = -1;
        return next(self, std::move(write));
      }
      int64_t count = std::min(batch, last_seq - next_seq + 1);
      int64_t from = next_seq;
      next_seq += count;
      orders.readOrders(id, from, count, [write](std::expected<std::vector<Order>, Error> list) {
        if (!list) return write("", BodyEnd::Abort);
        std::string piece;
        piece.reserve(list->size() * 110);
        for (const auto& o : *list) OrdersApi::appendCsv(piece, o);
        write(std::move(piece), BodyEnd::More);
      });
    }
  };
  auto state = std::make_shared<Export>(Export{orders_, std::move(stream_ids), options_.csv_batch});
  auto response = HttpResponse::streamed(200, "text/csv; charset=utf-8",
                                         [state](BodyWriter write) { state->next(state, std::move(write)); });
  response.headers.emplace_back("content-disposition", "attachment; filename=\"orders.csv\"");
  r.send(std::move(response));
}

void OrdersApi::gmv(HttpRequest& req, HttpResponder r) {
  std::string stream_id = req.queryOr("stream");
  auto minutes = queryInt(req, "minutes", 1, GmvService::kMaxMinutes);
  if (minutes && *minutes < 1) {
    r.send(api::errorResponse(Error{"invalid_argument", "minutes must be 1..1440"}));
    return;
  }
  auto shown = static_cast<std::size_t>(minutes.value_or(180));
  bool campaign = stream_id.empty();
  gmv_.snapshot(stream_id, minutes.value_or(180), options_.clock(),
                [this, r, shown, campaign](std::expected<GmvService::Shared, Error> snap) {
                  if (!snap) return r.send(api::errorResponse(snap.error()));
                  if (!campaign) return r.send(HttpResponse::json(200, GmvService::toJson(**snap, SIZE_MAX, shown)));
                  Rendered& last = rendered_[GmvService::seriesClass(static_cast<int64_t>(shown))];
                  if (last.snapshot != *snap || last.minutes != shown)
                    last = Rendered{*snap, shown, HttpResponse::json(200, GmvService::toJson(**snap, SIZE_MAX, shown)).body};
                  r.sendJson(200, last.body);
                });
}

}  // namespace bloomcast::orders
