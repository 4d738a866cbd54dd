#pragma once
// Catalog: factories, streams, products, stream keys and stream status in Redis, and who a
// bearer token speaks for.
//
// Secrets: a factory token is "ft_ID_" + 48 hex digits and a stream key "sk_ID_" + 48 hex
// digits (192 random bits). Redis keeps only their SHA-256 (a dump reveals no usable secret);
// a presented secret is hashed and compared in constant time. The id inside tells which hash
// to compare with, so a check is one HGET. A secret is returned once, when created or rotated.
//
// Every call answers through its callback, on the loop thread, exactly once; failures carry
// the codes listed in OrdersApi.h (stream_not_found, forbidden, store_unavailable, ...).
//
// Thread: loop thread. Owned by OrdersModule; must be destroyed after the RedisClient has
// been closed (pending replies call back into it).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "infra/RedisClient.h"
#include "orders/Product.h"
#include "orders/Sessions.h"
#include "orders/StoreReplies.h"

namespace bloomcast::orders {

enum class Role { Organizer, Factory, Buyer };

// Who a request speaks for.
struct Principal {
  Role role = Role::Buyer;
  std::string factory_id;  // Role::Factory
  Session session;         // Role::Buyer
};

struct StreamInfo {
  std::string id;
  std::string factory_id;
  std::string title;
  std::string status;  // offline | live | ended
  int64_t created_ms = 0;
  std::string pinned_sku;
  int64_t pinned_ends_at_ms = 0;  // 0: no flash-sale end
  int64_t gmv_cents = 0;
  int64_t orders = 0;  // net: placed, less cancelled and expired
  int64_t units = 0;
  int64_t placed = 0;  // every order ever placed (the stats hash's seq): never goes down
  int64_t viewers = 0;  // the room's last published totals (chat part, "stats" and "likes" keys)
  int64_t likes = 0;
};

struct FactoryInfo {
  std::string id;
  std::string name;
};

// One entry of a stream's replay timeline: a pin frame as published to the room.
struct TimelineEvent {
  std::string type;  // "pin"
  int64_t ts_ms = 0;
  std::string frame;  // the JSON published to the room
};

// An id and the secret that goes with it (shown once).
struct IdAndSecret {
  std::string id;
  std::string secret;
};

class Catalog {
 public:
  // Lists of streams and factories have no cap: they are read this many at a time (one ZRANGE
  // page of ids, then one pipelined batch of reads for those), so no single Redis reply or
  // batch grows with the campaign.
  static constexpr std::size_t kListPage = 1000;
  static constexpr std::size_t kMaxProductsPerStream = 1000;

  Catalog(RedisClient& redis, const Sessions& sessions, std::string admin_token,
          std::size_t max_timeline, std::size_t list_page = kListPage);

  // ---- identities ----------------------------------------------------------------------------
  // The principal of "Authorization: Bearer TOKEN": the admin token (organizer), a factory
  // token (one HGET), else a session token (no Redis). Unknown or forged: "unauthorized".
  void authenticate(const std::string& bearer, int64_t now_s, Callback<Principal> cb);
  // The stream, when `who` may manage it: the organizer any stream, a factory its own
  // ("forbidden" otherwise), a buyer none ("forbidden"). Unknown stream: "stream_not_found".
  void authorizeStream(const Principal& who, const std::string& stream_id, Callback<StreamInfo> cb);
  // Ingest: the stream id a stream key publishes to; "forbidden" for an unknown or wrong key,
  // "stream_ended" for the key of a stream its owner or the organizer ended. Asked again for
  // a live publisher every few seconds: a rotated key or an ended stream cuts it off.
  void authorizePublish(const std::string& stream_key, Callback<std::string> cb);
  // True when `token` is the factory token of the factory owning `stream_id` (chat: host).
  void isStreamHost(const std::string& token, const std::string& stream_id, Callback<bool> cb);

  // ---- factories and streams -----------------------------------------------------------------
  void createFactory(const std::string& name, int64_t now_ms, Callback<IdAndSecret> cb);
  void listFactories(Callback<std::vector<FactoryInfo>> cb);
  // A new stream of an existing factory ("factory_not_found"), status offline.
  void createStream(const std::string& factory_id, const std::string& title, int64_t now_ms,
                    Callback<IdAndSecret> cb);
  // A new stream key; the old one stops working at once.
  void rotateStreamKey(const std::string& stream_id, Callback<std::string> cb);
  void getStream(const std::string& stream_id, Callback<StreamInfo> cb);
  // Every stream in creation order, with its counters.
  void listStreams(Callback<std::vector<StreamInfo>> cb);
  // Every stream's id, in creation order.
  void listStreamIds(Callback<std::vector<std::string>> cb);
  // status: offline | live | ended, as the organizer or owner sets it. Unknown stream:
  // "stream_not_found".
  void setStreamStatus(const std::string& stream_id, const std::string& status, Callback<bool> cb);
  // Ingest's live / offline as publishers come and go. An ended stream stays ended (a host who
  // reconnects after the show must not reopen its sales): the callback gets false then.
  void setPublishStatus(const std::string& stream_id, bool live, Callback<bool> cb);

  // ---- products ------------------------------------------------------------------------------
  // `product` already validated. "sku_exists" when the SKU is taken on this stream.
  void createProduct(const std::string& stream_id, const Product& product, int64_t now_ms,
                     Callback<Product> cb);
  // Products in creation order with the stock left.
  void listProducts(const std::string& stream_id, Callback<std::vector<Product>> cb);
  // Pins `sku`: recorded on the stream and its timeline, published to the room. Answers the
  // pin frame. ends_at_ms 0: no flash-sale end.
  void pin(const std::string& stream_id, const std::string& sku, int64_t ends_at_ms,
           int64_t now_ms, Callback<std::string> cb);

  // Changes a product and publishes {"type":"product",...} to the room; answers that frame.
  // "product_not_found" / "stream_not_found".
  void updateProduct(const std::string& stream_id, const std::string& sku,
                     const ProductChanges& changes, int64_t now_ms, Callback<std::string> cb);
  // Clears the pin: recorded on the stream and its timeline, {"type":"pin","product":null}
  // published to the room. Answers that frame.
  void unpin(const std::string& stream_id, int64_t now_ms, Callback<std::string> cb);
  // The replay timeline, oldest first (at most max_timeline entries are kept).
  void timeline(const std::string& stream_id, Callback<std::vector<TimelineEvent>> cb);

  // "PREFIX" + id + "_" + 48 hex digits -> id, or "" when `secret` is not of that shape.
  static std::string idInSecret(std::string_view secret, std::string_view prefix);

  // Counts the writes this node made that change what the public reads show (factories, streams,
  // status, products, pins), when each is done: an answer shared across requests (GmvService,
  // GET /api/streams, a stream's public reads) is not reused across one, so a node's own writes
  // show in its next answer.
  uint64_t generation() const { return generation_; }

  // Redis reads of the stream counter made by whenStreamMayExist (tests count them).
  uint64_t streamSeqReads() const { return stream_seq_reads_; }

 private:
  // Calls `then(true)` when stream `id` (a valid id) may exist, `then(false)` when it cannot.
  // Stream ids come from INCR bc:seq:stream and streams are never deleted, so an id above the
  // counter names no stream: the public reads of a made-up id are answered 404 without reading
  // the stream (3 commands, unshared, since a miss is not kept). The counter is read again only
  // for an id above its last value; ids that arrive while a read is under way wait for the next
  // read (one sent after they arrived, so a stream created before a request is never missed),
  // so a flood of made-up ids costs Redis one GET per round trip. A failed read answers true:
  // the stream's own read then fails or finds it.
  void whenStreamMayExist(const std::string& id, std::function<void(bool)> then);
  void readStreamSeq();
  void loadProducts(const std::string& stream_id, Callback<std::vector<Product>> cb);
  void loadStreams(std::vector<std::string> ids, Callback<std::vector<StreamInfo>> cb);
  template <class T>
  Callback<T> changing(Callback<T> cb) {
    return [this, cb = std::move(cb)](std::expected<T, Error> result) {
      ++generation_;
      if (cb) cb(std::move(result));
    };
  }

  RedisClient& redis_;
  const Sessions& sessions_;
  std::string admin_token_;
  std::string max_timeline_;
  std::size_t list_page_;
  uint64_t generation_ = 0;
  struct SeqWaiter {
    int64_t id;
    std::function<void(bool)> then;
  };
  int64_t stream_seq_ = 0;                // the highest stream id known to have been given out
  bool stream_seq_reading_ = false;
  std::vector<SeqWaiter> seq_in_flight_;  // arrived before the read under way was sent
  std::vector<SeqWaiter> seq_next_;       // arrived after: wait for the next read
  uint64_t stream_seq_reads_ = 0;
};

}  // namespace bloomcast::orders
