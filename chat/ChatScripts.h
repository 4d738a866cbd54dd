#pragma once
// The chat's Lua scripts. Every key of a room carries the stream's hash tag {s:ID}, so each
// script touches one Redis Cluster slot. PUBLISH inside the script makes "stored" and
// "announced" one atomic step: the room's single order is the order of PUBLISH in Redis.
namespace bloomcast::chat::scripts {

// Posts one chat message.
// KEYS: seq, history, banned. ARGV: channel, room, user, text, ts_ms, role.
// Returns the message id, or the error reply "banned".
inline constexpr const char* kPost = R"lua(
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 1 then return redis.error_reply('banned') end
local id = redis.call('INCR', KEYS[1])
local msg = '{"type":"chat","room":' .. cjson.encode(ARGV[2]) .. ',"id":' .. id ..
  ',"user":' .. cjson.encode(ARGV[3]) .. ',"text":' .. cjson.encode(ARGV[4]) ..
  ',"ts":' .. ARGV[5] .. ',"role":' .. cjson.encode(ARGV[6]) .. '}'
redis.call('LPUSH', KEYS[2], msg)
redis.call('LTRIM', KEYS[2], 0, 49)
redis.call('PUBLISH', ARGV[1], msg)
return id
)lua";

// Deletes a message from the history and tells the room.
// KEYS: history. ARGV: channel, id. Returns 1 when it was in the history, else 0 (still told).
inline constexpr const char* kDelete = R"lua(
local needle = ',"id":' .. ARGV[2] .. ','
local found = 0
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.find(item, needle, 1, true) then
    redis.call('LREM', KEYS[1], 1, item)
    found = 1
    break
  end
end
redis.call('PUBLISH', ARGV[1], '{"type":"delete","id":' .. ARGV[2] .. '}')
return found
)lua";

// Bans (ARGV[3] == "1") or unbans a user in a room.
// KEYS: banned. ARGV: channel, user, ban.
inline constexpr const char* kBan = R"lua(
if ARGV[3] == '1' then
  redis.call('SADD', KEYS[1], ARGV[2])
  redis.call('PUBLISH', ARGV[1], '{"type":"ban","user":' .. cjson.encode(ARGV[2]) .. '}')
else
  redis.call('SREM', KEYS[1], ARGV[2])
end
return 1
)lua";

// One node's report for one room, every 500 ms and when its last member leaves: adds its likes,
// records its viewer count, stores the room's totals, and publishes them when they changed since
// the last publication and 500 ms have passed since it (by any node). Viewer counts older than 5 s (a node that died) are dropped.
// KEYS: likes, viewers (hash node -> "count:ts_ms"), stats (hash). ARGV: channel, node,
// local_viewers, like_delta, now_ms. Returns {likes, viewers}.
inline constexpr const char* kRoomTick = R"lua(
local likes = redis.call('INCRBY', KEYS[1], tonumber(ARGV[4]))
local now = tonumber(ARGV[5])
if tonumber(ARGV[3]) > 0 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3] .. ':' .. ARGV[5])
else
  redis.call('HDEL', KEYS[2], ARGV[2])
end
local total = 0
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  local v = entries[i + 1]
  local sep = string.find(v, ':', 1, true)
  local count = tonumber(string.sub(v, 1, sep - 1))
  local ts = tonumber(string.sub(v, sep + 1))
  if now - ts > 5000 then redis.call('HDEL', KEYS[2], entries[i]) else total = total + count end
end
-- The stored totals are always current (the API reads them); the room hears of a change at
-- most every 500 ms, and a change held back is published by the next tick of any node.
redis.call('HSET', KEYS[3], 'likes', likes, 'viewers', total)
local st = redis.call('HMGET', KEYS[3], 'pub_ms', 'pub_likes', 'pub_viewers')
local last = tonumber(st[1] or '0')
if (tostring(likes) ~= st[2] or tostring(total) ~= st[3]) and now - last >= 500 then
  redis.call('HSET', KEYS[3], 'pub_ms', now, 'pub_likes', likes, 'pub_viewers', total)
  redis.call('PUBLISH', ARGV[1], '{"type":"batch","messages":[{"type":"likes","total":' .. likes ..
    '},{"type":"viewers","count":' .. total .. '}]}')
end
return {likes, total}
)lua";

}  // namespace bloomcast::chat::scripts
