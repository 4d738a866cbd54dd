// The Node.js + ioredis peer of bloomcast's POST /api/orders, for bench/orders: one process, the
// same contract (docs/API.md) and the same Redis work — bloomcast's own place script
// (orders/OrderScripts.cc kPlace, extracted by run.sh) called with EVALSHA, same KEYS and ARGV.
//
// What it checks, like bloomcast: the session token's HMAC-SHA256 signature and age (secret
// derived from the admin token exactly as orders/Sessions.cc does, so bloomcast's tokens work
// here), the JSON body (stream, sku, qty 1..999, idempotency_key 1..64 printable ASCII). What it
// leaves out: rate limits (bloomcast runs with --rate-limits off in the bench), metrics, every
// other route. ioredis runs with enableAutoPipelining (commands issued in one event-loop turn
// share one write), which is what bloomcast's async hiredis does as well; the script is sent
// with EVALSHA and loaded on NOSCRIPT by ioredis's defineCommand.
//
//   PORT=8091 REDIS_SOCKET=/path/redis.sock ADMIN_TOKEN=t PLACE_LUA=place.lua node server.js
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const Redis = require('ioredis');

const port = Number(process.env.PORT || 8091);
const adminToken = process.env.ADMIN_TOKEN || '';
const maxEvents = '1000000';
const orderExpiryMs = 15 * 60 * 1000;  // bloomcast's default order_expiry_s, for the answer's expires_in_ms
const maxAgeS = 30 * 24 * 3600;

const redis = new Redis({ path: process.env.REDIS_SOCKET, enableAutoPipelining: true, lazyConnect: false });
redis.defineCommand('placeOrder', { numberOfKeys: 7, lua: fs.readFileSync(process.env.PLACE_LUA, 'utf8') });

// ---- sessions: UID "." b64url(NAME) "." ISSUED_S "." b64url(HMAC(secret, first three)) -----------
const secret = crypto.createHmac('sha256', adminToken).update('bloomcast/session/v1').digest();

function verifySession(token) {
  if (!token || token.length > 256) return null;
  const last = token.lastIndexOf('.');
  if (last < 0) return null;
  const payload = token.slice(0, last);
  const mac = Buffer.from(crypto.createHmac('sha256', secret).update(payload).digest('base64url'));
  const given = Buffer.from(token.slice(last + 1));
  if (mac.length !== given.length || !crypto.timingSafeEqual(mac, given)) return null;
  const [userId, name64, issued] = payload.split('.');
  if (!/^[0-9a-f]{16}$/.test(userId || '') || !/^[0-9]+$/.test(issued || '')) return null;
  const now = Math.floor(Date.now() / 1000);
  const issuedS = Number(issued);
  if (issuedS > now + 300 || now - issuedS > maxAgeS) return null;
  const name = Buffer.from(name64, 'base64url').toString('utf8');
  return { userId, name };
}

// ---- POST /api/orders --------------------------------------------------------------------------
const statusOf = {
  created: 201, replay: 200, idempotency_key_reused: 422, stream_not_found: 404,
  product_not_found: 404, stream_ended: 409, flash_sale_ended: 409, sold_out: 409, limit_exceeded: 409,
};

function reply(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
function fail(res, status, code, message) {
  reply(res, status, JSON.stringify({ error: code, message }));
}

function placeOrder(req, res, raw) {
  const auth = req.headers.authorization || '';
  const session = verifySession(auth.startsWith('Bearer ') ? auth.slice(7) : '');
  if (!session) return fail(res, 401, 'unauthorized', 'invalid or expired session token');
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    return fail(res, 400, 'bad_json', 'the body is not valid JSON');
  }
  if (!body || typeof body !== 'object') return fail(res, 400, 'bad_json', 'the body must be a JSON object');
  const { stream, sku, qty, idempotency_key: key } = body;
  if (typeof stream !== 'string' || !/^[1-9][0-9]{0,17}$/.test(stream)) return fail(res, 404, 'stream_not_found', 'no such stream');
  if (typeof sku !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(sku)) return fail(res, 404, 'product_not_found', 'no such product');
  if (!Number.isInteger(qty) || qty < 1 || qty > 999) return fail(res, 400, 'invalid_argument', 'qty must be 1..999');
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(key))
    return fail(res, 400, 'invalid_argument', 'idempotency_key must be 1..64 printable ASCII characters');
  const p = `bc:{s:${stream}}:`;
  const now = Date.now();
  const masked = JSON.stringify([...session.name][0] + '**');
  redis
    .placeOrder(`${p}meta`, `${p}p:${sku}`, `${p}stock`, `${p}orders`, `${p}stats`, `${p}lb`,
      `${p}events`, sku, String(qty), session.userId, key, String(now), masked, `${p}room`, maxEvents)
    .then((r) => {
      const code = String(r[0]);
      const status = statusOf[code];
      if (status === undefined) return fail(res, 500, 'internal', 'unexpected script answer');
      if (code === 'created' || code === 'replay') {
        const left = code === 'replay' ? Math.max(0, Number(r[3]) + orderExpiryMs - now) : orderExpiryMs;
        return reply(res, status, `{"order_id":"${stream}-${r[1]}","amount_cents":${r[2]},"status":"created",` +
          `"expires_in_ms":${left}}`);
      }
      fail(res, status, code, code);
    })
    .catch((e) => fail(res, 503, 'store_unavailable', String(e.message || e)));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= 16384) chunks.push(c);
  });
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/healthz') return reply(res, 200, '{"status":"ok"}');
    if (req.method !== 'POST' || req.url !== '/api/orders') return fail(res, 404, 'not_found', 'no such path');
    if (size > 16384) return fail(res, 413, 'payload_too_large', 'at most 16 KiB');
    placeOrder(req, res, Buffer.concat(chunks).toString());
  });
});
server.keepAliveTimeout = 30000; // as bloomcast's idle keep-alive
server.listen(port, '127.0.0.1', () => console.log(`node orders peer on 127.0.0.1:${port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
