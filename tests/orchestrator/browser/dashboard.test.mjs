// The dashboard against a real sdwan-orchd with sites and telemetry, in
// Debian's headless Chromium (never a downloaded browser): the token form,
// every site with its health, br1's paths and classes, the rollout, the event
// stream; a path going down shows on the page within a few seconds without a
// reload; edge text stays text; the page loads nothing from outside.
// usage: node dashboard.test.mjs SDWAN_ORCHD ORCH_FEED SCREENSHOT.png
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';

const [orchd, feed, shot] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'orch-dash-'));
const db = join(dir, 'orch.db'), portFile = join(dir, 'port'), stateFile = join(dir, 'state');
let daemon, browser, passed = 0, failed = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log('ok - ' + name);
  } catch (e) {
    failed++;
    console.log('not ok - ' + name + '\n  ' + String(e.stack || e).replace(/\n/g, '\n  '));
  }
}

async function main() {
  const admin = execFileSync(orchd, ['token', 'add', '--db', db, '--role', 'admin']).toString().trim();
  const viewer = execFileSync(orchd, ['token', 'add', '--db', db, '--role', 'viewer']).toString().trim();
  daemon = spawn(orchd, ['--db', db, '--insecure-http', '--port', '0', '--port-file', portFile,
    '--access-log', '-'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 100 && !existsSync(portFile); i++) await sleep(50);
  const base = 'http://127.0.0.1:' + readFileSync(portFile, 'utf8').trim();
  execFileSync(feed, [base, admin, stateFile, 'setup']);

  browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1600, height: 1000 });
  const errors = [], outside = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith(base)) outside.push(r.url()); });

  await check('the page asks for a token and keeps it out of the URL', async () => {
    const resp = await page.goto(base + '/', { waitUntil: 'load' });
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()['content-security-policy'], /script-src 'self'/);
    await page.waitForSelector('#login:not([hidden])');
    await page.type('#token', viewer);
    await page.click('#login button[type=submit]');
    assert.ok(!page.url().includes(viewer));
  });

  await check('every site with its health', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#sites tbody tr').length === 3, { timeout: 5000 });
    const rows = await page.$$eval('#sites tbody tr', (t) => t.map((r) => Array.from(r.cells, (c) => c.textContent).join(' | ')));
    assert.ok(rows.some((r) => /^br1 \| branch \| online \| 2 \/ 2/.test(r)), rows.join('\n'));
    assert.ok(rows.some((r) => /^hub1 \| hub \| online/.test(r)), rows.join('\n'));
    assert.match(await page.$eval('#summary', (e) => e.textContent), /3 sites, 3 online, 0 with problems/);
  });

  await check("br1's paths with RTT, loss, state, NAT and the classes on them", async () => {
    await page.click('#sites tbody tr[data-site="br1"]');
    await page.waitForSelector('#paths tbody tr[data-path="inet-hub1-inet"]', { timeout: 5000 });
    const inet = await page.$eval('#paths tbody tr[data-path="inet-hub1-inet"]', (r) => Array.from(r.cells, (c) => c.textContent).join(' | '));
    assert.match(inet, /UP \| up \| 23\.4 \| 2\.3 \| 0\.4 \| behind NAT \| backup, any \| 192\.168\.1\.10:4500 \| 203\.0\.113\.77:61024/);
    const mpls = await page.$eval('#paths tbody tr[data-path="mpls-hub1-mpls"]', (r) => Array.from(r.cells, (c) => c.textContent).join(' | '));
    assert.match(mpls, /UP \| up \| 8\.5/);
    assert.match(mpls, /voip, any/);
    const classes = await page.$$eval('#classes tbody tr', (t) => t.map((r) => Array.from(r.cells, (c) => c.textContent).join(' | ')));
    assert.ok(classes.some((c) => /^voip \| overlay \| mpls-hub1-mpls \(100\) \| met/.test(c)), classes.join('\n'));
  });

  await check('the rollout and the event stream', async () => {
    const converged = () => page.waitForFunction(() => /Rollout: 3 converged, 0 pending/.test(document.querySelector('#rollout-title').textContent), { timeout: 5000 });
    await converged().catch(async () => {
      // a late compile bumped a bundle: edges fetch and ack the new one, as real ones do
      execFileSync(feed, [base, admin, stateFile, 'telemetry']);
      await converged().catch(async (e) => { throw new Error(e.message + ': ' + await page.$eval('#rollout', (t) => t.textContent)); });
    });
    const ev = await page.$$eval('#events tbody tr', (t) => t.map((r) => Array.from(r.cells, (c) => c.textContent).join(' | ')));
    assert.ok(ev.some((e) => /policy v1 applied: feed/.test(e)), ev.join('\n'));
    assert.ok(ev.some((e) => /br1 \| edge \| br1 \| edge registered/.test(e)), ev.join('\n'));
  });

  await check('a path going down shows within a few seconds, by itself', async () => {
    const t0 = Date.now();
    execFileSync(feed, [base, admin, stateFile, 'telemetry', 'mpls-hub1-mpls']);
    await page.waitForFunction(() => {
      const r = document.querySelector('#paths tbody tr[data-path="mpls-hub1-mpls"]');
      return r && r.dataset.state === 'down';
    }, { timeout: 6000, polling: 100 });
    const dt = Date.now() - t0;
    assert.ok(dt < 5000, 'took ' + dt + ' ms');
    const mpls = await page.$eval('#paths tbody tr[data-path="mpls-hub1-mpls"]', (r) => Array.from(r.cells, (c) => c.textContent).join(' | '));
    assert.match(mpls, /DOWN \| down/);
    await page.waitForFunction(() => /mpls-hub1-mpls/.test(document.querySelector('#events').textContent) &&
      /up → down: 3 probes lost/.test(document.querySelector('#events').textContent), { timeout: 5000 });
    const br1 = await page.$eval('#sites tbody tr[data-site="br1"]', (r) => Array.from(r.cells, (c) => c.textContent).join(' | '));
    assert.match(br1, /1 \/ 2/);
    console.log('  (path DOWN on the page ' + dt + ' ms after the telemetry)');
  });

  await check('edge text is shown as text, never as markup', async () => {
    // an operator comment carries markup; it reaches the page only as text
    execFileSync('curl', ['-sf', '-o', '/dev/null', '-X', 'POST', '-H', 'Authorization: Bearer ' + admin,
      '-H', 'Content-Type: application/json', '--data',
      '{"rules":[{"app":"any","paths":["inet"],"mode":"ordered"}]}',
      base + '/api/v1/policy?comment=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E']);
    await page.waitForFunction(() => /<img src=x onerror=alert\(1\)>/.test(document.querySelector('#events').textContent), { timeout: 5000 });
    assert.equal(await page.$$eval('#events img', (x) => x.length), 0);
  });

  await check('nothing loaded from outside, no script errors', async () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });

  await check('a wrong token goes back to the form with the reason', async () => {
    const p2 = await browser.newPage();
    await p2.goto(base + '/');
    await p2.type('#token', 'not-a-token');
    await p2.click('#login button[type=submit]');
    await p2.waitForFunction(() => /unknown token/.test(document.querySelector('#login-error').textContent), { timeout: 5000 });
    await p2.close();
  });

  if (shot) {
    execFileSync(feed, [base, admin, stateFile, 'telemetry', 'mpls-hub1-mpls']);
    await sleep(2500);
    await page.screenshot({ path: shot, fullPage: true });
    console.log('screenshot: ' + shot);
  }
}

try {
  await main();
} catch (e) {
  failed++;
  console.log('not ok - setup\n  ' + String(e.stack || e));
} finally {
  if (browser) await browser.close();
  if (daemon) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.on('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
}
console.log('dashboard: ' + passed + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
