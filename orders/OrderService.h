#pragma once
// OrderService: placing, paying, cancelling and expiring orders — each one EVALSHA of a script
// in OrderScripts.h — and reading orders back.
//
// An order id is "STREAM-SEQ" (SEQ counts the stream's orders from 1), so the id alone names
// the stream's hash tag. Order lifecycle:
//
//   created --pay--> paid
//      |  \--cancel--> cancelled <--cancel (organizer/factory only)-- paid
//      \--deadline passed, expiry task--> expired
//
// cancel and expire give back the stock and the buyer's allowance and subtract the order from
// GMV, units and orders (stream and minute counters), atomically and exactly once.
//
// The expiry task runs every expiry_interval_ms on every node and runs the expire script on the
// streams this node placed orders in lately (within order_expiry_ms + expiry_sweep_ms); every
// expiry_sweep_ms (and at its first run) it lists all streams and sweeps them all, which covers
// orders placed through a node that has since gone, or before this one started. At most
// expire_calls_per_pass calls per pass. Concurrent runs on several nodes are safe (each order
// changes state inside one atomic script) and only cost duplicate scans.
//
// Thread: loop thread. Owned by OrdersModule; destroy after the RedisClient is closed.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "infra/EventLoop.h"
#include "infra/Metrics.h"
#include "infra/RedisClient.h"
#include "orders/StoreReplies.h"

namespace bloomcast::orders {

// Views: place() reads them while it formats the script call, before it returns.
struct PlaceRequest {
  std::string_view stream_id;        // valid id
  std::string_view sku;              // valid SKU
  int64_t qty = 1;                   // 1..kMaxQty
  std::string_view buyer_id;         // session user id
  std::string_view buyer_name_json;  // JSON string shown in the room ("张**")
  std::string_view idempotency_key;  // 1..64 printable ASCII
};

struct PlaceResult {
  bool replay = false;  // true: the idempotency key was seen; this is the first answer
  std::string order_id;
  int64_t amount_cents = 0;
  // The time left to pay at this answer: from its end on, an unpaid order is refused payment
  // (order_expiry_ms after the first placement). A duration, not a time of day: a client's
  // clock may be off the server's.
  int64_t expires_in_ms = 0;
};

struct Order {
  std::string id;  // STREAM-SEQ
  std::string stream_id;
  int64_t seq = 0;
  std::string status;  // created | paid | cancelled | expired
  std::string sku;
  int64_t qty = 0;
  int64_t amount_cents = 0;
  std::string buyer_id;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct OrderServiceOptions {
  int64_t order_expiry_ms = 15 * 60 * 1000;  // unpaid orders expire after this
  uint64_t expiry_interval_ms = 1000;        // 0: no periodic task (tests drive expireDue)
  std::size_t max_events = 1000000;          // MAXLEN ~ of each stream's event stream
  std::size_t expire_batch = 200;            // orders the expiry walk passes per script call
  // Script calls per expiry pass over all streams (each stream's first call always runs): a
  // wave of orders falling due together is released at ~expire_batch x this per pass instead
  // of holding Redis until it is done (docs/reliability.md, "AOF rewrites and restart time").
  std::size_t expire_calls_per_pass = 10;
  // How often the task sweeps every stream, not only those this node placed orders in lately:
  // with thousands of streams a pass over all of them each second cost Redis ~1% of a core per
  // 1,000 streams and node (docs/perf.md, session 16).
  uint64_t expiry_sweep_ms = 30000;
  std::function<int64_t()> clock;            // wall clock (UNIX ms) of the expiry task; null: system
};

class OrderService {
 public:
  static constexpr int64_t kMaxQty = 999;

  OrderService(EventLoop& loop, RedisClient& redis, MetricsRegistry& metrics,
               OrderServiceOptions options);

  // Calls `done(std::expected<PlaceResult, Error>)` once. Errors: stream_not_found,
  // stream_ended, flash_sale_ended, product_not_found, sold_out, limit_exceeded,
  // idempotency_key_reused, store_unavailable, internal. A template so that the caller's
  // callback and the reply's handling are one closure: one allocation per order, not two.
  template <class Done>
  void place(const PlaceRequest& request, int64_t now_ms, Done done) {
    auto sent = loopTurnClock();  // the script's latency at loop-turn precision
    sendPlace(request, now_ms,
              [this, stream = std::string(request.stream_id), now_ms, sent, done = std::move(done)](
                  RedisResult r) mutable { done(placed(stream, now_ms, sent, r)); });
  }

  // buyer_id "" acts for the organizer or the stream's factory. Answers the order's status
  // ("paid" / "cancelled") and amount. Errors: order_not_found, order_expired,
  // order_cancelled, order_paid, store_unavailable.
  struct Transition {
    std::string order_id;
    std::string status;
    int64_t amount_cents = 0;
  };
  void pay(const std::string& order_id, const std::string& buyer_id, int64_t now_ms,
           Callback<Transition> cb);
  void cancel(const std::string& order_id, const std::string& buyer_id, int64_t now_ms,
              Callback<Transition> cb);

  // Releases unpaid orders of one stream whose deadline is <= now_ms, in script calls of
  // expire_batch orders: one call, then more while some may be due and *calls_left (shared
  // by the streams of one pass, decremented per call) is not spent. Answers how many it expired.
  void expireStream(const std::string& stream_id, int64_t now_ms,
                    std::shared_ptr<std::size_t> calls_left, Callback<int64_t> cb);
  // expireStream over every stream with one budget of expire_calls_per_pass calls (every
  // stream gets its first); answers the total. What is left waits for the next pass.
  void expireDue(int64_t now_ms, Callback<int64_t> cb);
  // The same over the given streams only.
  void expireStreams(std::vector<std::string> stream_ids, int64_t now_ms, Callback<int64_t> cb);

  // Orders seq in [from_seq, from_seq + count) of one stream that exist, in seq order; and
  // the stream's highest seq so far.
  void readOrders(const std::string& stream_id, int64_t from_seq, int64_t count,
                  Callback<std::vector<Order>> cb);
  void lastSeq(const std::string& stream_id, Callback<int64_t> cb);

  // How long an unpaid order may be paid after it is placed.
  int64_t orderExpiryMs() const { return options_.order_expiry_ms; }

  // "STREAM-SEQ" -> (stream, seq); nullopt when malformed.
  static std::optional<std::pair<std::string, int64_t>> parseOrderId(std::string_view id);
  // One o:SEQ record -> Order; nullopt when it does not parse.
  static std::optional<Order> parseRecord(const std::string& stream_id, int64_t seq,
                                          std::string_view record);

 private:
  void sendPlace(const PlaceRequest& q, int64_t now_ms, RedisCallback cb);
  // The place script's answer `r` to an order of `stream_id` sent at `sent`, counted.
  std::expected<PlaceResult, Error> placed(const std::string& stream_id, int64_t now_ms,
                                           std::chrono::steady_clock::time_point sent, const RedisResult& r);
  void transition(const std::string& script, const std::string& order_id,
                  const std::string& buyer_id, int64_t now_ms, Callback<Transition> cb);
  void expiryTick();
  void notePlaced(const std::string& stream_id, int64_t now_ms);

  EventLoop& loop_;
  RedisClient& redis_;
  OrderServiceOptions options_;
  std::string max_events_;
  // place(): the keys of the last stream and SKU ordered, as views of key_text_. A flash sale
  // orders one product over and over, so they are built once, not per order.
  std::string key_text_;
  std::string key_stream_, key_sku_;
  std::array<std::string_view, 8> key_views_{};
  RedisClient::PreparedCall place_call_;  // EVALSHA, the keys and the SKU, for key_stream_/key_sku_
  Timer expiry_timer_;
  bool expiry_running_ = false;
  int64_t last_sweep_ms_ = -1;  // the expiry task's last pass over every stream; -1: none yet
  // Streams this node created orders in, with the time of the last one; the stream of the
  // latest order (placed_stream_, placed_ms_) is entered at each expiry pass (notePlaced).
  std::unordered_map<std::string, int64_t> placed_in_;
  std::string placed_stream_;
  int64_t placed_ms_ = 0;
  std::shared_ptr<Histogram> place_latency_;
  std::shared_ptr<Counter> created_, replayed_, refused_, failed_, gmv_cents_, expired_, sweeps_, recent_passes_;
};

}  // namespace bloomcast::orders
