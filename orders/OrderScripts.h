#pragma once
// OrderScripts: the Lua scripts that change orders and catalog state in Redis, one per state
// change, each atomic and confined to one stream's hash tag {s:ID} (see Keys.h). Loaded once
// with SCRIPT LOAD and run with EVALSHA by RedisClient::evalScript.
//
// Every script answers an array whose first element is a result code (a string); the codes are
// listed with each script below and mapped to HTTP answers by OrdersApi. Numbers that can grow
// large (cents, sequence numbers) are formatted with string.format('%d'), never Lua's %.14g.
//
// Order record (one field o:SEQ of the orders hash, the only copy of an order):
//   STATUS|SKU|QTY|AMOUNT_CENTS|BUYER|CREATED_MS|UPDATED_MS
// SKU and BUYER come from restricted alphabets without '|' (OrdersApi validates them).
//
// Pure data; thread-safe.
#include <string>

namespace bloomcast::orders::scripts {

// place — KEYS: meta product stock orders stats lb events
//         ARGV: sku qty buyer idempotency_key now_ms user_json room max_events
// -> {"created", SEQ, AMOUNT_CENTS} | {"replay", SEQ, AMOUNT_CENTS} |
//    {"idempotency_key_reused", SEQ} | {"stream_not_found"} | {"stream_ended"} |
//    {"flash_sale_ended"} (the SKU is pinned with a flash-sale end before now_ms) |
//    {"product_not_found"} | {"sold_out", UNITS_LEFT} | {"limit_exceeded", UNITS_ALLOWED}
// Writes (5): stock, order record + idempotency entry + buyer's units (one HSET), the stream's
// and the minute's counters (one HSET), product leaderboard, event; then
// PUBLISHes the chat frame {"type":"order",...,"stock":UNITS_LEFT} on the room channel.
extern const std::string kPlace;

// pay — KEYS: orders events   ARGV: seq buyer_or_empty now_ms max_events lifetime_ms
// -> {"paid", AMOUNT} (also when already paid) | {"order_not_found"} |
//    {"order_cancelled"|"order_expired", AMOUNT}
// A buyer (non-empty ARGV[2]) sees only its own orders; an unpaid order past its deadline is
// refused as expired (placed at or before now - lifetime) even before the expiry task has
// released it.
extern const std::string kPay;

// cancel — KEYS: orders stock stats lb events
//          ARGV: seq buyer_or_empty now_ms max_events room
// -> {"cancelled", AMOUNT} (also when already cancelled) | {"order_not_found"} |
//    {"order_expired", AMOUNT} | {"order_paid", AMOUNT} (a buyer cannot cancel a paid order)
// Returns the stock and the buyer's allowance, subtracts the order from every counter, and
// publishes {"type":"stock","sku","stock","ts"} to the room so that viewers see it is back.
extern const std::string kCancel;

// expire — KEYS: as cancel   ARGV: now_ms limit max_events room lifetime_ms
// -> {EXPIRED, EXAMINED}: walks the orders in placement order (SEQ 1, 2, ...) from the stream
// counters' `swept_seq`, at most `limit` of them: paid, cancelled and expired ones are passed
// over, unpaid ones placed at or before now - lifetime are released, and the first unpaid one
// not yet due stops the walk (every later order was placed after it). `swept_seq` then names the
// last order passed. Publishes one "stock" message per SKU that got stock back. No index is
// written per order (placing stays one write cheaper). Safe to run from several nodes at once:
// the walk and each release happen inside one atomic call.
extern const std::string kExpire;

// create_product — KEYS: meta product stock
//   ARGV: sku title title_json price_cents stock limit_per_buyer image_url now_ms
// -> {"created"} | {"stream_not_found"} | {"sku_exists"}
extern const std::string kCreateProduct;

// pin — KEYS: meta product stock timeline
//       ARGV: sku flash_sale_ends_at_ms_or_empty now_ms room max_timeline
// -> {"pinned", FRAME_JSON} | {"stream_not_found"} | {"product_not_found"}
// Records the pin in the stream's meta and timeline and PUBLISHes {"type":"pin",...}.
extern const std::string kPin;

// update_product — KEYS: meta product stock
//   ARGV: sku stock_or_empty now_ms room [FIELD VALUE]... (product hash fields, validated)
// -> {"updated", FRAME_JSON} | {"stream_not_found"} | {"product_not_found"}
// Sets the given fields and the stock left, and PUBLISHes {"type":"product","product":{...},"ts"}
// so open viewer pages show the new title, price or stock at once.
extern const std::string kUpdateProduct;

// unpin — KEYS: meta timeline   ARGV: now_ms room max_timeline
// -> {"unpinned", FRAME_JSON} | {"stream_not_found"}
// Clears the pin, appends {"type":"pin","product":null,"ts"} to the timeline and PUBLISHes it.
extern const std::string kUnpin;

}  // namespace bloomcast::orders::scripts
