// Factory console (/studio#token=FACTORY_TOKEN): create streams (RTMP URL and key, OBS
// settings), add and edit products, pin and unpin (optional flash-sale end), preview, and the
// stream's viewers, likes, orders and GMV live.
import { api, ApiError } from './api.js';
import { LiveSocket } from './chat.js';
import { Player } from './player.js';
import { $, el, parseYuan, setStatusBadge, toast, tokenFromFragment, yuan } from './util.js';

const token = tokenFromFragment('bc_factory_token');
const factoryId = (/^ft_(\d+)_/.exec(token) || [])[1] || '';
const state = { streams: [], current: null, products: [], socket: null };
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
      if (m.type === 'order' || m.type === 'stock' || m.type === 'product' || m.type === 'pin') { refreshStats(); loadProducts(); }
    },
  });
  await Promise.all([refreshStats(), loadProducts()]);
}

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
  setInterval(refreshStats, 3000);
}

main();
