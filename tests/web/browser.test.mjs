// Browser tests of the pages (web/) against a real bloomcast: its own Redis, a stream published
// over RTMP by the ffmpeg CLI, and Debian's chromium driven by playwright-core.
//
//   BLOOMCAST_BINARY=build/bloomcast BLOOMCAST_NODE_MODULES=build/web-npm/node_modules \
//   BLOOMCAST_ARTIFACTS=build/web-artifacts node --test tests/web/browser.test.mjs
//
// Every wait is on a condition with a bound; screenshots of each page go to BLOOMCAST_ARTIFACTS.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const binary = process.env.BLOOMCAST_BINARY || 'build/bloomcast';
const nodeModules = process.env.BLOOMCAST_NODE_MODULES || 'build/web-npm/node_modules';
const artifacts = process.env.BLOOMCAST_ARTIFACTS || 'build/web-artifacts';
const chromiumPath = process.env.BLOOMCAST_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(path.resolve(nodeModules) + '/')('playwright-core');

const ADMIN = 'admin-token-for-browser-tests-0123';
let dataDir, server, ffmpeg, base, browser;
let factory, stream, key;
let serverLog = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try { if (await fn()) return; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}\n--- bloomcast log ---\n${serverLog.slice(-3000)}`);
}

async function call(method, p, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function newPage(options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  // Every page asset exists (a missing playlist before the show is expected).
  page.on('response', (r) => { if (r.status() === 404 && !new URL(r.url()).pathname.startsWith('/hls/')) page.errors.push('404 ' + r.url()); });
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name + '.png'), fullPage: true });

before(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bloomcast-web-'));
  const httpPort = await freePort();
  const rtmpPort = await freePort();
  base = `http://127.0.0.1:${httpPort}`;
  server = spawn(binary, ['serve', '--bind', '127.0.0.1', '--http-port', String(httpPort), '--rtmp-port',
    String(rtmpPort), '--data-dir', dataDir, '--renditions', 'source', '--admin-token', ADMIN,
    '--hls-reconnect-window-ms', '2000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  await waitFor('bloomcast /healthz', async () => (await fetch(base + '/healthz')).status === 200, 20000);

  factory = (await call('POST', '/api/factories', { name: '东莞测试鞋厂' }, ADMIN)).json;
  const s = await call('POST', '/api/streams', { title: '浏览器测试直播' }, factory.token);
  assert.equal(s.status, 201);
  stream = s.json.id;
  key = s.json.stream_key;
  for (const p of [
    { sku: 'SHOE-1', title: '轻量跑鞋', price_cents: 19900, stock: 100, limit_per_buyer: 0 },
    { sku: 'BAG-2', title: '真皮手提包', price_cents: 39900, stock: 50 },
  ]) assert.equal((await call('POST', `/api/streams/${stream}/products`, p, factory.token)).status, 201);
  assert.equal((await call('POST', `/api/streams/${stream}/pin`, { sku: 'SHOE-1', flash_sale_ends_at: Date.now() + 600000 }, factory.token)).status, 200);

  ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  ffmpeg.stderr.on('data', (d) => { serverLog += '[ffmpeg] ' + d; });
  await waitFor('the HLS playlist', async () => (await fetch(`${base}/hls/${stream}/master.m3u8`)).status === 200, 30000);

  browser = await chromium.launch({
    executablePath: chromiumPath, headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (ffmpeg) ffmpeg.kill('SIGTERM');
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(() => { server.kill('SIGKILL'); r(); }, 8000); server.on('exit', () => { clearTimeout(t); r(); }); });
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the home page lists the live stream with a link to it', { timeout: 30000 }, async () => {
  const page = await newPage();
  await page.goto(base + '/');
  const card = page.locator(`#live a[data-stream="${stream}"]`);
  await card.waitFor({ timeout: 15000 });
  assert.match(await card.innerText(), /浏览器测试直播/);
  assert.match(await card.innerText(), /东莞测试鞋厂/);
  await shot(page, 'home');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the viewer page plays the video', { timeout: 60000 }, async () => {
  const page = await newPage();
  await page.goto(`${base}/live/${stream}`);
  await page.waitForFunction(() => {
    const v = document.querySelector('#video');
    return v && !v.error && v.currentTime > 1.5;
  }, null, { timeout: 45000 });
  const t0 = await page.evaluate(() => document.querySelector('#video').currentTime);
  await page.waitForFunction((t) => document.querySelector('#video').currentTime > t + 1, t0, { timeout: 10000 });
  assert.equal(await page.evaluate(() => document.querySelector('#video').error), null);
  await page.locator('#product-card').waitFor({ state: 'visible', timeout: 15000 });
  assert.match(await page.locator('#p-title').innerText(), /轻量跑鞋/);
  assert.match(await page.locator('#p-price').innerText(), /¥199\.00/);
  assert.match(await page.locator('#p-flash').innerText(), /限时抢购 \d\d:\d\d/);
  await shot(page, 'live');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the viewer page fits a 375 px phone without horizontal scrolling', { timeout: 30000 }, async () => {
  const page = await newPage({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await page.goto(`${base}/live/${stream}`);
  await page.locator('#product-card').waitFor({ state: 'visible', timeout: 20000 });
  await page.locator('#messages').waitFor({ timeout: 5000 });
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(widths.scroll <= widths.client, `scrollWidth ${widths.scroll} > clientWidth ${widths.client}`);
  assert.equal(widths.client, 375);
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .map((e) => e.tagName + '#' + e.id + '.' + e.className));
  assert.deepEqual(wide, [], 'elements reaching past the right edge');
  assert.equal(await page.evaluate(() => { window.scrollTo(100, 0); return window.scrollX; }), 0);
  await shot(page, 'live-375');
  await page.context().close();
});

test('chat goes round trip between two browsers', { timeout: 30000 }, async () => {
  const a = await newPage();
  const b = await newPage();
  await Promise.all([a.goto(`${base}/live/${stream}`), b.goto(`${base}/live/${stream}`)]);
  for (const p of [a, b]) await p.waitForFunction(() => document.querySelector('#conn').textContent.includes('已连接'), null, { timeout: 10000 });
  const hello = '大家好，我是 A ' + Date.now();
  await a.fill('#chat-input', hello);
  await a.click('#chat-send');
  await b.waitForFunction((t) => document.querySelector('#messages').innerText.includes(t), hello, { timeout: 5000 });
  const reply = '你好 A，我是 B ' + Date.now();
  await b.fill('#chat-input', reply);
  await b.press('#chat-input', 'Enter');
  await a.waitForFunction((t) => document.querySelector('#messages').innerText.includes(t), reply, { timeout: 5000 });
  assert.equal(await a.inputValue('#chat-input'), '');
  await shot(b, 'live-chat');
  await a.context().close();
  await b.context().close();
});

test('buying: 201, the stock left drops on the page and the dashboard GMV rises within 2 s', { timeout: 60000 }, async () => {
  const dash = await newPage({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  await dash.goto(`${base}/dashboard#token=${ADMIN}`);
  await dash.waitForFunction(() => document.querySelector('#conn').textContent.includes('实时'), null, { timeout: 10000 });
  await dash.waitForFunction(() => document.querySelector('#k-orders').textContent !== '' && window.getComputedStyle(document.querySelector('#app')).display !== 'none', null, { timeout: 5000 });
  // Let one tick arrive so the GMV shown is the current one.
  await dash.waitForFunction(() => document.querySelectorAll('#factories tr').length > 0, null, { timeout: 5000 });
  const gmvBefore = Number(await dash.getAttribute('#k-gmv', 'data-cents'));
  assert.ok(!dash.url().includes('token='), 'the token leaves the address bar');

  const page = await newPage();
  await page.goto(`${base}/live/${stream}`);
  await page.locator('#product-card').waitFor({ state: 'visible', timeout: 20000 });
  await page.waitForFunction(() => document.querySelector('#conn').textContent.includes('已连接'), null, { timeout: 10000 });
  const stockBefore = Number(await page.locator('#p-stock').innerText());
  await page.fill('#qty', '2');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/orders') && r.request().method() === 'POST'),
    page.click('#buy'),
  ]);
  assert.equal(response.status(), 201);
  const started = Date.now();
  await page.waitForFunction((n) => Number(document.querySelector('#p-stock').textContent) === n, stockBefore - 2, { timeout: 2000 });
  await dash.waitForFunction((g) => Number(document.querySelector('#k-gmv').dataset.cents) >= g + 2 * 19900, gmvBefore, { timeout: Math.max(100, 2000 - (Date.now() - started)) });
  assert.match(await page.locator('#buy-result').innerText(), /下单成功/);
  await shot(page, 'live-bought');
  await shot(dash, 'dashboard');
  // The organizer's export holds the order just placed.
  const orderId = (await response.json()).order_id;
  const [download] = await Promise.all([dash.waitForEvent('download'), dash.click('#csv')]);
  assert.match(download.suggestedFilename(), /^orders-\d{4}-\d{2}-\d{2}\.csv$/);
  assert.ok(fs.readFileSync(await download.path(), 'utf8').split('\n').some((l) => l.startsWith(orderId + ',')));
  assert.deepEqual(dash.errors, []);
  await dash.context().close();
  await page.context().close();
});

// A buyer pays or cancels from "我的订单": without it every order placed from the page would
// expire unpaid, give its stock back and leave the GMV.
test('my orders: each order is paid or cancelled from the page; a reload keeps them and asks the server', { timeout: 60000 }, async () => {
  assert.equal((await call('PATCH', `/api/streams/${stream}/products/SHOE-1`, { stock: 20 }, factory.token)).status, 200);
  const page = await newPage();
  await page.goto(`${base}/live/${stream}`);
  await page.locator('#product-card').waitFor({ state: 'visible', timeout: 20000 });
  await page.waitForFunction(() => document.querySelector('#p-stock').textContent === '20', null, { timeout: 5000 });
  assert.equal(await page.locator('#my-orders').isHidden(), true, 'no orders from this browser yet');
  const line = (id) => page.locator(`#order-list li[data-order="${id}"]`);
  const buy = async () => {
    await page.waitForFunction(() => !document.querySelector('#buy').disabled, null, { timeout: 5000 });
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/orders') && r.request().method() === 'POST'),
      page.click('#buy'),
    ]);
    assert.equal(response.status(), 201);
    const id = (await response.json()).order_id;
    await line(id).waitFor({ state: 'visible', timeout: 5000 });
    return id;
  };

  const paid = await buy();
  assert.equal(await line(paid).getAttribute('data-status'), 'created');
  assert.match(await line(paid).innerText(), /待支付/);
  await line(paid).locator('button.pay').click();
  await page.waitForFunction((id) => document.querySelector(`#order-list li[data-order="${id}"]`).dataset.status === 'paid', paid, { timeout: 5000 });
  assert.match(await line(paid).innerText(), /已支付/);
  assert.equal(await line(paid).locator('button').count(), 0, 'a paid order offers no more actions');

  const cancelled = await buy();
  await page.waitForFunction(() => document.querySelector('#p-stock').textContent === '18', null, { timeout: 5000 });
  await line(cancelled).locator('button.cancel').click();
  await page.waitForFunction((id) => document.querySelector(`#order-list li[data-order="${id}"]`).dataset.status === 'cancelled', cancelled, { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector('#p-stock').textContent === '19', null, { timeout: 5000 });

  const listed = await call('GET', `/api/orders?stream=${stream}&limit=1000`, undefined, ADMIN);
  assert.equal(listed.status, 200);
  const stored = (id) => listed.json.orders.find((o) => o.order_id === id)?.status;
  assert.equal(stored(paid), 'paid');
  assert.equal(stored(cancelled), 'cancelled');

  // The seller refunds a paid order while the page is open but out of view: back in view, the
  // page asks the server.
  const kept = await buy();
  await line(kept).locator('button.pay').click();
  await page.waitForFunction((id) => document.querySelector(`#order-list li[data-order="${id}"]`).dataset.status === 'paid', kept, { timeout: 5000 });
  assert.equal((await call('POST', `/api/orders/${kept}/cancel`, undefined, factory.token)).status, 200);
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await page.waitForFunction((id) => document.querySelector(`#order-list li[data-order="${id}"]`).dataset.status === 'cancelled', kept, { timeout: 5000 });
  assert.equal(await line(paid).getAttribute('data-status'), 'paid');

  // The seller refunds the paid order while the page is away; the reloaded page asks the server.
  assert.equal((await call('POST', `/api/orders/${paid}/cancel`, undefined, factory.token)).status, 200);
  await page.reload();
  await line(cancelled).waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await page.locator('#order-list li').first().getAttribute('data-order'), kept, 'newest first');
  await page.waitForFunction((id) => document.querySelector(`#order-list li[data-order="${id}"]`)?.dataset.status === 'cancelled', paid, { timeout: 5000 });
  assert.equal(await line(cancelled).getAttribute('data-status'), 'cancelled');
  await shot(page, 'live-my-orders');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

// The page's clock is Playwright's, so 15 minutes pass at once; waits are on locators and from
// node (the page's own timers are the fake ones).
test('my orders: an unpaid order counts down to its deadline, then shows as expired', { timeout: 60000 }, async () => {
  const page = await newPage();
  await page.clock.install();
  await page.goto(`${base}/live/${stream}`);
  await page.locator('#product-card').waitFor({ state: 'visible', timeout: 20000 });
  await page.locator('#buy:enabled').waitFor({ timeout: 10000 });
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/orders') && r.request().method() === 'POST'),
    page.click('#buy'),
  ]);
  assert.equal(response.status(), 201);
  const answer = await response.json();
  assert.equal(answer.expires_in_ms, 15 * 60 * 1000, 'the default order_expiry_s');
  const line = page.locator(`#order-list li[data-order="${answer.order_id}"]`);
  await line.waitFor({ state: 'visible', timeout: 5000 });
  assert.equal(await line.getAttribute('data-status'), 'created');
  assert.match(await line.locator('.order-left').innerText(), /^1[45]:\d\d$/, 'about 15 minutes left to pay');

  await page.clock.fastForward('14:00');
  await waitFor('the countdown to follow the clock', async () => /^0[01]:\d\d$/.test(await line.locator('.order-left').innerText()), 5000);
  assert.equal(await line.getAttribute('data-status'), 'created', 'still payable a minute before the deadline');

  await page.clock.fastForward('01:01');
  await waitFor('the order to show as expired', async () => (await line.getAttribute('data-status')) === 'expired', 5000);
  assert.match(await line.innerText(), /已超时取消/);
  assert.equal(await line.locator('button').count(), 0, 'an expired order offers no actions');
  assert.deepEqual(page.errors, []);
  await page.context().close();
  // On the server the order waits its real 15 minutes: given back now, so the stock is as it was.
  assert.equal((await call('POST', `/api/orders/${answer.order_id}/cancel`, undefined, ADMIN)).status, 200);
});

test('sold out: the page says so, and an edited stock reaches the page live', { timeout: 30000 }, async () => {
  const page = await newPage();
  await page.goto(`${base}/live/${stream}`);
  await page.locator('#product-card').waitFor({ state: 'visible', timeout: 20000 });
  await page.waitForFunction(() => document.querySelector('#conn').textContent.includes('已连接'), null, { timeout: 10000 });
  const r = await call('PATCH', `/api/streams/${stream}/products/SHOE-1`, { stock: 1 }, factory.token);
  assert.equal(r.status, 200);
  await page.waitForFunction(() => document.querySelector('#p-stock').textContent === '1', null, { timeout: 5000 });
  await page.fill('#qty', '2');
  await page.click('#buy');
  await page.waitForFunction(() => document.querySelector('#buy-result').textContent.includes('已售罄'), null, { timeout: 5000 });
  await page.fill('#qty', '1');
  await page.click('#buy');
  await page.waitForFunction(() => document.querySelector('#buy-result').textContent.includes('下单成功'), null, { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector('#p-stock').textContent === '0' && document.querySelector('#buy').disabled
    && document.querySelector('#buy').textContent.includes('已售罄'), null, { timeout: 5000 });
  await shot(page, 'live-sold-out');
  await page.context().close();
});

test('the studio creates a stream, adds and pins a product, and viewers see it', { timeout: 90000 }, async () => {
  const studio = await newPage({ viewport: { width: 1280, height: 900 } });
  await studio.goto(`${base}/studio#token=${factory.token}`);
  await studio.locator('#stream-panel').waitFor({ state: 'visible', timeout: 10000 });
  await studio.fill('#new-title', '工作室新建直播');
  await studio.click('#create-stream');
  await studio.waitForFunction(() => (document.querySelector('#stream-key') || {}).textContent?.startsWith('sk_'), null, { timeout: 10000 });
  const created = await studio.inputValue('#stream-select');
  assert.notEqual(created, stream);
  assert.match(await studio.locator('#rtmp-server').innerText(), /^rtmp:\/\/.+\/live$/);

  await studio.fill('#f-sku', 'TEA-9');
  await studio.fill('#f-title', '东莞凉茶礼盒');
  await studio.fill('#f-price', '68.8');
  await studio.fill('#f-stock', '30');
  await studio.click('#add-product');
  await studio.locator('tr[data-sku="TEA-9"]').waitFor({ timeout: 10000 });
  const viewer = await newPage();
  await viewer.goto(`${base}/live/${created}`);
  await viewer.waitForFunction(() => document.querySelector('#overlay-text').textContent.includes('尚未开始'), null, { timeout: 10000 });
  await viewer.waitForFunction(() => document.querySelector('#conn').textContent.includes('已连接'), null, { timeout: 10000 });
  await studio.click('button[data-pin="TEA-9"]');
  await viewer.waitForFunction(() => !document.querySelector('#product-card').hidden
    && document.querySelector('#p-title').textContent === '东莞凉茶礼盒', null, { timeout: 10000 });
  assert.match(await viewer.locator('#p-price').innerText(), /¥68\.80/);
  await shot(viewer, 'live-not-started');
  await shot(studio, 'studio');

  // On the live stream, the pin reaches the viewer when the video does.
  const live = await newPage();
  await live.goto(`${base}/live/${stream}`);
  await live.waitForFunction(() => document.querySelector('#video').currentTime > 1, null, { timeout: 45000 });
  await studio.selectOption('#stream-select', stream);
  await studio.locator('button[data-pin="BAG-2"]').waitFor({ timeout: 10000 });
  await studio.click('button[data-pin="BAG-2"]');
  await live.waitForFunction(() => document.querySelector('#p-title').textContent === '真皮手提包', null, { timeout: 30000 });
  // Unpinned: the card goes away.
  assert.equal((await call('DELETE', `/api/streams/${stream}/pin`, undefined, factory.token)).status, 200);
  await live.waitForFunction(() => document.querySelector('#product-card').hidden, null, { timeout: 30000 });
  for (const p of [studio, viewer, live]) assert.deepEqual(p.errors, []);
  for (const p of [studio, viewer, live]) await p.context().close();
});

// The factory sees its stream's orders come in, newest first, refunds a paid one and exports the
// stream's orders; older pages load on demand. A burst of orders makes about one refresh a
// second, not one request per order.
test('the studio lists orders as they come, refunds a paid one, pages back and exports CSV', { timeout: 90000 }, async () => {
  const own = (await call('POST', '/api/streams', { title: '订单管理测试' }, factory.token)).json;
  assert.equal((await call('POST', `/api/streams/${own.id}/products`, { sku: 'CUP', title: '陶瓷杯', price_cents: 2500, stock: 500 }, factory.token)).status, 201);
  const studio = await newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  studio.on('dialog', (d) => d.accept());
  await studio.goto(`${base}/studio#token=${factory.token}`);
  await studio.locator('#stream-panel').waitFor({ state: 'visible', timeout: 10000 });
  await studio.selectOption('#stream-select', own.id);
  await studio.locator('#orders-empty').waitFor({ state: 'visible', timeout: 10000 });

  const buyer = (await call('POST', '/api/sessions', { name: '退款测试' })).json.token;
  const place = async (who, key, qty = 1) => {
    const r = await call('POST', '/api/orders', { stream: own.id, sku: 'CUP', qty, idempotency_key: key }, who);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.order_id;
  };
  const paid = await place(buyer, 'refund-me', 2);
  assert.equal((await call('POST', `/api/orders/${paid}/pay`, undefined, buyer)).status, 200);
  const unpaid = await place(buyer, 'leave-me');
  // The unpaid order's room event brings both in; the payment shows (it tells the room nothing).
  await studio.locator(`tr[data-order="${paid}"][data-status="paid"]`).waitFor({ timeout: 10000 });
  await studio.locator(`tr[data-order="${unpaid}"][data-status="created"]`).waitFor({ timeout: 10000 });
  const rows = await studio.locator('#orders tr').evaluateAll((trs) => trs.map((t) => t.dataset.order));
  assert.deepEqual(rows, [unpaid, paid], 'newest first');
  assert.match(await studio.locator(`tr[data-order="${paid}"]`).innerText(), /陶瓷杯[\s\S]*50\.00[\s\S]*已支付/);

  await studio.click(`button[data-refund="${paid}"]`);
  await studio.locator(`tr[data-order="${paid}"][data-status="cancelled"]`).waitFor({ timeout: 10000 });
  assert.equal(await studio.locator(`button[data-refund="${paid}"]`).count(), 0);
  const order = (await call('GET', `/api/orders/${paid}`, undefined, factory.token)).json;
  assert.equal(order.status, 'cancelled', "the server's order is refunded");
  const stockOf = async () => (await call('GET', `/api/streams/${own.id}/products`)).json.products.find((p) => p.sku === 'CUP').stock;
  await waitFor('the refunded stock back on sale', async () => (await stockOf()) === 499, 5000);
  await studio.waitForFunction(() => document.querySelector('#k-gmv').textContent === '¥25.00', null, { timeout: 10000 });

  // 60 more orders from 6 buyers (each session may place 10 at once) in one burst.
  const gets = [];
  studio.on('request', (r) => { if (r.method() === 'GET' && r.url().includes('/api/orders?')) gets.push(Date.now()); });
  const burstStart = Date.now();
  const buyers = await Promise.all([...Array(6)].map(async (_, i) => (await call('POST', '/api/sessions', { name: `买家${i}` })).json.token));
  await Promise.all(buyers.flatMap((b, i) => [...Array(10)].map((_, j) => place(b, `burst-${i}-${j}`))));
  await studio.waitForFunction(() => (document.querySelector('#orders tr') || { dataset: {} }).dataset.order?.endsWith('-62'), null, { timeout: 10000 });
  const seconds = (Date.now() - burstStart) / 1000;
  assert.ok(gets.length <= Math.ceil(seconds * 4 / 3) + 2, `${gets.length} list reads for 60 orders in ${seconds} s`);
  const seqs = () => studio.locator('#orders tr').evaluateAll((trs) => trs.map((t) => Number(t.dataset.order.split('-').pop())));
  const countdown = (n) => [...Array(n)].map((_, i) => 62 - i);
  const merged = await seqs();
  assert.deepEqual(merged, countdown(merged.length), 'orders merged as they came: newest first, no holes');
  assert.equal(await studio.locator('#orders-more').isHidden(), merged.length === 62);

  // A fresh look shows the newest 50 and pages back to the first order.
  await studio.reload();
  await studio.waitForFunction(() => document.querySelectorAll('#orders tr').length === 50, null, { timeout: 10000 });
  assert.deepEqual(await seqs(), countdown(50));
  await studio.click('#orders-more');
  await studio.waitForFunction(() => document.querySelectorAll('#orders tr').length === 62, null, { timeout: 10000 });
  assert.ok(await studio.locator('#orders-more').isHidden(), 'the first order is in');
  assert.deepEqual(await seqs(), countdown(62));
  assert.match(await studio.locator(`tr[data-order="${paid}"]`).innerText(), /已取消/);
  await shot(studio, 'studio-orders');

  const [download] = await Promise.all([studio.waitForEvent('download'), studio.click('#orders-csv')]);
  const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'order_id,stream_id,sku,qty,amount_cents,amount_yuan,status,buyer_id,created_at,updated_at');
  assert.equal(csv.length, 1 + 62);
  assert.ok(csv.some((l) => l.startsWith(paid + ',') && l.includes(',cancelled,')));
  assert.deepEqual(studio.errors, []);
  await studio.context().close();
});

test('after the show, the replay shows each product card at the moment it was pinned', { timeout: 90000 }, async () => {
  const events = (await call('GET', `/api/streams/${stream}/timeline`)).json.events;
  assert.deepEqual(events.map((e) => e.product && e.product.sku), ['SHOE-1', 'BAG-2', null]);
  ffmpeg.kill('SIGTERM');
  await waitFor('the playlist to close (#EXT-X-ENDLIST)', async () =>
    (await (await fetch(`${base}/hls/${stream}/source/index.m3u8`)).text()).includes('#EXT-X-ENDLIST'), 30000);

  const page = await newPage();
  await page.goto(`${base}/live/${stream}`);
  await page.locator('#replay-tag').waitFor({ state: 'visible', timeout: 20000 });
  await page.waitForFunction(() => document.querySelector('#video').currentTime > 0.5 && window.bloomcastLive.player.playingDateMs() !== null, null, { timeout: 20000 });
  // Wall time -> media time, from the program date time of the picture on screen.
  const offsetMs = await page.evaluate(() => window.bloomcastLive.player.playingDateMs() - document.querySelector('#video').currentTime * 1000);
  const seek = (ts, afterMs) => page.evaluate((t) => { document.querySelector('#video').currentTime = t; }, (ts - offsetMs + afterMs) / 1000);
  const title = () => page.evaluate(() => (document.querySelector('#product-card').hidden ? null : document.querySelector('#p-title').textContent));

  await seek(events[1].ts, -1500);
  await page.waitForFunction(() => document.querySelector('#p-title').textContent === '轻量跑鞋' && !document.querySelector('#product-card').hidden, null, { timeout: 10000 });
  assert.equal(await page.locator('#buy').isDisabled(), true, 'no orders in the replay');
  await seek(events[1].ts, 1500);
  await page.waitForFunction(() => document.querySelector('#p-title').textContent === '真皮手提包', null, { timeout: 10000 });
  await shot(page, 'live-replay');
  await seek(events[2].ts, 1500);
  await page.waitForFunction(() => document.querySelector('#product-card').hidden, null, { timeout: 10000 });
  await seek(events[1].ts, -1500);
  await page.waitForFunction(() => document.querySelector('#p-title').textContent === '轻量跑鞋' && !document.querySelector('#product-card').hidden, null, { timeout: 10000 });
  assert.ok(['轻量跑鞋', '真皮手提包', null].includes(await title()));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
