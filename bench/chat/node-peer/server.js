// The Node.js peer of bloomcast's chat, for bench/chat: one process, the `ws` package, rooms in
// memory. It speaks the subset of docs/DESIGN.md "Chat WebSocket protocol" the load generator
// uses, and the three setup calls of the HTTP API, so bloomcast_chat_load runs against it
// unchanged:
//
//   POST /api/factories, POST /api/streams   -> ids (the admin token is checked, nothing else)
//   POST /api/sessions {"name"}              -> {"token","user","user_id"}; the token is looked
//                                               up in memory (no signature: cheaper than bloomcast)
//   GET  /healthz
//   WS   /ws?room=ID[&token=T]  -> {"type":"welcome","user","role","history":[last 50]}
//        {"type":"chat","text"} -> every member of the room, the sender included, gets
//        {"type":"chat","room","id","user","text","ts","role"} once, in one order per room
//
// Fan-out is what a Node chat server usually does: each message is serialized once into a
// Buffer and ws.send() to every member at once (BATCH_MS=0, the default). BATCH_MS=50 instead
// collects a room's messages and sends one {"type":"batch","messages":[...]} frame per tick, as
// bloomcast does. Like bloomcast, a member whose unsent bytes exceed 512 KiB skips messages
// (they count as loss) rather than grow the server's memory. No Redis, no rate limits, no
// moderation: the peer does less work per message than bloomcast.
//
//   PORT=8090 ADMIN_TOKEN=t [BATCH_MS=0] node server.js     (listens on 127.0.0.1 only)
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.env.PORT || 8090);
const adminToken = process.env.ADMIN_TOKEN || '';
const batchMs = Number(process.env.BATCH_MS || 0);
const maxBuffered = 512 * 1024;
const historySize = 50;

let nextFactory = 1;
let nextStream = 1;
let nextUser = 1;
const sessions = new Map(); // token -> name
const rooms = new Map(); // id -> { members: Set<ws>, seq, history: [json], pending: [json] }

function roomOf(id) {
  let r = rooms.get(id);
  if (!r) {
    r = { members: new Set(), seq: 0, history: [], pending: [] };
    rooms.set(id, r);
  }
  return r;
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = {};
    try {
      if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      return reply(res, 400, { error: 'invalid_json', message: 'bad JSON' });
    }
    const bearer = (req.headers.authorization || '').replace(/^Bearer /, '');
    const organizer = adminToken !== '' && bearer === adminToken;
    if (req.method === 'GET' && req.url === '/healthz') return reply(res, 200, { status: 'ok' });
    if (req.method === 'POST' && req.url === '/api/factories') {
      if (!organizer) return reply(res, 401, { error: 'unauthorized', message: 'organizer only' });
      const id = String(nextFactory++);
      return reply(res, 201, { id, name: body.name || '', token: `ft_${id}` });
    }
    if (req.method === 'POST' && req.url === '/api/streams') {
      if (!organizer) return reply(res, 401, { error: 'unauthorized', message: 'organizer only' });
      const id = String(nextStream++);
      roomOf(id);
      return reply(res, 201, { id, factory_id: body.factory_id, title: body.title || '', status: 'offline' });
    }
    if (req.method === 'POST' && req.url === '/api/sessions') {
      const name = typeof body.name === 'string' && body.name ? body.name : `viewer${nextUser}`;
      const userId = (nextUser++).toString(16).padStart(16, '0');
      const token = `${userId}.${Buffer.from(name).toString('base64url')}`;
      sessions.set(token, name);
      return reply(res, 201, { token, user: name, user_id: userId });
    }
    reply(res, 404, { error: 'not_found', message: 'no such path' });
  });
});

// ---- the room ----------------------------------------------------------------------------------

function deliver(room, frame) {
  const data = Buffer.from(frame); // serialized once, the same bytes for every member
  for (const ws of room.members) {
    if (ws.readyState !== ws.OPEN || ws.bufferedAmount > maxBuffered) continue;
    ws.send(data, { binary: false });
  }
}

function post(room, roomId, user, role, text) {
  const msg = JSON.stringify({ type: 'chat', room: roomId, id: ++room.seq, user, text, ts: Date.now(), role });
  room.history.push(msg);
  if (room.history.length > historySize) room.history.shift();
  if (batchMs > 0) room.pending.push(msg);
  else deliver(room, msg);
}

if (batchMs > 0) {
  setInterval(() => {
    for (const room of rooms.values()) {
      if (room.pending.length === 0) continue;
      const frame = room.pending.length === 1 ? room.pending[0] : `{"type":"batch","messages":[${room.pending.join(',')}]}`;
      room.pending = [];
      deliver(room, frame);
    }
  }, batchMs);
}

const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 4096 });
wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://x');
  const roomId = url.searchParams.get('room') || '';
  const token = url.searchParams.get('token') || '';
  if (!rooms.has(roomId)) {
    ws.send(JSON.stringify({ type: 'error', code: 'unknown_room', message: `no live room ${roomId}` }));
    ws.close(1008, 'unknown room');
    return;
  }
  const room = rooms.get(roomId);
  const name = sessions.get(token);
  const user = name !== undefined ? name : `游客${Math.floor(Math.random() * 10000)}`;
  const role = name !== undefined ? 'viewer' : 'guest';
  room.members.add(ws);
  ws.send(`{"type":"welcome","user":${JSON.stringify(user)},"role":"${role}","history":[${room.history.join(',')}]}`);
  ws.on('message', (data) => {
    let m;
    try {
      m = JSON.parse(data.toString());
    } catch {
      return ws.send('{"type":"error","code":"invalid_json","message":"bad JSON"}');
    }
    if (!m || m.type !== 'chat') return; // likes and the rest: ignored
    if (role === 'guest') return ws.send('{"type":"error","code":"login_required","message":"sign in to chat"}');
    if (typeof m.text !== 'string' || m.text.length === 0 || [...m.text].length > 280)
      return ws.send('{"type":"error","code":"too_long","message":"1..280 characters"}');
    post(room, roomId, user, role, m.text);
  });
  ws.on('close', () => room.members.delete(ws));
  ws.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => console.log(`node chat peer on 127.0.0.1:${port} (batch_ms=${batchMs})`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
