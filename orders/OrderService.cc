#include "orders/OrderService.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "orders/Keys.h"
#include "orders/OrderScripts.h"

namespace bloomcast::orders {
namespace {

const std::string kPlace = "orders.place";
const std::string kPay = "orders.pay";
const std::string kCancel = "orders.cancel";
const std::string kExpire = "orders.expire";

std::optional<int64_t> parseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Error refusal(const std::string& code, const RedisReply& reply) {
  std::string detail = replyText(element(reply, 1));
  if (code == "stream_not_found") return Error{code, "no such stream"};
  if (code == "stream_ended") return Error{code, "the stream has ended; orders are closed"};
  if (code == "flash_sale_ended")
    return Error{code, "the flash sale of this product has ended; it sells again when pinned again"};
  if (code == "product_not_found") return Error{code, "no such product on this stream"};
  if (code == "sold_out") return Error{code, "not enough stock; units left: " + detail};
  if (code == "limit_exceeded") return Error{code, "over the per-buyer limit; units still allowed: " + detail};
  if (code == "idempotency_key_reused")
    return Error{code, "this idempotency key was used for a different order"};
  if (code == "order_not_found") return Error{code, "no such order"};
  if (code == "order_expired") return Error{code, "the order expired unpaid"};
  if (code == "order_cancelled") return Error{code, "the order was cancelled"};
  if (code == "order_paid") return Error{code, "the order is paid; ask the seller to cancel it"};
  return Error{"internal", "unexpected script answer: " + code};
}

// Keys of cancel and expire, in the order the scripts expect.
std::vector<std::string> releaseKeys(const std::string& s) {
  return {keys::orders(s), keys::stock(s), keys::stats(s), keys::leaderboard(s), keys::events(s)};
}

}  // namespace

OrderService::OrderService(EventLoop& loop, RedisClient& redis, MetricsRegistry& metrics,
                           OrderServiceOptions options)
    : loop_(loop),
      redis_(redis),
      options_(options),
      max_events_(std::to_string(options.max_events)),
      expiry_timer_(loop) {
  redis_.registerScript(kPlace, scripts::kPlace);
  redis_.registerScript(kPay, scripts::kPay);
  redis_.registerScript(kCancel, scripts::kCancel);
  redis_.registerScript(kExpire, scripts::kExpire);
  place_latency_ = metrics.histogram("bloomcast_order_place_seconds",
                                     "Round trip of the place-order script", latencyBucketsSeconds());
  auto result = [&](const char* r) {
    return metrics.counter("bloomcast_orders_total", "Order attempts by result", {{"result", r}});
  };
  created_ = result("created");
  replayed_ = result("replay");
  refused_ = result("refused");
  failed_ = result("store_unavailable");
  gmv_cents_ = metrics.counter("bloomcast_orders_gmv_cents_total",
                               "GMV in cents of orders created through this node");
  expired_ = metrics.counter("bloomcast_orders_expired_total",
                             "Unpaid orders this node released after their deadline");
  auto passes = [&](const char* scope) {
    return metrics.counter("bloomcast_orders_expiry_passes_total",
                           "Expiry passes this node ran: over all streams, or those it placed orders in lately",
                           {{"scope", scope}});
  };
  sweeps_ = passes("all");
  recent_passes_ = passes("recent");
  if (options_.expiry_interval_ms > 0)
    expiry_timer_.start(options_.expiry_interval_ms, options_.expiry_interval_ms,
                        [this] { expiryTick(); });
}

std::optional<std::pair<std::string, int64_t>> OrderService::parseOrderId(std::string_view id) {
  auto dash = id.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view stream = id.substr(0, dash), seq = id.substr(dash + 1);
  if (!keys::isValidId(stream) || !keys::isValidId(seq)) return std::nullopt;
  return std::pair{std::string(stream), *parseInt(seq)};
}

std::optional<Order> OrderService::parseRecord(const std::string& stream_id, int64_t seq,
                                               std::string_view record) {
  std::string_view parts[7];
  std::size_t n = 0, start = 0;
  while (n < 7) {
    auto bar = record.find('|', start);
    parts[n++] = record.substr(start, bar == std::string_view::npos ? bar : bar - start);
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  if (n != 7) return std::nullopt;
  auto qty = parseInt(parts[2]), amount = parseInt(parts[3]), created = parseInt(parts[5]),
       updated = parseInt(parts[6]);
  if (!qty || !amount || !created || !updated) return std::nullopt;
  Order o;
  o.stream_id = stream_id;
  o.seq = seq;
  o.id = stream_id + "-" + std::to_string(seq);
  o.status = std::string(parts[0]);
  o.sku = std::string(parts[1]);
  o.qty = *qty;
  o.amount_cents = *amount;
  o.buyer_id = std::string(parts[4]);
  o.created_ms = *created;
  o.updated_ms = *updated;
  return o;
}

// ---- place / pay / cancel --------------------------------------------------------------------

void OrderService::sendPlace(const PlaceRequest& q, int64_t now_ms, RedisCallback cb) {
  std::string_view s = q.stream_id;
  // The hot path of a flash sale: the script call's keys and SKU are formatted once per stream
  // and SKU (a flash sale orders one product over and over), the numbers go on the stack, and
  // the rest are views — no allocation per key or argument. The views are read only while
  // evalPrepared formats the command, before any callback runs.
  if (s != key_stream_ || q.sku != key_sku_ || !place_call_.name) {
    key_views_ = keys::placeKeys(s, q.sku, key_text_);
    key_stream_ = s;
    key_sku_ = q.sku;
    const std::string_view sku[] = {q.sku};
    place_call_ = redis_.prepareScript(kPlace, std::span<const std::string_view>(key_views_).first(7),
                                       sku, 7);
  }
  char numbers[2][24];
  auto number = [&numbers](int slot, int64_t v) {
    char* end = std::to_chars(numbers[slot], numbers[slot] + sizeof numbers[slot], v).ptr;
    return std::string_view(numbers[slot], end - numbers[slot]);
  };
  // ARGV[2..8]; ARGV[1], the SKU, is in the prepared call.
  const std::string_view args[] = {number(0, q.qty), q.buyer_id,      q.idempotency_key, number(1, now_ms),
                                   q.buyer_name_json, key_views_[7], max_events_};
  redis_.evalPrepared(place_call_, args, std::move(cb));
}

std::expected<PlaceResult, Error> OrderService::placed(const std::string& s, int64_t now_ms,
                                                       std::chrono::steady_clock::time_point sent,
                                                       const RedisResult& r) {
  place_latency_->observe(std::chrono::duration<double>(loopTurnClock() - sent).count());
  auto c = checked(r);
  if (!c) {
    failed_->inc();
    return std::unexpected(c.error());
  }
  const RedisReply& reply = **c;
  std::string code = replyText(element(reply, 0));  // short: no allocation
  if (code == "created" || code == "replay") {
    PlaceResult out;
    out.replay = code == "replay";
    std::string seq = replyText(element(reply, 1));
    out.order_id.reserve(s.size() + 1 + seq.size());
    out.order_id.append(s).append("-").append(seq);
    out.amount_cents = replyIntOr(element(reply, 2), 0);
    // A new order was placed at now_ms (the script's own clock argument); a replay says when.
    int64_t created_ms = out.replay ? replyIntOr(element(reply, 3), now_ms) : now_ms;
    out.expires_in_ms = std::max<int64_t>(0, created_ms + options_.order_expiry_ms - now_ms);
    (out.replay ? replayed_ : created_)->inc();
    if (!out.replay) notePlaced(s, now_ms);
    if (!out.replay) gmv_cents_->inc(static_cast<uint64_t>(out.amount_cents));
    return out;
  }
  refused_->inc();
  return std::unexpected(refusal(code, reply));
}

// Only orders the script created count: a stream id that names no stream (anyone may send one)
// never reaches the expiry task's list. The stream of the latest order is kept apart, so a
// flash sale's orders cost a string compare here, and a switch of stream one map write.
void OrderService::notePlaced(const std::string& stream_id, int64_t now_ms) {
  if (stream_id != placed_stream_) {
    if (!placed_stream_.empty()) placed_in_[placed_stream_] = placed_ms_;
    placed_stream_ = stream_id;
  }
  placed_ms_ = now_ms;
}

void OrderService::pay(const std::string& order_id, const std::string& buyer_id, int64_t now_ms,
                       Callback<Transition> cb) {
  transition(kPay, order_id, buyer_id, now_ms, std::move(cb));
}

void OrderService::cancel(const std::string& order_id, const std::string& buyer_id,
                          int64_t now_ms, Callback<Transition> cb) {
  transition(kCancel, order_id, buyer_id, now_ms, std::move(cb));
}

void OrderService::transition(const std::string& script, const std::string& order_id,
                              const std::string& buyer_id, int64_t now_ms,
                              Callback<Transition> cb) {
  auto parsed = parseOrderId(order_id);
  if (!parsed) {
    cb(std::unexpected(Error{"order_not_found", "no such order"}));
    return;
  }
  const auto& [s, seq] = *parsed;
  std::vector<std::string> k = script == kPay
                                   ? std::vector<std::string>{keys::orders(s), keys::events(s)}
                                   : releaseKeys(s);
  std::vector<std::string> args{std::to_string(seq), buyer_id, std::to_string(now_ms), max_events_};
  if (script == kCancel) args.push_back(keys::room(s));  // the stock that came back is announced
  else args.push_back(std::to_string(options_.order_expiry_ms));  // pay: the order's lifetime
  redis_.evalScript(script, k, std::move(args),
                    [order_id, cb = std::move(cb)](RedisResult r) {
                      auto c = checked(r);
                      if (!c) return cb(std::unexpected(c.error()));
                      std::string code = replyText(element(**c, 0));
                      if (code == "paid" || code == "cancelled")
                        return cb(Transition{order_id, code, replyIntOr(element(**c, 1), 0)});
                      cb(std::unexpected(refusal(code, **c)));
                    });
}

// ---- expiry ----------------------------------------------------------------------------------

void OrderService::expireStream(const std::string& stream_id, int64_t now_ms,
                                std::shared_ptr<std::size_t> calls_left, Callback<int64_t> cb) {
  struct Run {
    OrderService* self;
    std::string stream_id;
    std::string now;
    std::shared_ptr<std::size_t> calls_left;
    int64_t expired = 0;
    Callback<int64_t> cb;
    void step(std::shared_ptr<Run> me) {
      if (*calls_left > 0) --*calls_left;
      self->redis_.evalScript(
          kExpire, releaseKeys(stream_id),
          {now, std::to_string(self->options_.expire_batch), self->max_events_, keys::room(stream_id),
           std::to_string(self->options_.order_expiry_ms)},
          [me](RedisResult r) {
            auto c = checked(r);
            if (!c) return me->cb(std::unexpected(c.error()));
            int64_t expired = replyIntOr(element(**c, 0), 0);
            int64_t examined = replyIntOr(element(**c, 1), 0);
            me->expired += expired;
            me->self->expired_->inc(static_cast<uint64_t>(expired));
            // More may be due; the rest waits for the next pass once the budget is spent.
            if (examined >= static_cast<int64_t>(me->self->options_.expire_batch) && *me->calls_left > 0)
              return me->step(me);
            me->cb(me->expired);
          });
    }
  };
  auto run = std::make_shared<Run>(
      Run{this, stream_id, std::to_string(now_ms), std::move(calls_left), 0, std::move(cb)});
  run->step(run);
}

void OrderService::expireDue(int64_t now_ms, Callback<int64_t> cb) {
  redis_.command({"ZRANGE", std::string(keys::kStreams), "0", "-1"},
                 [this, now_ms, cb = std::move(cb)](RedisResult r) mutable {
                   auto c = checked(r);
                   if (!c) return cb(std::unexpected(c.error()));
                   std::vector<std::string> ids;
                   ids.reserve((*c)->elements.size());
                   for (const auto& id : (*c)->elements)
                     if (keys::isValidId(id.str)) ids.push_back(id.str);
                   expireStreams(std::move(ids), now_ms, std::move(cb));
                 });
}

void OrderService::expireStreams(std::vector<std::string> stream_ids, int64_t now_ms,
                                 Callback<int64_t> cb) {
  struct Total {
    int64_t expired = 0;
    std::size_t left;
    std::optional<Error> error;
    Callback<int64_t> cb;
  };
  if (stream_ids.empty()) return cb(int64_t{0});
  auto total = std::make_shared<Total>(Total{0, stream_ids.size(), std::nullopt, std::move(cb)});
  auto calls_left = std::make_shared<std::size_t>(options_.expire_calls_per_pass);
  for (const auto& id : stream_ids) {
    expireStream(id, now_ms, calls_left, [total](std::expected<int64_t, Error> n) {
      if (n) total->expired += *n;
      else if (!total->error) total->error = n.error();
      if (--total->left > 0) return;
      if (total->error) total->cb(std::unexpected(*total->error));
      else total->cb(total->expired);
    });
  }
}

void OrderService::expiryTick() {
  if (expiry_running_ || !redis_.connected()) return;
  expiry_running_ = true;
  int64_t now_ms = options_.clock ? options_.clock()
                                  : std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
  bool sweep = last_sweep_ms_ < 0 || now_ms < last_sweep_ms_ ||
               now_ms - last_sweep_ms_ >= static_cast<int64_t>(options_.expiry_sweep_ms);
  auto done = [this, sweep](std::expected<int64_t, Error> n) {
    expiry_running_ = false;
    (sweep ? sweeps_ : recent_passes_)->inc();
    if (!n) spdlog::warn("orders: expiry pass failed: {}", n.error().message);
    else if (*n > 0) spdlog::info("orders: {} unpaid orders expired", *n);
  };
  if (!placed_stream_.empty()) placed_in_[placed_stream_] = placed_ms_;
  int64_t keep_ms = options_.order_expiry_ms + static_cast<int64_t>(options_.expiry_sweep_ms);
  std::erase_if(placed_in_, [&](const auto& entry) { return now_ms - entry.second > keep_ms; });
  if (sweep) {
    last_sweep_ms_ = now_ms;
    return expireDue(now_ms, std::move(done));
  }
  std::vector<std::string> ids;
  ids.reserve(placed_in_.size());
  for (const auto& [id, at] : placed_in_) ids.push_back(id);
  expireStreams(std::move(ids), now_ms, std::move(done));
}

// ---- reading ---------------------------------------------------------------------------------

void OrderService::readOrders(const std::string& stream_id, int64_t from_seq, int64_t count,
                              Callback<std::vector<Order>> cb) {
  std::vector<std::string> args{"HMGET", keys::orders(stream_id)};
  args.reserve(2 + static_cast<std::size_t>(count));
  for (int64_t seq = from_seq; seq < from_seq + count; ++seq) args.push_back("o:" + std::to_string(seq));
  redis_.command(args, [stream_id, from_seq, cb = std::move(cb)](RedisResult r) {
    auto c = checked(r);
    if (!c) return cb(std::unexpected(c.error()));
    std::vector<Order> out;
    out.reserve((*c)->elements.size());
    int64_t seq = from_seq;
    for (const auto& e : (*c)->elements) {
      if (e.type == RedisReply::Type::String)
        if (auto o = parseRecord(stream_id, seq, e.str)) out.push_back(std::move(*o));
      ++seq;
    }
    cb(std::move(out));
  });
}

void OrderService::lastSeq(const std::string& stream_id, Callback<int64_t> cb) {
  redis_.command({"HGET", keys::stats(stream_id), "seq"}, [cb = std::move(cb)](RedisResult r) {
    auto c = checked(r);
    if (!c) return cb(std::unexpected(c.error()));
    cb(replyIntOr(**c, 0));
  });
}

}  // namespace bloomcast::orders
