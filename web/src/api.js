// The JSON API of bloomcast (docs/API.md), with errors turned into words people can read.
const MESSAGES = {
  unauthorized: '身份已失效，请重新打开带令牌的链接',
  forbidden: '没有权限执行此操作',
  stream_not_found: '找不到这场直播',
  product_not_found: '找不到这个商品',
  factory_not_found: '找不到这个工厂',
  sold_out: '已售罄，下次早点来！',
  limit_exceeded: '超出每人限购数量',
  stream_ended: '直播已结束，暂停下单',
  flash_sale_ended: '限时抢购已结束',
  sku_exists: '这个货号已经存在',
  rate_limited: '操作太频繁，请稍后再试',
  store_unavailable: '服务繁忙，请稍后再试',
  invalid_argument: '填写的内容不正确',
  bad_json: '请求格式不正确',
  idempotency_key_reused: '重复的下单请求',
  order_not_found: '找不到这个订单',
  order_expired: '订单已超时未支付，已自动取消',
  order_cancelled: '订单已取消',
  order_paid: '订单已支付，如需退款请联系商家',
  payload_too_large: '内容太长',
  network: '网络连接失败，请检查网络后重试',
  internal: '服务器出错了，请稍后再试',
};

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(MESSAGES[code] || detail || '请求失败（' + status + '）');
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export function messageFor(code, fallback) {
  return MESSAGES[code] || fallback || '出错了，请稍后再试';
}

// Calls the API; resolves to {status, body} for 2xx, throws ApiError otherwise (status 0 when the
// network failed).
export async function api(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', String(e));
  }
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  if (!res.ok) {
    const code = (json && json.error) || (res.status >= 500 ? 'store_unavailable' : 'http_' + res.status);
    throw new ApiError(res.status, code, json && json.message);
  }
  return { status: res.status, body: json };
}

// Downloads an authorized CSV export as a file: the export needs the Authorization header, so it
// is fetched and handed to the browser as a blob.
export async function downloadCsv(path, token, filename) {
  const res = await fetch(path, { headers: { Authorization: 'Bearer ' + token } });
  if (!res.ok) {
    const code = { 401: 'unauthorized', 403: 'forbidden', 404: 'stream_not_found' }[res.status] || 'store_unavailable';
    throw new ApiError(res.status, code);
  }
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// A viewer identity, created once and kept in localStorage.
export async function viewerSession() {
  const saved = JSON.parse(localStorage.getItem('bc_session') || 'null');
  if (saved && saved.token) return saved;
  const { body } = await api('POST', '/api/sessions', { body: {} });
  localStorage.setItem('bc_session', JSON.stringify(body));
  return body;
}

export function forgetViewerSession() {
  localStorage.removeItem('bc_session');
}
