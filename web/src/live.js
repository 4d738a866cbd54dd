// Viewer page (/live/STREAM_ID): video, pinned product with buying, chat, likes, viewers, "just
// bought" toasts, and the replay with product cards at the moments they were pinned.
import { api, ApiError, forgetViewerSession, messageFor, viewerSession } from './api.js';
import { CHAT_ERRORS, LiveSocket } from './chat.js';
import { Player } from './player.js';
import { $, clockTime, countdown, el, ORDER_STATUS, setStatusBadge, throttle, toast, yuan } from './util.js';

const streamId = decodeURIComponent(location.pathname.split('/')[2] || '');
const video = $('#video');

const state = {
  stream: null,
  session: null,
  products: new Map(),   // sku -> product with the stock left
  events: [],            // timeline: {ts, product|null, received_ms}, oldest first
  shown: undefined,      // sku of the card on screen (null: none)
  replay: false,
  banned: false,
};

// ---- video --------------------------------------------------------------------------------

const player = new Player(video, { onState: onPlayerState });

function overlay(text, withButton) {
  const box = $('#overlay');
  box.hidden = !text;
  $('#overlay-text').textContent = text || '';
  box.onclick = withButton ? () => { video.play().catch(() => {}); } : null;
}

function onPlayerState(s, text) {
  if (s === 'vod') {
    if (!state.playlistEnded) {
      state.playlistEnded = true;
      updateReplay();
    }
    return;
  }
  if (s === 'playing') overlay('');
  else if (s === 'missing') overlay(state.stream && state.stream.status === 'ended' ? '直播已结束，暂无回放' : '直播尚未开始，敬请期待');
  else if (s === 'ended') overlay(state.replay ? '回放结束，感谢观看' : '直播已结束');
  else if (s === 'blocked') overlay(text, true);
  else if (text) overlay(text);
  $('#unmute').hidden = !video.muted || s !== 'playing';
}

$('#unmute').addEventListener('click', () => {
  video.muted = false;
  $('#unmute').hidden = true;
});
video.addEventListener('volumechange', () => { $('#unmute').hidden = !video.muted; });

// The player starts whatever the status says: a missing playlist is "not started" (retried with
// backoff until the show begins), a closed one the replay.
function startOrKeepPlayer() {
  const s = state.stream;
  if (!s || player.running) return;
  player.play(s.hls_url ? new URL(s.hls_url).pathname : `/hls/${streamId}/master.m3u8`);
}

function updateReplay() {
  state.replay = state.playlistEnded || (state.stream && state.stream.status === 'ended');
  $('#replay-tag').hidden = !state.replay;
  if (state.replay && !(state.stream && state.stream.status === 'live')) {
    $('#status').textContent = '回放';
    $('#status').className = 'badge badge-ended';
  }
  renderCard();
}

// ---- stream info --------------------------------------------------------------------------

async function loadStream() {
  try {
    const { body } = await api('GET', '/api/streams/' + encodeURIComponent(streamId));
    const was = state.stream && state.stream.status;
    state.stream = body;
    document.title = body.title + ' — 品质东莞·线上绽放';
    $('#title').textContent = body.title;
    setStatusBadge($('#status'), body.status);
    if (!state.viewersSeen) $('#viewers').textContent = '👀 ' + (body.viewers || 0);
    if (!state.likesSeen) $('#likes').textContent = '❤ ' + (body.likes || 0);
    updateReplay();
    if (was && was !== body.status && body.status === 'ended') toast('直播已结束，可以观看回放', 'info');
    startOrKeepPlayer();
    renderCard();
  } catch (e) {
    if (e instanceof ApiError && e.code === 'stream_not_found') overlay('找不到这场直播，请回到首页看看其他直播');
    else overlay('加载直播信息失败：' + e.message);
  }
}

async function loadProducts() {
  try {
    const { body } = await api('GET', `/api/streams/${encodeURIComponent(streamId)}/products`);
    for (const p of body.products) {
      const have = state.products.get(p.sku) || {};
      // The answer is shared by the server for up to a second (its "at"): the room may have told
      // of a newer stock since (an order, a change), which it keeps.
      const stock = have.stockAt > body.at ? have.stock : p.stock;
      state.products.set(p.sku, { ...have, ...p, stock });
    }
    renderCard();
  } catch { /* the card keeps what it has; the next refresh tries again */ }
}

async function loadTimeline() {
  try {
    const { body } = await api('GET', `/api/streams/${encodeURIComponent(streamId)}/timeline`);
    const live = state.events.filter((e) => e.live);
    state.events = body.events.filter((e) => e.type === 'pin').map((e) => ({ ts: e.ts, product: e.product, received_ms: 0 }));
    for (const e of live) if (!state.events.some((x) => x.ts === e.ts)) state.events.push(e);
    state.events.sort((a, b) => a.ts - b.ts);
    renderCard();
  } catch { /* retried with the next refresh */ }
}

// ---- the product card ---------------------------------------------------------------------

// The pin in force at the picture on screen: the last pin at or before the playing date. Live,
// a pin waits for the video to reach it (the host shows the product then), unless the video
// gives no date, is paused, or the pin waited 20 s.
function currentPin() {
  if (!state.events.length) return null;
  const at = player.playingDateMs();
  const stalled = at === null || video.paused;
  let pick = null;
  for (const e of state.events) {
    const due = stalled && !state.replay ? true
      : at !== null ? e.ts <= at + 500 || (!state.replay && e.received_ms && Date.now() - e.received_ms > 20000)
      : true;
    if (due) pick = e;
  }
  if (pick === null && state.replay) return null;
  return pick;
}

function renderCard() {
  const pin = currentPin();
  const card = $('#product-card');
  if (!pin || !pin.product) {
    card.hidden = true;
    state.shown = null;
    return;
  }
  const p = { ...pin.product, ...(state.products.get(pin.product.sku) || {}) };
  p.flash_sale_ends_at = pin.product.flash_sale_ends_at;
  const fresh = state.shown !== p.sku;
  state.shown = p.sku;
  state.current = p;
  card.hidden = false;
  card.dataset.sku = p.sku;
  $('#p-title').textContent = p.title;
  $('#p-price').textContent = '¥' + yuan(p.price_cents);
  $('#p-stock').textContent = String(p.stock);
  $('#p-limit').textContent = p.limit_per_buyer > 0 ? ` · 每人限购 ${p.limit_per_buyer} 件` : '';
  const pic = $('#p-pic');
  if (p.image_url && pic.tagName !== 'IMG') {
    const img = el('img', { class: 'pic', id: 'p-pic', alt: '', src: p.image_url });
    pic.replaceWith(img);
  } else if (!p.image_url && pic.tagName === 'IMG') {
    pic.replaceWith(el('div', { class: 'pic', id: 'p-pic', 'aria-hidden': 'true' }, '🛍'));
  } else if (p.image_url && pic.getAttribute('src') !== p.image_url) {
    pic.setAttribute('src', p.image_url);
  }
  renderFlash();
  const buy = $('#buy');
  if (state.replay) {
    buy.disabled = true;
    buy.textContent = '直播已结束';
  } else if (p.stock <= 0) {
    buy.disabled = true;
    buy.textContent = '已售罄';
  } else if (p.flash_sale_ends_at && p.flash_sale_ends_at <= Date.now()) {
    // The server refuses it too (409 flash_sale_ended) until the product is pinned again.
    buy.disabled = true;
    buy.textContent = '抢购已结束';
  } else if (!state.buying) {
    buy.disabled = false;
    buy.textContent = '立即购买';
  }
  if (fresh) $('#buy-result').textContent = '';
}

function renderFlash() {
  const p = state.current;
  const tag = $('#p-flash');
  if (!p || !p.flash_sale_ends_at) {
    tag.hidden = true;
    return;
  }
  tag.hidden = false;
  const left = p.flash_sale_ends_at - Date.now();
  tag.textContent = left > 0 ? '限时抢购 ' + countdown(left) : '限时抢购已结束';
}

// ---- buying -------------------------------------------------------------------------------

function newIdempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function quantity() {
  const q = Math.trunc(Number($('#qty').value));
  return q >= 1 && q <= 999 ? q : 1;
}
$('#qty-minus').addEventListener('click', () => { $('#qty').value = Math.max(1, quantity() - 1); });
$('#qty-plus').addEventListener('click', () => { $('#qty').value = Math.min(999, quantity() + 1); });

async function ensureSession() {
  if (!state.session) state.session = await viewerSession();
  return state.session;
}

$('#buy-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const p = state.current;
  if (!p || state.buying) return;
  const qty = quantity();
  const key = newIdempotencyKey();  // one per click: a retry of this click never buys twice
  const result = $('#buy-result');
  const buy = $('#buy');
  state.buying = true;
  buy.disabled = true;
  buy.textContent = '正在下单…';
  result.className = 'buy-result';
  result.textContent = '';
  try {
    let answer = null;
    for (let attempt = 0; attempt < 3 && !answer; attempt++) {
      try {
        const session = await ensureSession();
        answer = (await api('POST', '/api/orders', {
          token: session.token,
          body: { stream: streamId, sku: p.sku, qty, idempotency_key: key },
        })).body;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.code === 'unauthorized' && attempt === 0) {
          forgetViewerSession();
          state.session = null;
          continue;
        }
        // The order may have been stored: ask again with the same key.
        if ((e.status === 0 || e.status === 503) && attempt < 2) {
          await new Promise((r) => setTimeout(r, 800 * (attempt + 1)));
          continue;
        }
        throw e;
      }
    }
    result.className = 'buy-result ok-text';
    result.textContent = `🎉 下单成功！订单号 ${answer.order_id}，应付 ¥${yuan(answer.amount_cents)}，请在“我的订单”中支付`;
    toast('下单成功', 'ok');
    // The payment deadline on this device's clock: the time left from now (a phone's clock may
    // be minutes off the server's; a duration is not). Never earlier than the server's.
    const left = Number(answer.expires_in_ms);
    rememberOrder({ id: answer.order_id, sku: p.sku, title: p.title, qty, amount_cents: answer.amount_cents,
                    status: answer.status || 'created', pay_by: Number.isFinite(left) ? Date.now() + left : null });
  } catch (e) {
    result.className = 'buy-result error-text';
    if (e instanceof ApiError && e.code === 'sold_out') {
      result.textContent = qty > 1 && p.stock > 0 ? `已售罄：库存不足 ${qty} 件` : '已售罄，下次早点来！';
    } else if (e instanceof ApiError) {
      result.textContent = messageFor(e.code, e.message);
    } else {
      result.textContent = '下单失败，请稍后再试';
    }
  } finally {
    state.buying = false;
    renderCard();
    loadProducts();
  }
});

// ---- my orders ------------------------------------------------------------------------------
// The orders this browser placed in this stream, kept in localStorage so that a reload keeps
// them: each is paid or cancelled from here (an unpaid order expires on the server and gives its
// stock back). The status shown is the server's: its answers, and the payment deadline its
// order answer gave (expires_in_ms).

const ORDERS_KEY = 'bc_orders_' + streamId;
const ORDERS_KEPT = 20;

function savedOrders() {
  try {
    const list = JSON.parse(localStorage.getItem(ORDERS_KEY) || '[]');
    return Array.isArray(list) ? list.filter((o) => o && typeof o.id === 'string') : [];
  } catch {
    return [];
  }
}

function saveOrders(list) {
  localStorage.setItem(ORDERS_KEY, JSON.stringify(list.slice(0, ORDERS_KEPT)));
}

function rememberOrder(order) {
  saveOrders([order, ...savedOrders().filter((o) => o.id !== order.id)]);
  renderOrders();
}

// Applies `change` to the kept order `id` (if it is still kept), saves and shows the list.
function updateOrder(id, change) {
  const list = savedOrders();
  const order = list.find((o) => o.id === id);
  if (order) change(order);
  saveOrders(list);
  renderOrders();
}

function setOrderStatus(id, status) {
  updateOrder(id, (o) => { o.status = status; });
}

// An unpaid order past its deadline is refused payment by the server from that moment (the
// local deadline is never earlier than the server's): shown as expired without asking.
function expireOverdue(list) {
  let changed = false;
  for (const o of list) {
    if (o.status === 'created' && o.pay_by && Date.now() >= o.pay_by) {
      o.status = 'expired';
      changed = true;
    }
  }
  if (changed) saveOrders(list);
  return list;
}

let orderTicker = null;

function renderOrders() {
  const list = expireOverdue(savedOrders());
  $('#my-orders').hidden = list.length === 0;
  $('#order-list').replaceChildren(...list.map(orderLine));
  const waiting = list.some((o) => o.status === 'created' && o.pay_by);
  if (waiting && !orderTicker) orderTicker = setInterval(tickOrders, 1000);
  else if (!waiting && orderTicker) {
    clearInterval(orderTicker);
    orderTicker = null;
  }
}

// Once a second while an order waits for payment: its countdown, and its expiry when due.
function tickOrders() {
  const list = savedOrders();
  if (list.some((o) => o.status === 'created' && o.pay_by && Date.now() >= o.pay_by)) return renderOrders();
  for (const o of list) {
    const left = document.querySelector(`#order-list li[data-order="${CSS.escape(o.id)}"] .order-left`);
    if (left && o.pay_by) left.textContent = countdown(o.pay_by - Date.now());
  }
}

function orderLine(o) {
  const open = o.status === 'created';
  return el('li', { 'data-order': o.id, 'data-status': o.status },
    el('span', { class: 'order-what' }, `${o.title || o.sku} ×${o.qty} · ¥${yuan(o.amount_cents)}`),
    el('span', { class: 'order-status' }, ORDER_STATUS[o.status] || o.status,
      open && o.pay_by && el('span', { class: 'order-left', title: '剩余支付时间' }, countdown(o.pay_by - Date.now()))),
    open && el('span', { class: 'order-actions' },
      el('button', { type: 'button', class: 'pay', onclick: (ev) => changeOrder(o, 'pay', ev.target) }, '去支付'),
      el('button', { type: 'button', class: 'cancel secondary', onclick: (ev) => changeOrder(o, 'cancel', ev.target) }, '取消')));
}

// Pays or cancels one order with the session that placed it. A refusal that names the order's
// state (expired, cancelled, paid) is that state; any other error leaves the order as it was.
async function changeOrder(o, action, button) {
  for (const b of button.parentNode.querySelectorAll('button')) b.disabled = true;
  try {
    const session = await ensureSession();
    const { body } = await api('POST', `/api/orders/${encodeURIComponent(o.id)}/${action}`, { token: session.token });
    setOrderStatus(o.id, body.status);
    toast(body.status === 'paid' ? '支付成功' : '订单已取消', 'ok');
    if (body.status === 'cancelled') loadProducts();
  } catch (e) {
    const known = { order_expired: 'expired', order_cancelled: 'cancelled', order_paid: 'paid' };
    if (e instanceof ApiError && known[e.code]) {
      setOrderStatus(o.id, known[e.code]);
      if (e.code === 'order_expired') loadProducts();
    } else {
      renderOrders();
    }
    toast(e instanceof ApiError ? messageFor(e.code, e.message) : '操作失败，请稍后再试', 'error');
  }
}

// The server's word on each order that may have changed (paid ones too: the seller may have
// refunded them): on load, each minute while the page is in view, and when it comes back into
// view (a buyer back from paying elsewhere, a refund made meanwhile). An unpaid order keeps the
// earlier of its deadlines: each is measured from an answer's time left, so neither is before
// the server's.
async function refreshOrders() {
  const open = savedOrders().filter((o) => o.status === 'created' || o.status === 'paid');
  if (open.length === 0) return;
  const session = await ensureSession();
  await Promise.all(open.map(async (o) => {
    try {
      const { body } = await api('GET', `/api/orders/${encodeURIComponent(o.id)}`, { token: session.token });
      updateOrder(o.id, (saved) => {
        saved.status = body.status;
        if (typeof body.expires_in_ms === 'number') {
          const payBy = Date.now() + body.expires_in_ms;
          saved.pay_by = saved.pay_by ? Math.min(saved.pay_by, payBy) : payBy;
        }
      });
    } catch {
      // Not reachable now, or placed under another session: it stays as it was.
    }
  }));
}

renderOrders();
refreshOrders();
const refreshOrdersSoon = throttle(refreshOrders, 5000);
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refreshOrdersSoon(); });
setInterval(() => { if (document.visibilityState === 'visible') refreshOrders(); }, 60000);

// ---- chat, likes, viewers -----------------------------------------------------------------

const list = $('#messages');
let atBottom = true;
list.addEventListener('scroll', () => {
  atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (atBottom) $('#new-below').hidden = true;
});
$('#new-below').addEventListener('click', () => {
  list.scrollTop = list.scrollHeight;
  $('#new-below').hidden = true;
});

function appendLine(li) {
  list.append(li);
  while (list.children.length > 200) list.firstChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
  else $('#new-below').hidden = false;
}

function chatLine(m) {
  return el('li', { class: 'role-' + (m.role || 'viewer'), 'data-id': m.id, title: clockTime(m.ts) },
    el('span', { class: 'user' }, m.user + (m.role === 'host' ? '（主播）' : '') + '：'),
    el('span', { class: 'text' }, m.text));
}

function systemLine(text) {
  appendLine(el('li', { class: 'system' }, text));
}

function onRoomMessage(m) {
  switch (m.type) {
    case 'welcome':
      list.replaceChildren(...(m.history || []).map(chatLine));
      list.scrollTop = list.scrollHeight;
      atBottom = true;
      $('#chat-input').placeholder = m.role === 'guest' ? '登录后发言' : `以「${m.user}」身份说点什么…`;
      if (typeof m.likes === 'number') $('#likes').textContent = '❤ ' + m.likes;
      if (typeof m.viewers === 'number') $('#viewers').textContent = '👀 ' + Math.max(1, m.viewers);
      break;
    case 'chat':
      appendLine(chatLine(m));
      break;
    case 'delete': {
      const li = list.querySelector(`li[data-id="${Number(m.id)}"]`);
      if (li) li.remove();
      break;
    }
    case 'likes':
      state.likesSeen = true;
      $('#likes').textContent = '❤ ' + m.total;
      break;
    case 'viewers':
      state.viewersSeen = true;
      $('#viewers').textContent = '👀 ' + m.count;
      break;
    case 'order': {
      const p = state.products.get(m.sku);
      if (p && typeof m.stock === 'number') p.stock = m.stock;
      else if (p) p.stock = Math.max(0, p.stock - m.qty);
      if (p) p.stockAt = m.ts;
      toast(`${m.user} 刚刚购买了 ${m.title} ×${m.qty}`);
      renderCard();
      break;
    }
    case 'stock': {
      // A cancelled or expired order put stock back: a sold-out card can sell again.
      const p = state.products.get(m.sku);
      if (p && typeof m.stock === 'number') {
        p.stock = m.stock;
        p.stockAt = m.ts;
      }
      renderCard();
      break;
    }
    case 'pin':
      if (m.product) state.products.set(m.product.sku, { ...(state.products.get(m.product.sku) || {}), ...m.product, stockAt: m.ts });
      state.events.push({ ts: m.ts || Date.now(), product: m.product, received_ms: Date.now(), live: true });
      renderCard();
      break;
    case 'product':
      state.products.set(m.product.sku, { ...(state.products.get(m.product.sku) || {}), ...m.product, stockAt: m.ts });
      renderCard();
      break;
    case 'slow_mode':
      systemLine(m.seconds > 0 ? `已开启慢速模式：每 ${m.seconds} 秒可发言一次` : '已关闭慢速模式');
      break;
    case 'ban':
      if (state.session && m.user === state.session.user) setBanned();
      break;
    case 'error':
      onChatError(m);
      break;
    default:
      break;
  }
}

function setBanned() {
  state.banned = true;
  $('#chat-input').disabled = true;
  $('#chat-send').disabled = true;
  $('#chat-input').placeholder = CHAT_ERRORS.banned;
}

function onChatError(m) {
  const text = CHAT_ERRORS[m.code] || m.message || '聊天出错了';
  systemLine('⚠ ' + text);
  toast(text, 'error');
  if (m.code === 'banned') setBanned();
  if (m.code === 'bad_token') {
    forgetViewerSession();
    state.session = null;
  }
}

let socket = null;
function connectChat() {
  socket = new LiveSocket(
    () => `/ws?room=${encodeURIComponent(streamId)}` + (state.session ? '&token=' + encodeURIComponent(state.session.token) : ''),
    {
      onMessage: onRoomMessage,
      onState: (s) => {
        $('#conn').textContent = s === 'open' ? '● 已连接' : s === 'connecting' ? '连接中…' : '连接断开，正在重连…';
        $('#conn').className = 'conn ' + (s === 'open' ? 'ok-text' : 'muted');
        // Missed pins, orders or edits while away: read the state again.
        if (s === 'open' && state.reconnected) { loadProducts(); loadTimeline(); }
        if (s === 'closed') state.reconnected = true;
      },
    });
}

$('#chat-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('#chat-input');
  const text = input.value.trim();
  if (!text || state.banned) return;
  if ([...text].length > 280) {
    toast(CHAT_ERRORS.too_long, 'error');
    return;
  }
  if (!socket.send({ type: 'chat', text })) {
    toast('聊天连接断开，正在重连，请稍后再发', 'error');
    return;
  }
  input.value = '';
  atBottom = true;
});

$('#like').addEventListener('click', () => {
  socket.send({ type: 'like', count: 1 });
  const n = Number(($('#likes').textContent.match(/\d+/) || ['0'])[0]) + 1;
  $('#likes').textContent = '❤ ' + n;
  const heart = el('span', { class: 'heart', style: `left:${Math.floor(Math.random() * 30)}px` },
    ['❤️', '💖', '💗', '🌸'][Math.floor(Math.random() * 4)]);
  $('#hearts').append(heart);
  setTimeout(() => heart.remove(), 1700);
});

// ---- start --------------------------------------------------------------------------------

async function main() {
  if (!/^[1-9][0-9]{0,17}$/.test(streamId)) {
    overlay('这个直播间地址不正确，请回到首页');
    return;
  }
  try {
    state.session = await viewerSession();
  } catch {
    state.session = null;  // a guest: reads and likes; told to log in before chatting
  }
  connectChat();
  await Promise.all([loadStream(), loadProducts(), loadTimeline()]);
  setInterval(loadStream, 5000);
  setInterval(loadProducts, 15000);
  setInterval(() => { renderFlash(); renderCard(); }, 500);
}

// For the browser tests and for debugging from the console.
window.bloomcastLive = { player, state };

main();
