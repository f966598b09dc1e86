// sdwan-orchd dashboard: plain JS, no framework, no outside resources.
// Polls the operator API every 2 s with the token kept in sessionStorage;
// every value from the server is written with textContent, never as HTML.
'use strict';

const POLL_MS = 2000;
const state = { token: sessionStorage.getItem('sdwan-token') || '', site: '', after: -1, events: [], timer: 0 };

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el('td', c));
  return tr;
}

function td(text, cls) { return el('td', text, cls); }

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function time(ms) {
  if (!ms) return '-';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function ago(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : time(ms);
}

function short(v, prefix) {
  v = String(v || '');
  return (v.startsWith(prefix) ? v.slice(prefix.length) : v).toLowerCase() || 'unknown';
}

function num(v, digits) {
  return typeof v === 'number' ? v.toFixed(digits) : '-';
}

class Unauthorized extends Error {}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' });
  // 429: too many failed authentications from here; back to the form with the reason
  if (r.status === 401 || r.status === 403 || r.status === 429) throw new Unauthorized((await r.json()).error || 'refused');
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function renderSites(sites) {
  const rows = [];
  let online = 0, problems = 0;
  for (const s of sites) {
    const up = s.paths_up || 0, total = s.paths_total || 0;
    const cfg = s.config_error ? 'error' : !s.target_version ? '-' : s.applied_version === s.target_version ? 'v' + s.applied_version : 'v' + s.applied_version + ' → v' + s.target_version;
    const tr = row([
      td(s.site),
      td(s.role),
      td(!s.registered ? 'unregistered' : s.online ? 'online' : 'OFFLINE', !s.registered ? 'muted' : s.online ? 'ok' : 'bad'),
      td(total ? up + ' / ' + total : '-', total && up === total ? 'ok' : total && up === 0 ? 'bad' : total ? 'warn' : 'muted'),
      td(cfg, s.config_error ? 'bad' : s.applied_version === s.target_version ? 'ok' : 'warn'),
      td(ago(s.last_seen), 'muted'),
    ]);
    tr.dataset.site = s.site;
    if (s.site === state.site) tr.classList.add('selected');
    tr.addEventListener('click', () => select(s.site));
    if (s.online) online++;
    if ((s.registered && !s.online) || s.config_error || (total && up < total)) problems++;
    rows.push(tr);
  }
  fill($('sites').tBodies[0], rows);
  $('summary').textContent = sites.length + ' sites, ' + online + ' online, ' + problems + ' with problems';
  if (!state.site && sites.length) {
    const first = sites.find((s) => s.paths_total) || sites[0];
    select(first.site, true);
  }
}

function renderSite(s) {
  $('site-title').textContent = 'Paths of ' + s.site + (s.online ? '' : ' (offline)');
  const byPath = {};
  for (const d of s.decisions || [])
    for (const p of d.paths || []) (byPath[p.path] = byPath[p.path] || []).push(d.traffic_class);
  fill($('paths').tBodies[0], (s.paths || []).map((p) => {
    const st = short(p.state, 'PATH_STATE_'), tun = short(p.tunnel, 'TUNNEL_STATE_');
    const nat = p.behind_nat && p.peer_behind_nat ? 'both' : p.behind_nat ? 'behind NAT' : p.peer_behind_nat ? 'peer behind NAT' : p.waiting || 'no';
    const tr = row([
      td(p.path),
      td(st.toUpperCase(), st === 'up' ? 'ok' : st === 'down' || st === 'admin_down' ? 'bad' : 'warn'),
      td(tun, tun === 'up' || tun === 'rekeying' ? 'ok' : tun === 'down' ? 'bad' : 'warn'),
      td(num(p.rtt_avg_ms, 1)),
      td(num(p.jitter_ms, 1)),
      td(num(p.loss_pct, 1), p.loss_pct > 5 ? 'bad' : p.loss_pct > 1 ? 'warn' : ''),
      td(nat),
      td((byPath[p.path] || []).join(', ') || '-'),
      td(p.local_address || '-', 'muted'),
      td(p.public_address || '-', 'muted'),
    ]);
    tr.dataset.path = p.path;
    tr.dataset.state = st;
    return tr;
  }));
  fill($('classes').tBodies[0], (s.decisions || []).map((d) => row([
    td(d.traffic_class),
    td(short(d.action, 'RULE_ACTION_')),
    td((d.paths || []).map((p) => p.path + ' (' + p.weight + ')').join(', ') || 'NO PATH', (d.paths || []).length ? '' : 'bad'),
    td(d.sla_met ? 'met' : 'violated', d.sla_met ? 'ok' : 'bad'),
    td(d.reason || '', 'msg'),
  ])));
}

function renderRollout(r) {
  const s = r.summary || {};
  $('rollout-title').textContent = 'Rollout: ' + (s.converged || 0) + ' converged, ' + (s.pending || 0) + ' pending, ' + (s.refused || 0) + ' refused, ' + (s.unregistered || 0) + ' unregistered';
  fill($('rollout').tBodies[0], (r.sites || []).map((x) => row([
    td(x.site), td('v' + x.target_version), td(x.acked_version ? 'v' + x.acked_version : '-'),
    td(x.state, x.state === 'converged' ? 'ok' : x.state === 'refused' ? 'bad' : 'warn'),
    td(x.error || '', 'msg'),
  ])));
}

function renderEvents() {
  fill($('events').tBodies[0], state.events.slice().reverse().map((e) => row([
    td(e.id, 'muted'), td(time(e.at), 'muted'), td(e.site || '-'), td(e.kind), td(e.subject), td(e.message, 'msg'),
  ])));
}

async function pollEvents() {
  // the newest 50 first, then page forward from the cursor
  let url = state.after < 0 ? '/api/v1/events?limit=50' : '/api/v1/events?limit=1000&after=' + state.after;
  for (let pages = 0; pages < 10; pages++) {
    const r = await api(url);
    state.events.push(...r.events);
    state.after = r.next;
    if (!r.more) break;
    url = '/api/v1/events?limit=1000&after=' + state.after;
  }
  state.events = state.events.slice(-200);
  renderEvents();
}

async function poll() {
  clearTimeout(state.timer);
  try {
    const [status, rollout] = await Promise.all([api('/api/v1/status'), api('/api/v1/rollout')]);
    renderSites(status.sites || []);
    renderRollout(rollout);
    if (state.site) renderSite(await api('/api/v1/status/' + encodeURIComponent(state.site)));
    await pollEvents();
    $('updated').textContent = 'updated ' + time(Date.now()) + ' UTC';
    $('updated').className = '';
  } catch (e) {
    if (e instanceof Unauthorized) return logout(e.message);
    $('updated').textContent = 'cannot reach the orchestrator: ' + e.message;
    $('updated').className = 'bad';
  }
  state.timer = setTimeout(poll, POLL_MS);
}

function select(site, quiet) {
  state.site = site;
  history.replaceState(null, '', '#site=' + encodeURIComponent(site));
  for (const tr of $('sites').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.site === site);
  if (!quiet) poll();
}

function logout(msg) {
  clearTimeout(state.timer);
  sessionStorage.removeItem('sdwan-token');
  state.token = '';
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = msg || '';
}

function start() {
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = false;
  poll();
}

document.addEventListener('DOMContentLoaded', () => {
  const m = /site=([^&]+)/.exec(location.hash);
  if (m) state.site = decodeURIComponent(m[1]);
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem('sdwan-token', state.token);
    start();
  });
  $('logout').addEventListener('click', () => logout(''));
  if (state.token) start();
  else logout('');
});
