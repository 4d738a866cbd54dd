// Organizer dashboard (/dashboard#token=ADMIN_TOKEN): campaign GMV and orders per second as a
// live chart fed by /ws/dashboard, totals, leaderboards, streams live now, CSV export and chat
// moderation (ban, delete a message, keyword list).
import uPlot from '/static/vendor/uPlot.esm.js';
import { api, downloadCsv } from './api.js';
import { LiveSocket } from './chat.js';
import { $, el, setStatusBadge, toast, tokenFromFragment, yuan } from './util.js';

const token = tokenFromFragment('bc_admin_token');
const MAX_POINTS = 600;  // 10 minutes of ticks
const data = [[], [], []];  // seconds, GMV yuan (display only), orders per second
let chart = null;
let forbidden = false;

function makeChart() {
  const box = $('#chart');
  chart = new uPlot({
    width: Math.max(300, box.clientWidth), height: 280,
    series: [
      {},
      { label: 'GMV (¥)', stroke: '#ff6b6b', width: 2, scale: 'gmv', value: (u, v) => v == null ? '-' : '¥' + v.toFixed(2) },
      { label: '每秒订单', stroke: '#4dabf7', width: 2, scale: 'ops', fill: 'rgba(77,171,247,.15)' },
    ],
    axes: [
      { stroke: '#aaa', grid: { stroke: '#333' } },
      { scale: 'gmv', stroke: '#ff6b6b', grid: { stroke: '#333' }, size: 70 },
      { scale: 'ops', side: 1, stroke: '#4dabf7', grid: { show: false } },
    ],
    scales: { x: { time: true } },
  }, data, box);
  addEventListener('resize', () => chart.setSize({ width: Math.max(300, box.clientWidth), height: 280 }));
}

function onTick(t) {
  $('#k-gmv').textContent = '¥' + yuan(t.gmv_cents);
  $('#k-gmv').dataset.cents = t.gmv_cents;
  $('#k-orders').textContent = t.orders;
  $('#k-units').textContent = t.units;
  $('#k-ops').textContent = (t.orders_per_second || 0).toFixed(1);
  $('#k-viewers').textContent = t.viewers;
  $('#k-live').textContent = t.live_streams;
  data[0].push(Math.floor(t.at / 1000));
  data[1].push(Number(t.gmv_cents) / 100);  // chart only; every figure shown as text is exact
  data[2].push(t.orders_per_second || 0);
  if (data[0].length > MAX_POINTS) data.forEach((a) => a.shift());
  chart.setData(data);
  const names = new Map((t.factories || []).map((f) => [String(f.id), f.name]));
  $('#factories').replaceChildren(...(t.factories || []).slice(0, 10).map((f, i) => el('tr', {},
    el('td', {}, i + 1), el('td', {}, f.name), el('td', { class: 'num' }, yuan(f.gmv_cents)), el('td', { class: 'num' }, f.orders))));
  $('#streams').replaceChildren(...(t.streams || []).slice(0, 10).map((s, i) => {
    const badge = el('span');
    setStatusBadge(badge, s.status);
    return el('tr', {}, el('td', {}, i + 1),
      el('td', {}, el('a', { href: '/live/' + s.id, target: '_blank' }, s.title), el('div', { class: 'muted' }, names.get(String(s.factory_id)) || '')),
      el('td', {}, badge), el('td', { class: 'num' }, yuan(s.gmv_cents)), el('td', { class: 'num' }, s.orders));
  }));
}

async function refreshLive() {
  try {
    const { body } = await api('GET', '/api/streams');
    const live = body.streams.filter((s) => s.status === 'live');
    $('#live').replaceChildren(...(live.length ? live.map((s) => el('tr', {},
      el('td', {}, el('a', { href: '/live/' + s.id, target: '_blank' }, s.title)),
      el('td', { class: 'num' }, s.viewers), el('td', { class: 'num' }, s.likes), el('td', { class: 'num' }, yuan(s.gmv_cents))))
      : [el('tr', {}, el('td', { colspan: 4, class: 'muted' }, '暂无直播'))]));
    const sel = $('#mod-stream');
    const keep = sel.value;
    const all = body.streams.slice().reverse();
    sel.replaceChildren(...all.map((s) => el('option', { value: s.id }, `#${s.id} ${s.title}`)));
    if (keep && all.some((s) => s.id === keep)) sel.value = keep;
    if (!modSocket && sel.value) watchRoom(sel.value);
  } catch (e) { /* next round */ }
}

// ---- moderation ---------------------------------------------------------------------------

let modSocket = null;
function watchRoom(id) {
  if (modSocket) modSocket.close();
  const list = $('#mod-messages');
  list.replaceChildren();
  const line = (m) => el('li', { 'data-id': m.id, style: 'padding:3px 0' },
    el('strong', {}, m.user), '：', m.text, ' ',
    el('button', { type: 'button', class: 'secondary', style: 'min-height:26px;padding:1px 6px', onclick: () => deleteMessage(id, m.id) }, '删除'), ' ',
    el('button', { type: 'button', class: 'secondary', style: 'min-height:26px;padding:1px 6px', onclick: () => { $('#ban-user').value = m.user; ban(true); } }, '禁言'));
  modSocket = new LiveSocket(() => `/ws?room=${id}&token=${encodeURIComponent(token)}`, {
    onMessage: (m) => {
      if (m.type === 'welcome') list.replaceChildren(...(m.history || []).map(line));
      if (m.type === 'chat') { list.append(line(m)); list.scrollTop = list.scrollHeight; }
      if (m.type === 'delete') { const li = list.querySelector(`li[data-id="${Number(m.id)}"]`); if (li) li.remove(); }
      while (list.children.length > 100) list.firstChild.remove();
    },
  });
}

async function deleteMessage(stream, id) {
  try {
    await api('POST', `/api/streams/${stream}/chat/delete`, { token, body: { id } });
    toast('已删除消息', 'ok');
  } catch (e) { toast(e.message, 'error'); }
}

async function ban(on) {
  const user = $('#ban-user').value.trim();
  const stream = $('#mod-stream').value;
  if (!user || !stream) { toast('请选择直播间并填写昵称', 'error'); return; }
  try {
    await api('POST', `/api/streams/${stream}/chat/${on ? 'ban' : 'unban'}`, { token, body: { user } });
    toast((on ? '已禁言 ' : '已解除禁言 ') + user, 'ok');
  } catch (e) { toast(e.message, 'error'); }
}

$('#ban').addEventListener('click', () => ban(true));
$('#unban').addEventListener('click', () => ban(false));
$('#mod-stream').addEventListener('change', (ev) => watchRoom(ev.target.value));

async function loadKeywords() {
  try {
    const { body } = await api('GET', '/api/chat/keywords', { token });
    $('#keywords').value = (body.keywords || []).join('\n');
  } catch (e) { /* shown when saving */ }
}
$('#save-keywords').addEventListener('click', async () => {
  const keywords = $('#keywords').value.split('\n').map((s) => s.trim()).filter(Boolean);
  try {
    await api('PUT', '/api/chat/keywords', { token, body: { keywords } });
    toast(`已保存 ${keywords.length} 个屏蔽词`, 'ok');
  } catch (e) { toast(e.message, 'error'); }
});

$('#csv').addEventListener('click', async () => {
  const button = $('#csv');
  button.disabled = true;
  try {
    await downloadCsv('/api/orders?format=csv', token, `orders-${new Date().toISOString().slice(0, 10)}.csv`);
  } catch (e) {
    toast('导出失败：' + (e.message || e), 'error');
  } finally {
    button.disabled = false;
  }
});

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  localStorage.setItem('bc_admin_token', $('#token-input').value.trim());
  location.reload();
});

function main() {
  if (!token) { $('#login').hidden = false; return; }
  $('#app').hidden = false;
  makeChart();
  new LiveSocket(() => '/ws/dashboard?token=' + encodeURIComponent(token), {
    onMessage: (m) => {
      if (m.type === 'tick') onTick(m);
      if (m.type === 'error' && m.code === 'forbidden') {
        forbidden = true;
        $('#conn').textContent = '令牌无效，请使用主办方链接重新打开';
        $('#login').hidden = false;
      }
    },
    onState: (s) => {
      if (forbidden) return;
      $('#conn').textContent = s === 'open' ? '● 实时' : s === 'connecting' ? '连接中…' : '连接断开，正在重连…';
    },
    shouldRetry: () => !forbidden,
  });
  refreshLive();
  loadKeywords();
  setInterval(refreshLive, 5000);
}

main();
