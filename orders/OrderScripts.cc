#include "orders/OrderScripts.h"

namespace bloomcast::orders::scripts {
namespace {

// Shared by pay, cancel and expire: record parsing and formatting, and the release of an order
// (stock, allowance and counters back) used by cancel and expire.
const std::string kPrelude = R"lua(
local function int(x) return string.format('%d', x) end
local function parse(rec)
  local st, sku, qty, amt, buyer, created, updated =
    string.match(rec, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  return {status = st, sku = sku, qty = tonumber(qty), amount = tonumber(amt), buyer = buyer,
          created = tonumber(created)}
end
local function record(o, status, now)
  return status .. '|' .. o.sku .. '|' .. int(o.qty) .. '|' .. int(o.amount) .. '|' ..
         o.buyer .. '|' .. int(o.created) .. '|' .. now
end
-- KEYS: orders stock stats lb events. Returns the SKU's stock afterwards.
local function release(seq, o, status, now, max_events)
  local left = redis.call('HINCRBY', KEYS[2], o.sku, o.qty)
  local held_field = 'b:' .. o.sku .. ':' .. o.buyer
  local held = (tonumber(redis.call('HGET', KEYS[1], held_field)) or 0) - o.qty
  if held < 0 then held = 0 end
  redis.call('HSET', KEYS[1], 'o:' .. seq, record(o, status, now), held_field, int(held))
  -- The minute counters sit in the stats hash (m:UNIX_MINUTE): one read and one write for both.
  local minute = 'm:' .. int(math.floor(o.created / 60000))
  local s = redis.call('HMGET', KEYS[3], 'gmv_cents', 'units', 'orders', minute)
  local counters = {'gmv_cents', int((tonumber(s[1]) or 0) - o.amount),
                    'units', int((tonumber(s[2]) or 0) - o.qty),
                    'orders', int((tonumber(s[3]) or 0) - 1)}
  if s[4] then
    local g, u, c = string.match(s[4], '^(%-?%d+) (%-?%d+) (%-?%d+)$')
    counters[7] = minute
    counters[8] = int(g - o.amount) .. ' ' .. int(u - o.qty) .. ' ' .. int(c - 1)
  end
  redis.call('HSET', KEYS[3], unpack(counters))
  redis.call('ZINCRBY', KEYS[4], int(-o.amount), o.sku)
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', max_events, '*', 't', status, 'o', seq,
             'sku', o.sku, 'q', int(o.qty), 'a', int(o.amount))
  return left
end
-- Tells the room that stock came back (SKUs are [A-Za-z0-9_.-]: no escaping needed).
local function announce_stock(room, sku, stock, now)
  redis.call('PUBLISH', room, '{"type":"stock","sku":"' .. sku .. '","stock":' .. int(stock) ..
             ',"ts":' .. now .. '}')
end
)lua";

}  // namespace

const std::string kPlace = R"lua(
local function int(x) return string.format('%d', x) end
local sku, qty_text, buyer, now = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local qty = tonumber(qty_text)
local idem_field = 'k:' .. buyer .. ':' .. ARGV[4]
local held_field = 'b:' .. sku .. ':' .. buyer
local mine = redis.call('HMGET', KEYS[4], idem_field, held_field)
if mine[1] then
  local rec = redis.call('HGET', KEYS[4], 'o:' .. mine[1])
  local _, rsku, rqty, ramt, rcreated = string.match(rec, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|[^|]*|([^|]*)|')
  if rsku ~= sku or rqty ~= qty_text then return {'idempotency_key_reused', mine[1]} end
  return {'replay', mine[1], ramt, rcreated}
end
local meta = redis.call('HMGET', KEYS[1], 'status', 'pinned_sku', 'pinned_ends_at_ms')
local status = meta[1]
if not status then return {'stream_not_found'} end
if status == 'ended' then return {'stream_ended'} end
-- The pinned product's flash sale is over: closed until it is pinned again (or unpinned).
if meta[2] == sku and meta[3] and meta[3] ~= '' and tonumber(now) > tonumber(meta[3]) then
  return {'flash_sale_ended'}
end
local p = redis.call('HMGET', KEYS[2], 'price_cents', 'limit_per_buyer', 'title_json')
if not p[1] then return {'product_not_found'} end
local stock = tonumber(redis.call('HGET', KEYS[3], sku)) or 0
if stock < qty then return {'sold_out', int(stock)} end
local held = tonumber(mine[2]) or 0
local limit = tonumber(p[2])
if limit > 0 and held + qty > limit then return {'limit_exceeded', int(limit - held)} end
local amount = int(tonumber(p[1]) * qty)
-- The stream's counters and this minute's (field m:UNIX_MINUTE of the same hash): one read and
-- one write for both.
local minute = 'm:' .. int(math.floor(tonumber(now) / 60000))
local s = redis.call('HMGET', KEYS[5], 'seq', 'gmv_cents', 'units', 'orders', minute)
local seq = int((tonumber(s[1]) or 0) + 1)
local g, u, c = 0, 0, 0
if s[5] then g, u, c = string.match(s[5], '^(%-?%d+) (%-?%d+) (%-?%d+)$') end
redis.call('HINCRBY', KEYS[3], sku, -qty)
redis.call('HSET', KEYS[4],
           'o:' .. seq, 'created|' .. sku .. '|' .. qty_text .. '|' .. amount .. '|' .. buyer ..
                        '|' .. now .. '|' .. now,
           idem_field, seq, held_field, int(held + qty))
redis.call('HSET', KEYS[5], 'seq', seq, 'gmv_cents', int((tonumber(s[2]) or 0) + amount),
           'units', int((tonumber(s[3]) or 0) + qty), 'orders', int((tonumber(s[4]) or 0) + 1),
           minute, int(g + amount) .. ' ' .. int(u + qty) .. ' ' .. int(c + 1))
redis.call('ZINCRBY', KEYS[6], amount, sku)
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[8], '*', 't', 'placed', 'o', seq, 'sku', sku,
           'q', qty_text, 'a', amount)
redis.call('PUBLISH', ARGV[7], '{"type":"order","sku":"' .. sku .. '","title":' .. p[3] ..
           ',"qty":' .. qty_text .. ',"stock":' .. int(stock - qty) .. ',"user":' .. ARGV[6] ..
           ',"ts":' .. now .. '}')
return {'created', seq, amount}
)lua";

const std::string kPay = kPrelude + R"lua(
local seq = ARGV[1]
local rec = redis.call('HGET', KEYS[1], 'o:' .. seq)
if not rec then return {'order_not_found'} end
local o = parse(rec)
if ARGV[2] ~= '' and ARGV[2] ~= o.buyer then return {'order_not_found'} end
if o.status == 'paid' then return {'paid', int(o.amount)} end
if o.status ~= 'created' then return {'order_' .. o.status, int(o.amount)} end
if o.created + tonumber(ARGV[5]) <= tonumber(ARGV[3]) then return {'order_expired', int(o.amount)} end
redis.call('HSET', KEYS[1], 'o:' .. seq, record(o, 'paid', ARGV[3]))
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 't', 'paid', 'o', seq)
return {'paid', int(o.amount)}
)lua";

const std::string kCancel = kPrelude + R"lua(
local seq = ARGV[1]
local rec = redis.call('HGET', KEYS[1], 'o:' .. seq)
if not rec then return {'order_not_found'} end
local o = parse(rec)
if ARGV[2] ~= '' and ARGV[2] ~= o.buyer then return {'order_not_found'} end
if o.status == 'cancelled' then return {'cancelled', int(o.amount)} end
if o.status == 'expired' then return {'order_expired', int(o.amount)} end
if o.status == 'paid' and ARGV[2] ~= '' then return {'order_paid', int(o.amount)} end
announce_stock(ARGV[5], o.sku, release(seq, o, 'cancelled', ARGV[3], ARGV[4]), ARGV[3])
return {'cancelled', int(o.amount)}
)lua";

const std::string kExpire = kPrelude + R"lua(
local now, limit, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local swept = tonumber(redis.call('HGET', KEYS[3], 'swept_seq')) or 0
local last = tonumber(redis.call('HGET', KEYS[3], 'seq')) or 0
local expired, examined = 0, 0
local restocked, skus = {}, {}
while swept < last and examined < limit do
  local seq = int(swept + 1)
  local rec = redis.call('HGET', KEYS[1], 'o:' .. seq)
  local o = rec and string.sub(rec, 1, 8) == 'created|' and parse(rec)
  if o and o.created then  -- settled (or unreadable) orders are passed over
    if o.created + lifetime > now then break end  -- not due yet, nor is anything placed later
    if not restocked[o.sku] then skus[#skus + 1] = o.sku end
    restocked[o.sku] = release(seq, o, 'expired', ARGV[1], ARGV[3])
    expired = expired + 1
  end
  swept = swept + 1
  examined = examined + 1
end
if examined > 0 then redis.call('HSET', KEYS[3], 'swept_seq', int(swept)) end
for _, sku in ipairs(skus) do announce_stock(ARGV[4], sku, restocked[sku], ARGV[1]) end
return {expired, examined}
)lua";

const std::string kCreateProduct = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'stream_not_found'} end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return {'sku_exists'} end
redis.call('HSET', KEYS[2], 'title', ARGV[2], 'title_json', ARGV[3], 'price_cents', ARGV[4],
           'initial_stock', ARGV[5], 'limit_per_buyer', ARGV[6], 'image_url', ARGV[7],
           'created_ms', ARGV[8])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
return {'created'}
)lua";

const std::string kPin = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'stream_not_found'} end
local p = redis.call('HMGET', KEYS[2], 'title', 'price_cents', 'limit_per_buyer', 'image_url')
if not p[1] then return {'product_not_found'} end
local left = redis.call('HGET', KEYS[3], ARGV[1]) or '0'
local product = {sku = ARGV[1], title = p[1], price_cents = tonumber(p[2]),
                 stock = tonumber(left), limit_per_buyer = tonumber(p[3])}
if p[4] and p[4] ~= '' then product.image_url = p[4] end
if ARGV[2] ~= '' then product.flash_sale_ends_at = tonumber(ARGV[2]) end
local frame = cjson.encode({type = 'pin', product = product, ts = tonumber(ARGV[3])})
redis.call('HSET', KEYS[1], 'pinned_sku', ARGV[1], 'pinned_ends_at_ms', ARGV[2],
           'pinned_at_ms', ARGV[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'type', 'pin', 'ts', ARGV[3],
           'frame', frame)
redis.call('PUBLISH', ARGV[4], frame)
return {'pinned', frame}
)lua";

const std::string kUpdateProduct = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'stream_not_found'} end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return {'product_not_found'} end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
if #ARGV > 4 then redis.call('HSET', KEYS[2], unpack(ARGV, 5)) end
local p = redis.call('HMGET', KEYS[2], 'title', 'price_cents', 'limit_per_buyer', 'image_url')
local product = {sku = ARGV[1], title = p[1], price_cents = tonumber(p[2]),
                 stock = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0'),
                 limit_per_buyer = tonumber(p[3])}
if p[4] and p[4] ~= '' then product.image_url = p[4] end
local frame = cjson.encode({type = 'product', product = product, ts = tonumber(ARGV[3])})
redis.call('PUBLISH', ARGV[4], frame)
return {'updated', frame}
)lua";

const std::string kUnpin = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'stream_not_found'} end
local frame = '{"type":"pin","product":null,"ts":' .. ARGV[1] .. '}'
redis.call('HSET', KEYS[1], 'pinned_sku', '', 'pinned_ends_at_ms', '', 'pinned_at_ms', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', 'pin', 'ts', ARGV[1],
           'frame', frame)
redis.call('PUBLISH', ARGV[2], frame)
return {'unpinned', frame}
)lua";

}  // namespace bloomcast::orders::scripts
