// Campaign home (/): streams live now first, then upcoming shows and replays; refreshed every 10 s.
import { api } from './api.js';
import { $, el, setStatusBadge, yuan } from './util.js';

function card(s, factoryName) {
  const badge = el('span');
  setStatusBadge(badge, s.status);
  return el('a', { class: 'stream-card', href: '/live/' + encodeURIComponent(s.id), 'data-stream': s.id },
    el('div', { class: 'thumb', 'aria-hidden': 'true' }, badge, s.status === 'live' ? '▶' : '🌸'),
    el('div', { class: 'meta' },
      el('div', { class: 'title' }, s.title),
      el('div', { class: 'muted' }, factoryName || '工厂 #' + s.factory_id),
      el('div', { class: 'muted' },
        s.status === 'live' ? `👀 ${s.viewers || 0} 人观看 · ❤ ${s.likes || 0}` : `成交 ¥${yuan(s.gmv_cents)}`)));
}

async function refresh() {
  try {
    const [{ body: list }, gmv] = await Promise.all([
      api('GET', '/api/streams'),
      api('GET', '/api/gmv?minutes=1').catch(() => ({ body: { factories: [] } })),
    ]);
    const names = new Map((gmv.body.factories || []).map((f) => [String(f.id), f.name]));
    const streams = list.streams.slice().reverse();
    const live = streams.filter((s) => s.status === 'live');
    const other = streams.filter((s) => s.status !== 'live').slice(0, 24);
    $('#live').replaceChildren(...(live.length ? live.map((s) => card(s, names.get(String(s.factory_id))))
      : [el('p', { class: 'muted' }, '现在没有正在进行的直播，稍后再来看看吧。')]));
    $('#other').replaceChildren(...(other.length ? other.map((s) => card(s, names.get(String(s.factory_id))))
      : [el('p', { class: 'muted' }, '暂无预告或回放。')]));
    $('#error').textContent = '';
  } catch (e) {
    $('#error').textContent = '加载直播列表失败：' + e.message;
  }
}

refresh();
setInterval(refresh, 10000);
