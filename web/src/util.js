// Small helpers shared by every page: tokens from the URL fragment, money, time, DOM, toasts.

export const CAMPAIGN = '品质东莞·线上绽放';

// An order's status as the pages say it (the viewer's "我的订单" and the factory's order list).
export const ORDER_STATUS = { created: '待支付', paid: '已支付', cancelled: '已取消', expired: '已超时取消' };

// A token given as #token=... is remembered in localStorage under `key` and removed from the
// address bar; the fragment never reaches the server, so tokens stay out of its logs.
export function tokenFromFragment(key) {
  const params = new URLSearchParams(location.hash.slice(1));
  const given = params.get('token');
  if (given) {
    localStorage.setItem(key, given);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }
  return localStorage.getItem(key) || '';
}

// 19900 -> "199.00" without floating point (cents are integers end to end).
export function yuan(cents) {
  const c = BigInt(Math.trunc(Number(cents) || 0));
  const neg = c < 0n;
  const a = neg ? -c : c;
  const whole = (a / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (neg ? '-' : '') + whole + '.' + (a % 100n).toString().padStart(2, '0');
}

// "199", "199.9", "199.90" -> 19990; anything else -> null.
export function parseYuan(text) {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0'));
}

// fn at most once per `ms`: a call inside the window runs once at its end. A flash sale's
// thousands of order events a second make one refresh a second, not thousands of requests.
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn();
      return;
    }
    timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
  };
}

export function countdown(ms) {
  if (ms <= 0) return '00:00';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return (h > 0 ? two(h) + ':' : '') + two(m) + ':' + two(sec);
}

export function clockTime(ts) {
  return new Date(ts).toLocaleTimeString('zh-CN', { hour12: false });
}

// el('div', {class: 'x', onclick: fn}, 'text', child) — text is always set as text, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

let toastBox = null;
// A short message at the bottom of the screen; kind: 'info' | 'ok' | 'error'.
export function toast(text, kind = 'info', ms = 3500) {
  if (!toastBox) {
    toastBox = el('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const t = el('div', { class: 'toast toast-' + kind }, text);
  toastBox.append(t);
  while (toastBox.children.length > 4) toastBox.firstChild.remove();
  setTimeout(() => t.remove(), ms);
}

export function setStatusBadge(node, status) {
  const text = { live: '直播中', offline: '未开播', ended: '已结束' }[status] || status;
  node.textContent = text;
  node.className = 'badge badge-' + status;
}
