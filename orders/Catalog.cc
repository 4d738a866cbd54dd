#include "orders/Catalog.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "infra/Crypto.h"
#include "orders/Keys.h"
#include "orders/OrderScripts.h"

namespace bloomcast::orders {
namespace {

constexpr std::string_view kFactoryPrefix = "ft_";
constexpr std::string_view kStreamKeyPrefix = "sk_";
constexpr std::size_t kSecretBytes = 24;  // 192 random bits

Error notFound(std::string code, const std::string& what) { return Error{std::move(code), what}; }

// HGETALL reply (flat field/value array) -> lookup.
std::string field(const RedisReply& hgetall, std::string_view name) {
  for (std::size_t i = 0; i + 1 < hgetall.elements.size(); i += 2)
    if (hgetall.elements[i].str == name) return hgetall.elements[i + 1].str;
  return "";
}

int64_t toInt64(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// The reply of a pin / unpin / product-edit script: {code, published JSON}. `ok` is the code of
// success; the JSON (what the room was told) goes to `cb`, anything else becomes its error.
auto publishedReply(std::string stream_id, std::string sku, std::string ok, Callback<std::string> cb) {
  return [stream_id = std::move(stream_id), sku = std::move(sku), ok = std::move(ok),
          cb = std::move(cb)](RedisResult r) {
    auto c = checked(r);
    if (!c) return cb(std::unexpected(c.error()));
    std::string code = replyText(element(**c, 0));
    if (code == "stream_not_found") return cb(std::unexpected(notFound(code, "no stream " + stream_id)));
    if (code == "product_not_found")
      return cb(std::unexpected(notFound(code, "no product " + sku + " on this stream")));
    if (code != ok) return cb(std::unexpected(Error{"internal", ok + ": " + code}));
    cb(element(**c, 1).str);
  };
}

// meta: HGETALL bc:{s:ID}:meta; stats: HMGET stats gmv_cents orders units viewers seq (viewers
// is written by the chat part's room tick); likes: GET bc:{s:ID}:likes.
std::optional<StreamInfo> streamFrom(const std::string& id, const RedisReply& meta,
                                     const RedisReply& stats, const RedisReply& likes) {
  if (meta.elements.empty()) return std::nullopt;
  StreamInfo s;
  s.id = id;
  s.factory_id = field(meta, "factory_id");
  s.title = field(meta, "title");
  s.status = field(meta, "status");
  s.created_ms = toInt64(field(meta, "created_ms"));
  s.pinned_sku = field(meta, "pinned_sku");
  s.pinned_ends_at_ms = toInt64(field(meta, "pinned_ends_at_ms"));
  s.gmv_cents = replyIntOr(element(stats, 0), 0);
  s.orders = replyIntOr(element(stats, 1), 0);
  s.units = replyIntOr(element(stats, 2), 0);
  s.viewers = replyIntOr(element(stats, 3), 0);
  s.placed = replyIntOr(element(stats, 4), 0);
  s.likes = replyIntOr(likes, 0);
  return s;
}

std::vector<std::vector<std::string>> streamCommands(const std::string& id) {
  return {{"HGETALL", keys::meta(id)},
          {"HMGET", keys::stats(id), "gmv_cents", "orders", "units", "viewers", "seq"},
          {"GET", keys::likes(id)}};
}

// Every member of a catalog index (a ZSET in creation order), one ZRANGE page after another.
// Members are only ever added, after the others (their score is the creation time), so pages
// by rank neither skip nor repeat one; a stream created during the walk may be left out.
struct IdWalk : std::enable_shared_from_this<IdWalk> {
  IdWalk(RedisClient& redis, std::string index, std::size_t page, Callback<std::vector<std::string>> done)
      : redis(redis), index(std::move(index)), page(page), done(std::move(done)) {}

  void next() {
    std::size_t first = ids.size();
    redis.command({"ZRANGE", index, std::to_string(first), std::to_string(first + page - 1)},
                  [self = shared_from_this()](RedisResult r) { self->onPage(r); });
  }
  void onPage(const RedisResult& r) {
    auto c = checked(r);
    if (!c) return done(std::unexpected(c.error()));
    for (const auto& member : (*c)->elements) ids.push_back(member.str);
    if ((*c)->elements.size() < page) return done(std::move(ids));
    next();
  }

  RedisClient& redis;
  std::string index;
  std::size_t page;
  std::vector<std::string> ids;
  Callback<std::vector<std::string>> done;
};

// Loads `ids` a page at a time, one page's batch in flight at once: `load` reads one page.
template <typename T>
struct PagedLoad : std::enable_shared_from_this<PagedLoad<T>> {
  using Loader = std::function<void(std::vector<std::string>, Callback<std::vector<T>>)>;
  PagedLoad(std::vector<std::string> ids, std::size_t page, Loader load, Callback<std::vector<T>> done)
      : ids(std::move(ids)), page(page), load(std::move(load)), done(std::move(done)) {}

  void next() {
    if (next_index >= ids.size()) return done(std::move(out));
    std::size_t count = std::min(page, ids.size() - next_index);
    auto first = ids.begin() + static_cast<std::ptrdiff_t>(next_index);
    next_index += count;
    load(std::vector<std::string>(first, first + static_cast<std::ptrdiff_t>(count)),
         [self = this->shared_from_this()](std::expected<std::vector<T>, Error> part) {
           if (!part) return self->done(std::unexpected(part.error()));
           for (auto& item : *part) self->out.push_back(std::move(item));
           self->next();
         });
  }

  std::vector<std::string> ids;
  std::size_t page;
  Loader load;
  Callback<std::vector<T>> done;
  std::size_t next_index = 0;
  std::vector<T> out;
};

}  // namespace

Catalog::Catalog(RedisClient& redis, const Sessions& sessions, std::string admin_token,
                 std::size_t max_timeline, std::size_t list_page)
    : redis_(redis),
      sessions_(sessions),
      admin_token_(std::move(admin_token)),
      max_timeline_(std::to_string(max_timeline)),
      list_page_(std::max<std::size_t>(list_page, 1)) {
  redis_.registerScript("orders.create_product", scripts::kCreateProduct);
  redis_.registerScript("orders.pin", scripts::kPin);
  redis_.registerScript("orders.update_product", scripts::kUpdateProduct);
  redis_.registerScript("orders.unpin", scripts::kUnpin);
}

std::string Catalog::idInSecret(std::string_view secret, std::string_view prefix) {
  if (!secret.starts_with(prefix)) return "";
  secret.remove_prefix(prefix.size());
  auto us = secret.find('_');
  if (us == std::string_view::npos) return "";
  std::string_view id = secret.substr(0, us), rest = secret.substr(us + 1);
  if (!keys::isValidId(id) || rest.size() != kSecretBytes * 2) return "";
  for (char c : rest)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  return std::string(id);
}

// ---- identities ------------------------------------------------------------------------------

void Catalog::authenticate(const std::string& bearer, int64_t now_s, Callback<Principal> cb) {
  if (bearer.empty()) {
    cb(std::unexpected(Error{"unauthorized", "missing Authorization: Bearer token"}));
    return;
  }
  if (constantTimeEquals(bearer, admin_token_)) {
    cb(Principal{Role::Organizer, {}, {}});
    return;
  }
  if (bearer.starts_with(kFactoryPrefix)) {
    std::string id = idInSecret(bearer, kFactoryPrefix);
    if (id.empty()) {
      cb(std::unexpected(Error{"unauthorized", "malformed factory token"}));
      return;
    }
    redis_.command({"HGET", keys::factory(id), "token_sha256"},
                   [id, hash = sha256Hex(bearer), cb = std::move(cb)](RedisResult r) {
                     auto c = checked(r);
                     if (!c) return cb(std::unexpected(c.error()));
                     if (!constantTimeEquals(hash, (*c)->str))
                       return cb(std::unexpected(Error{"unauthorized", "unknown factory token"}));
                     cb(Principal{Role::Factory, id, {}});
                   });
    return;
  }
  auto session = sessions_.verify(bearer, now_s);
  if (!session) {
    cb(std::unexpected(Error{"unauthorized", "invalid or expired session token"}));
    return;
  }
  cb(Principal{Role::Buyer, {}, std::move(*session)});
}

void Catalog::authorizeStream(const Principal& who, const std::string& stream_id,
                              Callback<StreamInfo> cb) {
  if (who.role == Role::Buyer) {
    cb(std::unexpected(Error{"forbidden", "needs the organizer's or the stream's factory token"}));
    return;
  }
  getStream(stream_id, [factory_id = who.role == Role::Factory ? who.factory_id : std::string(),
                        cb = std::move(cb)](std::expected<StreamInfo, Error> s) {
    if (s && !factory_id.empty() && s->factory_id != factory_id)
      return cb(std::unexpected(Error{"forbidden", "stream belongs to another factory"}));
    cb(std::move(s));
  });
}

void Catalog::authorizePublish(const std::string& stream_key, Callback<std::string> cb) {
  std::string id = idInSecret(stream_key, kStreamKeyPrefix);
  if (id.empty()) {
    cb(std::unexpected(Error{"forbidden", "unknown stream key"}));
    return;
  }
  redis_.command({"HMGET", keys::meta(id), "key_sha256", "status"},
                 [id, hash = sha256Hex(stream_key), cb = std::move(cb)](RedisResult r) {
                   auto c = checked(r);
                   if (!c) return cb(std::unexpected(c.error()));
                   const RedisReply& fields = **c;
                   if (fields.elements.size() != 2 || !constantTimeEquals(hash, fields.elements[0].str))
                     return cb(std::unexpected(Error{"forbidden", "unknown stream key"}));
                   if (fields.elements[1].str == "ended")
                     return cb(std::unexpected(Error{"stream_ended", "the stream has ended"}));
                   cb(id);
                 });
}

void Catalog::isStreamHost(const std::string& token, const std::string& stream_id,
                           Callback<bool> cb) {
  if (!keys::isValidId(stream_id) || !token.starts_with(kFactoryPrefix)) {
    cb(false);
    return;
  }
  authenticate(token, 0, [this, stream_id, cb = std::move(cb)](std::expected<Principal, Error> p) {
    if (!p) return cb(p.error().code == "unauthorized" ? std::expected<bool, Error>(false)
                                                       : std::unexpected(p.error()));
    authorizeStream(*p, stream_id, [cb](std::expected<StreamInfo, Error> s) {
      if (s) return cb(true);
      if (s.error().code == "store_unavailable" || s.error().code == "internal")
        return cb(std::unexpected(s.error()));
      cb(false);
    });
  });
}

// ---- factories and streams -------------------------------------------------------------------

void Catalog::createFactory(const std::string& name, int64_t now_ms, Callback<IdAndSecret> cb) {
  cb = changing(std::move(cb));
  redis_.command({"INCR", std::string(keys::kFactorySeq)},
                 [this, name, now_ms, cb = std::move(cb)](RedisResult r) mutable {
                   auto c = checked(r);
                   if (!c) return cb(std::unexpected(c.error()));
                   std::string id = std::to_string((*c)->integer);
                   std::string token = std::string(kFactoryPrefix) + id + "_" + randomHex(kSecretBytes);
                   std::string created = std::to_string(now_ms);
                   runBatch(redis_,
                            {{"HSET", keys::factory(id), "name", name, "token_sha256",
                              sha256Hex(token), "created_ms", created},
                             {"ZADD", std::string(keys::kFactories), created, id}},
                            [id, token, cb = std::move(cb)](auto replies) {
                              if (!replies) return cb(std::unexpected(replies.error()));
                              cb(IdAndSecret{id, token});
                            });
                 });
}

void Catalog::listFactories(Callback<std::vector<FactoryInfo>> cb) {
  auto names = [this](std::vector<std::string> ids, Callback<std::vector<FactoryInfo>> done) {
    std::vector<FactoryInfo> out;
    std::vector<std::vector<std::string>> cmds;
    for (auto& id : ids) {
      cmds.push_back({"HGET", keys::factory(id), "name"});
      out.push_back(FactoryInfo{std::move(id), ""});
    }
    runBatch(redis_, std::move(cmds), [out = std::move(out), done = std::move(done)](auto replies) mutable {
      if (!replies) return done(std::unexpected(replies.error()));
      for (std::size_t i = 0; i < out.size(); ++i) out[i].name = (*replies)[i].str;
      done(std::move(out));
    });
  };
  std::make_shared<IdWalk>(redis_, std::string(keys::kFactories), list_page_,
                           [this, names, cb = std::move(cb)](auto ids) mutable {
                             if (!ids) return cb(std::unexpected(ids.error()));
                             std::make_shared<PagedLoad<FactoryInfo>>(std::move(*ids), list_page_, names,
                                                                      std::move(cb))
                                 ->next();
                           })
      ->next();
}

void Catalog::createStream(const std::string& factory_id, const std::string& title,
                           int64_t now_ms, Callback<IdAndSecret> cb) {
  cb = changing(std::move(cb));
  if (!keys::isValidId(factory_id)) {
    cb(std::unexpected(notFound("factory_not_found", "no factory " + factory_id)));
    return;
  }
  // Exists check and id in one pipeline; an id burnt on a missing factory is harmless.
  runBatch(redis_, {{"EXISTS", keys::factory(factory_id)}, {"INCR", std::string(keys::kStreamSeq)}},
           [this, factory_id, title, now_ms, cb = std::move(cb)](auto replies) mutable {
             if (!replies) return cb(std::unexpected(replies.error()));
             if ((*replies)[0].integer == 0)
               return cb(std::unexpected(notFound("factory_not_found", "no factory " + factory_id)));
             std::string id = std::to_string((*replies)[1].integer);
             stream_seq_ = std::max<int64_t>(stream_seq_, (*replies)[1].integer);
             std::string key = std::string(kStreamKeyPrefix) + id + "_" + randomHex(kSecretBytes);
             std::string created = std::to_string(now_ms);
             // meta first: a listed stream always has its meta.
             runBatch(redis_,
                      {{"HSET", keys::meta(id), "factory_id", factory_id, "title", title, "status",
                        "offline", "created_ms", created, "key_sha256", sha256Hex(key)},
                       {"ZADD", std::string(keys::kStreams), created, id}},
                      [id, key, cb = std::move(cb)](auto r) {
                        if (!r) return cb(std::unexpected(r.error()));
                        cb(IdAndSecret{id, key});
                      });
           });
}

void Catalog::rotateStreamKey(const std::string& stream_id, Callback<std::string> cb) {
  std::string key = std::string(kStreamKeyPrefix) + stream_id + "_" + randomHex(kSecretBytes);
  // HSET only on an existing meta (the caller authorized the stream, but it may race a
  // deletion in the future; never create a half stream).
  redis_.command({"EVAL",
                  "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
                  "redis.call('HSET', KEYS[1], 'key_sha256', ARGV[1]) return 1",
                  "1", keys::meta(stream_id), sha256Hex(key)},
                 [key, stream_id, cb = std::move(cb)](RedisResult r) {
                   auto c = checked(r);
                   if (!c) return cb(std::unexpected(c.error()));
                   if ((*c)->integer == 0)
                     return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
                   cb(key);
                 });
}

void Catalog::getStream(const std::string& stream_id, Callback<StreamInfo> cb) {
  if (!keys::isValidId(stream_id)) {
    cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    return;
  }
  whenStreamMayExist(stream_id, [this, stream_id, cb = std::move(cb)](bool may) mutable {
    if (!may) return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    runBatch(redis_, streamCommands(stream_id), [stream_id, cb = std::move(cb)](auto replies) {
      if (!replies) return cb(std::unexpected(replies.error()));
      auto s = streamFrom(stream_id, (*replies)[0], (*replies)[1], (*replies)[2]);
      if (!s) return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
      cb(std::move(*s));
    });
  });
}

void Catalog::whenStreamMayExist(const std::string& id, std::function<void(bool)> then) {
  int64_t n = toInt64(id);  // a valid id: at most 18 digits
  if (n <= stream_seq_) return then(true);
  (stream_seq_reading_ ? seq_next_ : seq_in_flight_).push_back({n, std::move(then)});
  if (!stream_seq_reading_) readStreamSeq();
}

void Catalog::readStreamSeq() {
  stream_seq_reading_ = true;
  ++stream_seq_reads_;
  redis_.command({"GET", std::string(keys::kStreamSeq)}, [this](RedisResult r) {
    auto c = checked(r);
    if (c) stream_seq_ = std::max(stream_seq_, replyIntOr(**c, 0));
    auto answered = std::move(seq_in_flight_);
    seq_in_flight_.clear();
    // Those that came during the read and are now under the counter need no read of their own.
    for (auto& w : seq_next_) (w.id <= stream_seq_ ? answered : seq_in_flight_).push_back(std::move(w));
    seq_next_.clear();
    stream_seq_reading_ = false;
    if (!seq_in_flight_.empty()) readStreamSeq();
    for (auto& w : answered) w.then(!c || w.id <= stream_seq_);
  });
}

void Catalog::listStreamIds(Callback<std::vector<std::string>> cb) {
  std::make_shared<IdWalk>(redis_, std::string(keys::kStreams), list_page_, std::move(cb))->next();
}

void Catalog::listStreams(Callback<std::vector<StreamInfo>> cb) {
  listStreamIds([this, cb = std::move(cb)](auto ids) mutable {
    if (!ids) return cb(std::unexpected(ids.error()));
    auto load = [this](std::vector<std::string> page, Callback<std::vector<StreamInfo>> done) {
      loadStreams(std::move(page), std::move(done));
    };
    std::make_shared<PagedLoad<StreamInfo>>(std::move(*ids), list_page_, load, std::move(cb))->next();
  });
}

void Catalog::loadStreams(std::vector<std::string> ids, Callback<std::vector<StreamInfo>> cb) {
  std::vector<std::vector<std::string>> cmds;
  for (const auto& id : ids)
    for (auto& cmd : streamCommands(id)) cmds.push_back(std::move(cmd));
  runBatch(redis_, std::move(cmds), [ids = std::move(ids), cb = std::move(cb)](auto replies) {
    if (!replies) return cb(std::unexpected(replies.error()));
    std::vector<StreamInfo> out;
    out.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (auto s = streamFrom(ids[i], (*replies)[3 * i], (*replies)[3 * i + 1], (*replies)[3 * i + 2]))
        out.push_back(std::move(*s));
    cb(std::move(out));
  });
}

void Catalog::setStreamStatus(const std::string& stream_id, const std::string& status,
                              Callback<bool> cb) {
  cb = changing(std::move(cb));
  if (status != "offline" && status != "live" && status != "ended") {
    cb(std::unexpected(Error{"invalid_argument", "status must be offline, live or ended"}));
    return;
  }
  if (!keys::isValidId(stream_id)) {
    cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    return;
  }
  redis_.command({"EVAL",
                  "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
                  "redis.call('HSET', KEYS[1], 'status', ARGV[1]) return 1",
                  "1", keys::meta(stream_id), status},
                 [stream_id, cb = std::move(cb)](RedisResult r) {
                   auto c = checked(r);
                   if (!c) return cb(std::unexpected(c.error()));
                   if ((*c)->integer == 0)
                     return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
                   cb(true);
                 });
}

void Catalog::setPublishStatus(const std::string& stream_id, bool live, Callback<bool> cb) {
  cb = changing(std::move(cb));
  if (!keys::isValidId(stream_id)) {
    cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    return;
  }
  redis_.command({"EVAL",
                  "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
                  "if redis.call('HGET', KEYS[1], 'status') == 'ended' then return 2 end "
                  "redis.call('HSET', KEYS[1], 'status', ARGV[1]) return 1",
                  "1", keys::meta(stream_id), live ? "live" : "offline"},
                 [stream_id, cb = std::move(cb)](RedisResult r) {
                   auto c = checked(r);
                   if (!c) return cb(std::unexpected(c.error()));
                   if ((*c)->integer == 0)
                     return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
                   cb((*c)->integer == 1);
                 });
}

// ---- products --------------------------------------------------------------------------------

void Catalog::createProduct(const std::string& stream_id, const Product& product, int64_t now_ms,
                            Callback<Product> cb) {
  cb = changing(std::move(cb));
  std::string title_json = nlohmann::json(product.title).dump();
  redis_.evalScript(
      "orders.create_product",
      {keys::meta(stream_id), keys::product(stream_id, product.sku), keys::stock(stream_id)},
      {product.sku, product.title, title_json, std::to_string(product.price_cents),
       std::to_string(product.stock), std::to_string(product.limit_per_buyer), product.image_url,
       std::to_string(now_ms)},
      [p = Product(product), now_ms, stream_id, cb = std::move(cb)](RedisResult r) mutable {
        auto c = checked(r);
        if (!c) return cb(std::unexpected(c.error()));
        std::string code = replyText(element(**c, 0));
        if (code == "stream_not_found")
          return cb(std::unexpected(notFound(code, "no stream " + stream_id)));
        if (code == "sku_exists")
          return cb(std::unexpected(Error{code, "SKU " + p.sku + " already exists on this stream"}));
        if (code != "created") return cb(std::unexpected(Error{"internal", "create_product: " + code}));
        p.created_ms = now_ms;
        cb(std::move(p));
      });
}

void Catalog::listProducts(const std::string& stream_id, Callback<std::vector<Product>> cb) {
  if (!keys::isValidId(stream_id)) {
    cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    return;
  }
  whenStreamMayExist(stream_id, [this, stream_id, cb = std::move(cb)](bool may) mutable {
    if (!may) return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    loadProducts(stream_id, std::move(cb));
  });
}

void Catalog::loadProducts(const std::string& stream_id, Callback<std::vector<Product>> cb) {
  runBatch(redis_, {{"EXISTS", keys::meta(stream_id)}, {"HGETALL", keys::stock(stream_id)}},
           [this, stream_id, cb = std::move(cb)](auto replies) mutable {
             if (!replies) return cb(std::unexpected(replies.error()));
             if ((*replies)[0].integer == 0)
               return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
             const auto& stock = (*replies)[1].elements;
             std::vector<Product> out;
             std::vector<std::vector<std::string>> cmds;
             for (std::size_t i = 0; i + 1 < stock.size() && out.size() < kMaxProductsPerStream; i += 2) {
               Product p;
               p.sku = stock[i].str;
               p.stock = replyIntOr(stock[i + 1], 0);
               cmds.push_back({"HMGET", keys::product(stream_id, p.sku), "title", "price_cents",
                               "limit_per_buyer", "image_url", "created_ms"});
               out.push_back(std::move(p));
             }
             runBatch(redis_, std::move(cmds),
                      [out = std::move(out), cb = std::move(cb)](auto details) mutable {
                        if (!details) return cb(std::unexpected(details.error()));
                        for (std::size_t i = 0; i < out.size(); ++i) {
                          const auto& d = (*details)[i];
                          out[i].title = element(d, 0).str;
                          out[i].price_cents = replyIntOr(element(d, 1), 0);
                          out[i].limit_per_buyer = replyIntOr(element(d, 2), 0);
                          out[i].image_url = element(d, 3).str;
                          out[i].created_ms = replyIntOr(element(d, 4), 0);
                        }
                        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
                          return a.created_ms != b.created_ms ? a.created_ms < b.created_ms
                                                              : a.sku < b.sku;
                        });
                        cb(std::move(out));
                      });
           });
}

void Catalog::pin(const std::string& stream_id, const std::string& sku, int64_t ends_at_ms,
                  int64_t now_ms, Callback<std::string> cb) {
  cb = changing(std::move(cb));
  redis_.evalScript(
      "orders.pin",
      {keys::meta(stream_id), keys::product(stream_id, sku), keys::stock(stream_id),
       keys::timeline(stream_id)},
      {sku, ends_at_ms > 0 ? std::to_string(ends_at_ms) : std::string(), std::to_string(now_ms),
       keys::room(stream_id), max_timeline_},
      publishedReply(stream_id, sku, "pinned", std::move(cb)));
}

void Catalog::updateProduct(const std::string& stream_id, const std::string& sku,
                            const ProductChanges& changes, int64_t now_ms, Callback<std::string> cb) {
  cb = changing(std::move(cb));
  std::vector<std::string> args = {sku, changes.stock ? std::to_string(*changes.stock) : std::string(),
                                   std::to_string(now_ms), keys::room(stream_id)};
  if (changes.title) {
    args.insert(args.end(), {"title", *changes.title, "title_json", nlohmann::json(*changes.title).dump()});
  }
  if (changes.price_cents) args.insert(args.end(), {"price_cents", std::to_string(*changes.price_cents)});
  if (changes.limit_per_buyer)
    args.insert(args.end(), {"limit_per_buyer", std::to_string(*changes.limit_per_buyer)});
  if (changes.image_url) args.insert(args.end(), {"image_url", *changes.image_url});
  redis_.evalScript(
      "orders.update_product",
      {keys::meta(stream_id), keys::product(stream_id, sku), keys::stock(stream_id)}, std::move(args),
      publishedReply(stream_id, sku, "updated", std::move(cb)));
}

void Catalog::unpin(const std::string& stream_id, int64_t now_ms, Callback<std::string> cb) {
  cb = changing(std::move(cb));
  redis_.evalScript("orders.unpin", {keys::meta(stream_id), keys::timeline(stream_id)},
                    {std::to_string(now_ms), keys::room(stream_id), max_timeline_},
                    publishedReply(stream_id, "", "unpinned", std::move(cb)));
}

void Catalog::timeline(const std::string& stream_id, Callback<std::vector<TimelineEvent>> cb) {
  if (!keys::isValidId(stream_id)) {
    cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    return;
  }
  whenStreamMayExist(stream_id, [this, stream_id, cb = std::move(cb)](bool may) mutable {
    if (!may) return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
    runBatch(redis_,
             {{"EXISTS", keys::meta(stream_id)},
              {"XRANGE", keys::timeline(stream_id), "-", "+", "COUNT", max_timeline_}},
             [stream_id, cb = std::move(cb)](auto replies) {
               if (!replies) return cb(std::unexpected(replies.error()));
               if ((*replies)[0].integer == 0)
                 return cb(std::unexpected(notFound("stream_not_found", "no stream " + stream_id)));
               // XRANGE: [[id, [field, value, ...]], ...]
               std::vector<TimelineEvent> out;
               for (const auto& entry : (*replies)[1].elements) {
                 const RedisReply& fields = element(entry, 1);
                 TimelineEvent e;
                 e.type = field(fields, "type");
                 e.ts_ms = toInt64(field(fields, "ts"));
                 e.frame = field(fields, "frame");
                 out.push_back(std::move(e));
               }
               cb(std::move(out));
             });
  });
}

}  // namespace bloomcast::orders
