#pragma once
// Keys: the Redis key schema of the orders part, in one place. docs/DESIGN.md ("Orders in Redis:
// key schema") explains each key; this header is the code's copy.
//
// Every key of one stream carries the hash tag {s:ID}, so every script over one stream is a
// single-slot call that runs unchanged on Redis Cluster. Global keys (lists, factories, id
// counters) are never touched by an order script.
//
// Ids are validated before they reach here (see isValidId); a key built from an unchecked id
// could name another stream's data. Pure; thread-safe.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace bloomcast::orders::keys {

// ---- per stream: "bc:{s:ID}:..." -------------------------------------------------------------
inline std::string streamPrefix(std::string_view id) {
  std::string k;
  k.reserve(12 + id.size());
  k.append("bc:{s:").append(id).append("}:");
  return k;
}
inline std::string streamKey(std::string_view id, std::string_view part) {
  return streamPrefix(id).append(part);
}
// HASH factory_id, title, status, created_ms, key_sha256, pinned_sku, pinned_ends_at_ms
inline std::string meta(std::string_view id) { return streamKey(id, "meta"); }
// HASH sku -> units left; its fields are also the stream's product list
inline std::string stock(std::string_view id) { return streamKey(id, "stock"); }
// HASH title, title_json, price_cents, limit_per_buyer, image_url, created_ms
inline std::string product(std::string_view id, std::string_view sku) {
  return streamPrefix(id).append("p:").append(sku);
}
// HASH o:SEQ -> order record, k:BUYER:IDEMPOTENCY_KEY -> SEQ, b:SKU:BUYER -> units held
inline std::string orders(std::string_view id) { return streamKey(id, "orders"); }
// HASH seq (orders ever placed), gmv_cents, units, orders (net of cancelled and expired),
// swept_seq (the expiry walk has passed every order up to it), m:UNIX_MINUTE -> "GMV_CENTS
// UNITS ORDERS" (net, by the minute the order was placed), and the chat part's pub_ms, likes,
// viewers. The minutes share the hash so that an order reads and writes all its counters in
// one call each.
inline std::string stats(std::string_view id) { return streamKey(id, "stats"); }
inline std::string minuteField(int64_t unix_minute) { return "m:" + std::to_string(unix_minute); }
// ZSET sku -> GMV cents (the stream's product leaderboard)
inline std::string leaderboard(std::string_view id) { return streamKey(id, "lb"); }
// STREAM of state changes (t=placed|paid|cancelled|expired, o=SEQ, ...), MAXLEN ~ bound
inline std::string events(std::string_view id) { return streamKey(id, "events"); }
// STREAM of pins with their wall time, for the replay
inline std::string timeline(std::string_view id) { return streamKey(id, "timeline"); }
// STRING the room's like total (written by the chat part's room tick; read for GET /api/streams)
inline std::string likes(std::string_view id) { return streamKey(id, "likes"); }
// pub/sub channel of the stream's chat room (fanned out by the chat part)
inline std::string room(std::string_view id) { return streamKey(id, "room"); }

// The place script's keys (meta, product, stock, orders, stats, lb, events) and the room
// channel, in that order, as views of one buffer: the order path builds one string, not nine.
// `buffer` is overwritten and must outlive the views.
inline std::array<std::string_view, 8> placeKeys(std::string_view id, std::string_view sku,
                                                  std::string& buffer) {
  static constexpr std::string_view kParts[] = {"meta",  "p:", "stock",  "orders",
                                                "stats", "lb", "events", "room"};
  buffer.clear();
  buffer.reserve(std::size(kParts) * (id.size() + 16) + sku.size());
  std::size_t end[std::size(kParts)];
  for (std::size_t i = 0; i < std::size(kParts); ++i) {
    buffer.append("bc:{s:").append(id).append("}:").append(kParts[i]);
    if (i == 1) buffer.append(sku);  // p:SKU
    end[i] = buffer.size();
  }
  std::array<std::string_view, 8> views;  // taken once the buffer is complete
  for (std::size_t i = 0, start = 0; i < views.size(); start = end[i++])
    views[i] = std::string_view(buffer).substr(start, end[i] - start);
  return views;
}

// ---- global ----------------------------------------------------------------------------------
inline constexpr std::string_view kFactorySeq = "bc:seq:factory";  // INCR -> factory id
inline constexpr std::string_view kStreamSeq = "bc:seq:stream";    // INCR -> stream id
inline constexpr std::string_view kFactories = "bc:factories";     // ZSET id -> created_ms
inline constexpr std::string_view kStreams = "bc:streams";         // ZSET id -> created_ms
// HASH name, token_sha256, created_ms
inline std::string factory(std::string_view id) { return std::string("bc:factory:").append(id); }

// Ids are decimal numbers from INCR, at most 18 digits.
inline bool isValidId(std::string_view id) {
  if (id.empty() || id.size() > 18 || id[0] == '0') return false;
  for (char c : id)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace bloomcast::orders::keys
