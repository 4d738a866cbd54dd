// A WebSocket that stays connected: reconnects with exponential backoff (0.5 s doubling to 15 s,
// with jitter) and unpacks {"type":"batch"} frames, so pages see one message at a time.
//   const s = new LiveSocket(() => '/ws?room=1&token=...', {onMessage, onState});
//   s.send({type: 'chat', text: '你好'})  // false when not connected
export class LiveSocket {
  constructor(urlFn, { onMessage = () => {}, onState = () => {}, shouldRetry = () => true } = {}) {
    this.urlFn = urlFn;
    this.onMessage = onMessage;
    this.onState = onState;
    this.shouldRetry = shouldRetry;
    this.delayMs = 500;
    this.closed = false;
    this.ws = null;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const url = new URL(this.urlFn(), location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.onState('connecting');
    let ws;
    try { ws = new WebSocket(url); } catch { this.retry(); return; }
    this.ws = ws;
    ws.onopen = () => { this.delayMs = 500; this.onState('open'); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      const list = msg.type === 'batch' && Array.isArray(msg.messages) ? msg.messages : [msg];
      for (const m of list) {
        try { this.onMessage(m); } catch (e) { console.error(e); }
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onState('closed');
      this.retry();
    };
  }

  retry() {
    if (this.closed || !this.shouldRetry()) return;
    const wait = this.delayMs * (0.75 + Math.random() * 0.5);
    this.delayMs = Math.min(this.delayMs * 2, 15000);
    setTimeout(() => this.connect(), wait);
  }

  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  // Reconnect now (a new token, say).
  reconnect() {
    const ws = this.ws;
    this.ws = null;
    this.delayMs = 500;
    if (ws) ws.close();
    this.connect();
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}

// Chat error codes (docs/API.md "Chat") in words.
export const CHAT_ERRORS = {
  rate_limited: '发言太快了，请稍等一下',
  too_long: '消息太长了（最多 280 字）',
  empty: '消息不能为空',
  banned: '你已被管理员禁言',
  blocked: '消息包含屏蔽词，未发送',
  slow_mode: '慢速模式中，请稍后再发',
  login_required: '请先登录后再发言',
  unavailable: '聊天服务暂时不可用',
  unknown_room: '找不到这个直播间',
  bad_token: '身份已失效，已切换为游客',
};
