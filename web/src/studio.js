// Factory console (/studio#token=FACTORY_TOKEN): create streams (RTMP URL and key, OBS
// settings), add and edit products, pin and unpin (optional flash-sale end), preview, the
// stream's viewers, likes, orders and GMV live, and its order list (refunds, CSV export).
import { api, ApiError, downloadCsv } from './api.js';
import { LiveSocket } from './chat.js';
import { Player } from './player.js';
import { $, el, ORDER_STATUS, parseYuan, setStatusBadge, throttle, toast, tokenFromFragment, yuan } from './util.js';

const token = tokenFromFragment('bc_factory_token');
const factoryId = (/^ft_(\d+)_/.exec(token) || [])[1] || '';
const state = { streams: [], current: null, products: [], socket: null, orders: [], ordersBefore: null };
const ORDERS_PAGE = 50;
const player = new Player($('#preview'), {
  onState: (s, text) => {
    $('#preview-overlay').hidden = s === 'playing';
    $('#preview-text').textContent = s === 'missing' ? '等待推流…' : text || '加载中…';
  },
});

function showError(e) {
  const text = e instanceof ApiError ? e.message : String(e);
  $('#error').textContent = text;
  toast(text, 'error');
}

function keyStore(id) { return 'bc_stream_key_' + id; }

async function loadStreams(selectId) {
  const { body } = await api('GET', '/api/streams');
  state.streams = body.streams.filter((s) => String(s.factory_id) === factoryId).reverse();
  const sel = $('#stream-select');
  sel.replaceChildren(...state.streams.map((s) => el('option', { value: s.id }, `#${s.id} ${s.title}`)));
  if (!state.streams.length) sel.append(el('option', { value: '' }, '还没有直播，先创建一个'));
  const want = selectId || localStorage.getItem('bc_studio_stream') || (state.streams[0] && state.streams[0].id);
  if (want && state.streams.some((s) => s.id === String(want))) sel.value = String(want);
  await selectStream(sel.value);
}

async function selectStream(id) {
  if (!id) { $('#stream-panel').hidden = true; return; }
  localStorage.setItem('bc_studio_stream', id);
  state.current = id;
  state.orders = [];
  state.ordersBefore = null;
  renderOrders();
  $('#stream-panel').hidden = false;
  $('#viewer-link').href = '/live/' + id;
  renderKey(id);
  player.play(`/hls/${id}/master.m3u8`);
  if (state.socket) state.socket.close();
  // As the host: sees likes, viewers, orders and pins of the room live.
  state.socket = new LiveSocket(() => `/ws?room=${id}&token=${encodeURIComponent(token)}`, {
    onMessage: (m) => {
      if (m.type === 'likes') $('#k-likes').textContent = m.total;
      if (m.type === 'viewers') $('#k-viewers').textContent = m.count;
      if (m.type === 'order' || m.type === 'stock' || m.type === 'product' || m.type === 'pin') refreshSoon();
    },
  });
  await Promise.all([refreshStats(), loadProducts(), loadOrders()]);
}

// The room's events ask for a fresh look at the numbers, the products and the orders; during a
// flash sale thousands come each second, so they are read at most once a second.
const refreshSoon = throttle(() => { refreshStats(); loadProducts(); loadOrders(); }, 1000);

function renderKey(id) {
  const saved = JSON.parse(localStorage.getItem(keyStore(id)) || 'null');
  const box = $('#key-box');
  if (!saved) {
    box.replaceChildren(el('p', { class: 'muted' }, '推流密钥只在创建或重新生成时显示一次。需要时请点“重新生成推流密钥”。'));
    return;
  }
  const server = saved.rtmp_url.slice(0, saved.rtmp_url.length - saved.stream_key.length - 1);
  box.replaceChildren(
    el('p', {}, '推流地址（服务器）'), el('pre', { class: 'code', id: 'rtmp-server' }, server),
    el('p', {}, '推流密钥'), el('pre', { class: 'code', id: 'stream-key' }, saved.stream_key),
    el('p', { class: 'muted' }, 'ffmpeg 推流：'),
    el('pre', { class: 'code' }, `ffmpeg -re -i 视频.mp4 -c:v libx264 -preset veryfast -g 60 -b:v 2500k -c:a aac -f flv ${saved.rtmp_url}`));
}

async function refreshStats() {
  if (!state.current) return;
  try {
    const { body } = await api('GET', '/api/streams/' + state.current);
    setStatusBadge($('#k-status'), body.status);
    $('#k-orders').textContent = body.orders;
    $('#k-gmv').textContent = '¥' + yuan(body.gmv_cents);
    $('#k-viewers').textContent = body.viewers;
    $('#k-likes').textContent = body.likes;
    state.pinned = body.pinned;
    $('#pin-state').textContent = body.pinned ? `讲解中：${body.pinned.sku}` + (body.pinned.flash_sale_ends_at
      ? `（限时抢购至 ${new Date(body.pinned.flash_sale_ends_at).toLocaleTimeString('zh-CN', { hour12: false })}）` : '') : '当前没有讲解商品';
    $('#end-show').disabled = body.status === 'ended';
    $('#reopen-show').hidden = body.status !== 'ended';
  } catch (e) { /* shown on the next action */ }
}

async function loadProducts() {
  if (!state.current) return;
  try {
    const { body } = await api('GET', `/api/streams/${state.current}/products`);
    state.products = body.products;
    renderProducts();
  } catch (e) { showError(e); }
}

function renderProducts() {
  const pinned = state.pinned && state.pinned.sku;
  $('#products').replaceChildren(...state.products.map((p) => {
    const title = el('input', { value: p.title, 'aria-label': `${p.sku} 名称`, size: 14 });
    const price = el('input', { value: yuan(p.price_cents).replace(/,/g, ''), 'aria-label': `${p.sku} 价格`, size: 7, inputmode: 'decimal' });
    const stock = el('input', { type: 'number', min: 0, value: p.stock, 'aria-label': `${p.sku} 库存`, style: 'width:6em' });
    const limit = el('input', { type: 'number', min: 0, value: p.limit_per_buyer, 'aria-label': `${p.sku} 限购`, style: 'width:5em' });
    const save = el('button', { type: 'button', class: 'secondary', onclick: () => saveProduct(p.sku, title, price, stock, limit) }, '保存');
    const pin = el('button', { type: 'button', 'data-pin': p.sku, onclick: () => pinProduct(p.sku) }, p.sku === pinned ? '重新讲解' : '讲解');
    return el('tr', { 'data-sku': p.sku }, el('td', {}, p.sku), el('td', {}, title), el('td', { class: 'num' }, price),
      el('td', { class: 'num' }, stock), el('td', { class: 'num' }, limit), el('td', {}, el('div', { class: 'actions' }, save, pin)));
  }));
}

async function saveProduct(sku, title, price, stock, limit) {
  const cents = parseYuan(price.value);
  if (cents === null || cents < 1) { showError('价格格式不正确，例如 199 或 199.90'); return; }
  try {
    await api('PATCH', `/api/streams/${state.current}/products/${encodeURIComponent(sku)}`, {
      token,
      body: { title: title.value.trim(), price_cents: cents, stock: Number(stock.value), limit_per_buyer: Number(limit.value) },
    });
    toast('已保存 ' + sku, 'ok');
    loadProducts();
  } catch (e) { showError(e); }
}

async function pinProduct(sku) {
  const minutes = Number($('#flash-minutes').value);
  const body = { sku };
  if (minutes > 0) body.flash_sale_ends_at = Date.now() + Math.round(minutes * 60000);
  try {
    await api('POST', `/api/streams/${state.current}/pin`, { token, body });
    toast(`已开始讲解 ${sku}`, 'ok');
    await refreshStats();
    renderProducts();
  } catch (e) { showError(e); }
}

// The stream's orders, newest first (GET /api/orders?order=desc). The newest page is read again on
// the room's order and stock events and every 3 s (a payment tells the room nothing); older pages
// on demand. Refunds of paid orders and cancels of unpaid ones are the seller's to make here.
const seqOf = (o) => Number(o.order_id.slice(o.order_id.lastIndexOf('-') + 1));

function ordersPath(extra) {
  return `/api/orders?stream=${encodeURIComponent(state.current)}&order=desc&limit=${ORDERS_PAGE}${extra}`;
}

async function loadOrders() {
  const id = state.current;
  if (!id) return;
  try {
    const { body } = await api('GET', ordersPath(''), { token });
    if (id !== state.current) return;
    const fresh = body.orders;
    const newestKept = state.orders.length ? seqOf(state.orders[0]) : 0;
    const oldestFresh = fresh.length ? seqOf(fresh[fresh.length - 1]) : 0;
    // Older pages stay below the fresh one, unless more orders came in than a page holds: then
    // the list starts again at the newest page, so that it never has a hole.
    const older = oldestFresh <= newestKept + 1 ? state.orders.filter((o) => seqOf(o) < oldestFresh) : [];
    state.orders = fresh.concat(older);
    if (!older.length) state.ordersBefore = body.next_before;
    renderOrders();
  } catch (e) { /* shown on the next action */ }
}

async function loadOlderOrders() {
  const id = state.current;
  const before = state.ordersBefore;
  if (!id || !before) return;
  try {
    const { body } = await api('GET', ordersPath('&before=' + before), { token });
    if (id !== state.current || before !== state.ordersBefore) return;
    state.orders = state.orders.concat(body.orders.filter((o) => seqOf(o) < before));
    state.ordersBefore = body.next_before;
    renderOrders();
  } catch (e) { showError(e); }
}

function productName(sku) {
  const p = state.products.find((x) => x.sku === sku);
  return p ? `${p.title}（${sku}）` : sku;
}

function renderOrders() {
  $('#orders').replaceChildren(...state.orders.map((o) => {
    const actions = [];
    if (o.status === 'created') {
      actions.push(el('button', { type: 'button', class: 'secondary', 'data-cancel': o.order_id,
        onclick: () => cancelOrder(o, `取消这笔未支付的订单 ${o.order_id} 吗？库存会退回。`) }, '取消'));
    }
    if (o.status === 'paid') {
      actions.push(el('button', { type: 'button', class: 'secondary', 'data-refund': o.order_id,
        onclick: () => cancelOrder(o, `确定给订单 ${o.order_id} 退款 ¥${yuan(o.amount_cents)} 吗？库存会退回，成交额会扣除。`) }, '退款'));
    }
    return el('tr', { 'data-order': o.order_id, 'data-status': o.status },
      el('td', {}, new Date(o.created_at).toLocaleString('zh-CN', { hour12: false })), el('td', {}, o.order_id),
      el('td', {}, o.buyer), el('td', {}, productName(o.sku)), el('td', { class: 'num' }, o.qty),
      el('td', { class: 'num' }, yuan(o.amount_cents)), el('td', { class: 'order-status' }, ORDER_STATUS[o.status] || o.status),
      el('td', {}, el('div', { class: 'actions' }, ...actions)));
  }));
  $('#orders-empty').hidden = state.orders.length > 0;
  $('#orders-more').hidden = !state.ordersBefore;
}

// Cancels an unpaid order or refunds a paid one: the stock, the buyer's allowance and the GMV come
// back exactly once on the server, however often this is pressed.
async function cancelOrder(o, question) {
  if (!confirm(question)) return;
  const refund = o.status === 'paid';
  try {
    const { body } = await api('POST', `/api/orders/${encodeURIComponent(o.order_id)}/cancel`, { token });
    o.status = body.status;
    toast(refund ? `已退款 ¥${yuan(o.amount_cents)}` : '订单已取消', 'ok');
    refreshSoon();
  } catch (e) {
    // A refusal that names the order's state says what it is now.
    const now = { order_expired: 'expired', order_cancelled: 'cancelled' }[e.code];
    if (now) o.status = now;
    showError(e);
  }
  renderOrders();
}

$('#orders-more').addEventListener('click', loadOlderOrders);

$('#orders-csv').addEventListener('click', async () => {
  const button = $('#orders-csv');
  button.disabled = true;
  try {
    await downloadCsv(`/api/orders?stream=${encodeURIComponent(state.current)}&format=csv`, token,
      `orders-${state.current}-${new Date().toISOString().slice(0, 10)}.csv`);
  } catch (e) {
    showError(e);
  } finally {
    button.disabled = false;
  }
});

$('#unpin').addEventListener('click', async () => {
  try {
    await api('DELETE', `/api/streams/${state.current}/pin`, { token });
    toast('已取消讲解', 'ok');
    await refreshStats();
    renderProducts();
  } catch (e) { showError(e); }
});

$('#end-show').addEventListener('click', async () => {
  if (!confirm('确定结束这场直播吗？推流会在几秒内断开，观众也不能再下单。')) return;
  try {
    await api('POST', `/api/streams/${state.current}/status`, { token, body: { status: 'ended' } });
    refreshStats();
  } catch (e) { showError(e); }
});

// An ended show takes neither orders nor a publisher until it is reopened (status offline).
$('#reopen-show').addEventListener('click', async () => {
  try {
    await api('POST', `/api/streams/${state.current}/status`, { token, body: { status: 'offline' } });
    toast('已重新开播：可以推流和下单了', 'ok');
    refreshStats();
  } catch (e) { showError(e); }
});

$('#rotate-key').addEventListener('click', async () => {
  try {
    const { body } = await api('POST', `/api/streams/${state.current}/key`, { token });
    localStorage.setItem(keyStore(state.current), JSON.stringify(body));
    renderKey(state.current);
    toast('已生成新的推流密钥：旧密钥已失效，用旧密钥的推流几秒内断开', 'ok');
  } catch (e) { showError(e); }
});

$('#stream-select').addEventListener('change', (ev) => selectStream(ev.target.value));

$('#create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const { body } = await api('POST', '/api/streams', { token, body: { title: $('#new-title').value.trim() } });
    localStorage.setItem(keyStore(body.id), JSON.stringify({ stream_key: body.stream_key, rtmp_url: body.rtmp_url }));
    $('#new-title').value = '';
    toast('直播已创建', 'ok');
    await loadStreams(body.id);
  } catch (e) { showError(e); }
});

$('#product-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const cents = parseYuan($('#f-price').value);
  if (cents === null || cents < 1) { showError('价格格式不正确，例如 199 或 199.90'); return; }
  const body = {
    sku: $('#f-sku').value.trim(), title: $('#f-title').value.trim(), price_cents: cents,
    stock: Number($('#f-stock').value), limit_per_buyer: Number($('#f-limit').value || 0),
  };
  if ($('#f-image').value) body.image_url = $('#f-image').value;
  try {
    await api('POST', `/api/streams/${state.current}/products`, { token, body });
    ev.target.reset();
    toast('商品已添加', 'ok');
    loadProducts();
  } catch (e) { showError(e); }
});

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  localStorage.setItem('bc_factory_token', $('#token-input').value.trim());
  location.reload();
});

async function main() {
  if (!factoryId) {
    $('#login').hidden = false;
    return;
  }
  $('#app').hidden = false;
  try {
    await loadStreams();
  } catch (e) { showError(e); }
  setInterval(() => { refreshStats(); loadOrders(); }, 3000);
}

main();
