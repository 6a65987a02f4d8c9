// The spool page: a board (sweeps, results, running, failed, queued,
// workers) and a job's page, read from the /v1 routes like any client.
//
// Rules this file keeps (issue 14):
// - every string from a job, outcome, order or worker goes in as text
//   (textContent, Chart.js drawing on a canvas), never as HTML;
// - every list is one page asked of the server (limit, offset or cursor),
//   so the page stays correct with a million orders queued;
// - the view (sweep, key, order, param, sort, job) lives in the URL;
// - refreshes replace each table in one step (no reload, no flicker);
// - with a token set, the token is asked once, when the API answers 401.
'use strict';

const REFRESH_MS = 3000;
const PAGE = 20;                    // rows of the cursor-paged lists
const RESULTS_PAGE = 50;            // rows of the results table
const PLOT_ROWS = 1000;             // best runs plotted
const HEARTBEAT_S = 30;              // a runner re-registers this often (its record's heartbeatS)
const WORKER_RUNS = 1000;           // running orders asked for the workers' table

const $ = id => document.getElementById(id);

// ---- the view, in the URL ------------------------------------------------

const view = { sweep: '', key: 'loss', order: 'asc', param: '', sort: '', job: '', runs: [] };
const RUNS_MAX = 10;                // learning curves drawn at once

function readURL() {
  const q = new URLSearchParams(location.search);
  view.sweep = q.get('sweep') || '';
  view.key = q.get('key') || 'loss';
  view.order = q.get('order') === 'desc' ? 'desc' : 'asc';
  view.param = q.get('param') || '';
  // p.NAME:asc|desc, NAME as the server takes it (else no sort)
  view.sort = /^p\.[A-Za-z0-9_.-]{1,63}:(asc|desc)$/.test(q.get('sort') || '') ? q.get('sort') : '';
  view.job = /^[0-9a-f]{24}$/.test(q.get('job') || '') ? q.get('job') : '';
  view.runs = (q.get('runs') || '').split(',').filter(x => /^[0-9a-f]{24}$/.test(x)).slice(0, RUNS_MAX);
}

function urlOf(v) {
  const q = new URLSearchParams();
  if (v.sweep) q.set('sweep', v.sweep);
  if (v.key && v.key !== 'loss') q.set('key', v.key);
  if (v.order !== 'asc') q.set('order', v.order);
  if (v.param) q.set('param', v.param);
  if (v.sort) q.set('sort', v.sort);
  if (v.job) q.set('job', v.job);
  if (v.runs && v.runs.length) q.set('runs', v.runs.join(','));
  const s = q.toString();
  return s ? '?' + s : location.pathname;
}

// Change the view: the URL first (push: a new history entry), then the page.
function go(changes, push) {
  const v = Object.assign({}, view, changes);
  if ('sweep' in changes || 'key' in changes || 'order' in changes) resetPages();
  else if ('sort' in changes && changes.sort !== view.sort) pages.results = { offset: 0, total: 0 };
  history[push ? 'pushState' : 'replaceState'](null, '', urlOf(v));
  readURL();
  show();
}

function jobLink(id) {
  const a = el('a', id, 'id');
  a.href = urlOf(Object.assign({}, view, { job: id }));
  a.addEventListener('click', e => {
    if (e.button || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    go({ job: id }, true);
  });
  return a;
}

// ---- the API ---------------------------------------------------------------

let token = sessionStorage.getItem('spoolToken') || '';
let asking = null, refused = false;

// One prompt however many requests were refused at once.
function askToken() {
  if (!asking) {
    asking = Promise.resolve().then(() => {
      const t = refused ? null : prompt('This spool needs its bearer token (spoold --token-file):');
      if (t && t.trim()) {
        token = t.trim();
        sessionStorage.setItem('spoolToken', token);
      } else {
        refused = true;
      }
    }).finally(() => { asking = null; });
  }
  return asking;
}

async function api(path, method) {
  for (let tries = 0; ; tries++) {
    const h = {}, used = token;
    if (used) h.Authorization = 'Bearer ' + used;
    const r = await fetch(path, { method: method || 'GET', headers: h, cache: 'no-store' });
    if (r.status === 401 && tries < 2 && !refused) {
      // refused with the token it was sent with: ask, unless another
      // request already asked while this one was on its way
      if (token === used) await askToken();
      if (token !== used) continue;
    }
    if (r.status === 401) throw new Error('the API needs the bearer token (reload to enter it)');
    return r;
  }
}

async function getJSON(path, missingOK) {
  const r = await api(path);
  if (missingOK && r.status === 404) return { data: null, next: null };
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status + ' ' + (await r.text()).slice(0, 200));
  return { data: await r.json(), next: r.headers.get('X-Spool-Next') };
}

async function act(id, action) {
  const r = await api('/v1/orders/' + id + '/' + action, 'POST');
  let msg = '';
  try { const j = await r.json(); msg = j.error || j.state || ''; } catch (e) { /* no body */ }
  return { ok: r.ok, status: r.status, msg };
}

// ---- small DOM helpers (text only) -----------------------------------------

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fmt(v) {
  if (v === undefined) return '';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function fmtAge(ms) {
  if (!isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return s + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  if (s < 172800) return (s / 3600).toFixed(1) + ' h';
  return Math.round(s / 86400) + ' d';
}

// head: [label or {label, cls, onclick, title}]; rows: [{cells, cls}], a
// cell being a value (shown as text) or a Node. Replaced in one step.
function fill(table, head, rows, empty) {
  const thead = el('thead'), tbody = el('tbody'), tr = el('tr');
  head.forEach(h => {
    const th = el('th', typeof h === 'object' ? h.label : h, typeof h === 'object' ? h.cls : '');
    if (h.onclick) { th.classList.add('sortable'); th.addEventListener('click', h.onclick); }
    if (h.title) th.title = h.title;
    tr.append(th);
  });
  thead.append(tr);
  rows.forEach(r => {
    const row = el('tr', undefined, r.cls || '');
    if (r.id) row.dataset.id = r.id;
    r.cells.forEach(c => {
      const td = el('td', undefined, typeof c === 'number' ? 'num' : '');
      if (c instanceof Node) td.append(c); else td.textContent = fmt(c);
      row.append(td);
    });
    tbody.append(row);
  });
  if (!rows.length) {
    const row = el('tr'), td = el('td', empty || '(none)', 'muted');
    td.colSpan = Math.max(1, head.length);
    row.append(td);
    tbody.append(row);
  }
  table.replaceChildren(thead, tbody);
}

function button(label, onclick, cls) {
  const b = el('button', label, cls);
  b.type = 'button';
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await onclick(); } catch (e) { showError(e); } finally { b.disabled = false; }
  });
  return b;
}

function actionButton(id, action) {
  return button(action, async () => {
    const r = await act(id, action);
    setStatus(r.ok ? action + ' ' + id + ': ' + r.msg : action + ' ' + id + ' refused (' + r.status + '): ' + r.msg);
    await refresh();
  }, 'small');
}

function setStatus(s) { $('status').textContent = s; }
function showError(e) { $('err').textContent = e ? String(e.message || e) : ''; }

// ---- paging ------------------------------------------------------------------

// A cursor-paged list: cursors[i] starts page i (null: the first).
function cursorPager() { return { cursors: [null], i: 0, next: null }; }
const pages = {
  running: cursorPager(), failed: cursorPager(), queued: cursorPager(),
  sweeps: cursorPager(), results: { offset: 0, total: 0 },
};
function resetPages() {
  ['running', 'failed', 'queued', 'sweeps'].forEach(k => { pages[k] = cursorPager(); });
  pages.results = { offset: 0, total: 0 };
}

function renderCursorPager(div, p) {
  const prev = button('previous', async () => { p.i--; await refresh(); });
  const next = button('next', async () => { p.cursors[p.i + 1] = p.next; p.i++; await refresh(); });
  prev.disabled = p.i === 0;
  next.disabled = !p.next;
  div.replaceChildren(prev, el('span', ' page ' + (p.i + 1) + ' ', 'muted'), next);
}

function withCursor(path, p) {
  const c = p.cursors[p.i];
  return c ? path + '&after=' + encodeURIComponent(c) : path;
}

// ---- learning curves (GET /v1/orders/ID/metrics) --------------------------

// A run that ended keeps its series: asked once (a bounded cache).
const seriesCache = new Map();
async function loadSeries(id, ended) {
  if (seriesCache.has(id)) return seriesCache.get(id);
  const { data } = await getJSON('/v1/orders/' + id + '/metrics', true);
  const pts = data && Array.isArray(data.points) ? data.points : [];
  if (ended && data) {
    if (seriesCache.size >= 500) seriesCache.delete(seriesCache.keys().next().value);
    seriesCache.set(id, pts);
  }
  return pts;
}

// The x of a point (step, else epoch) and the key plotted: the board's
// key when the series has it, else loss, else its first numeric member.
function curveKeys(runs) {
  const pts = runs.flatMap(r => r.points);
  const x = pts.some(p => typeof p.step === 'number') ? 'step' : 'epoch';
  const has = k => pts.some(p => typeof p[k] === 'number');
  let y = has(view.key) ? view.key : has('loss') ? 'loss' : '';
  if (!y) {
    const p = pts.find(q => Object.keys(q).some(k => k !== x && typeof q[k] === 'number'));
    y = p ? Object.keys(p).find(k => k !== x && typeof p[k] === 'number') : '';
  }
  return { x, y };
}

const COLORS = ['#1c7ed6', '#d9480f', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e64980', '#5c940d', '#495057', '#3b5bdb'];

// Draw runs [{id, rank, points}] as lines on canvas id; the number drawn.
function drawCurves(canvasId, runs) {
  if (typeof Chart === 'undefined') return 0;
  const { x, y } = curveKeys(runs);
  const datasets = runs.map((r, i) => ({
    label: (r.rank ? '#' + r.rank + ' ' : '') + r.id,
    data: r.points.filter(p => typeof p[x] === 'number' && typeof p[y] === 'number').map(p => ({ x: p[x], y: p[y] })),
    borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length],
    pointRadius: 2, borderWidth: 1.5,
  })).filter(d => d.data.length);
  const scales = { x: { type: 'linear', title: { display: true, text: x } },
                   y: { type: 'linear', title: { display: true, text: y || '(no numeric key)' } } };
  let c = Chart.getChart(canvasId);
  if (!c) {
    c = new Chart($(canvasId), { type: 'line', data: { datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales,
                 plugins: { legend: { display: true, position: 'right' } } } });
  } else {
    c.data.datasets = datasets;
    c.options.scales = scales;
    c.update('none');
  }
  return datasets.length;
}

function curveBox(id) {
  const b = el('input');
  b.type = 'checkbox';
  b.checked = view.runs.includes(id);
  b.title = 'draw its learning curve';
  b.addEventListener('change', () => {
    const runs = view.runs.filter(x => x !== id);
    if (b.checked) runs.push(id);
    go({ runs: runs.slice(-RUNS_MAX) });
  });
  return b;
}

// ---- the board -----------------------------------------------------------------

let sweeps = [];        // the last /v1/sweeps page
let chart = null;

function sweepQuery() { return view.sweep ? '&sweep=' + encodeURIComponent(view.sweep) : ''; }

function progressBar(c, total) {
  const bar = el('div', undefined, 'bar');
  [['done', 'done'], ['pruned', 'pruned'], ['failed', 'failed'], ['cancelled', 'cancelled'],
   ['assigned', 'running'], ['held', 'held'], ['new', 'queued']].forEach(([k, cls]) => {
    if (!c[k]) return;
    const s = el('span', undefined, 'seg ' + cls);
    s.style.width = (100 * c[k] / total) + '%';   // CSSOM: allowed by the CSP
    s.title = cls + ' ' + c[k];
    bar.append(s);
  });
  return bar;
}

// Each loader fetches, then hands back what draws it: the board is drawn
// in one step once every answer is in, so its tables never disagree.
async function loadSweeps() {
  const p = pages.sweeps;
  const { data } = await getJSON(withCursor('/v1/sweeps?limit=' + PAGE, p));
  return () => renderSweeps(data, p);
}

function renderSweeps(data, p) {
  sweeps = data.sweeps;
  p.next = data.next;
  $('sweeps-note').textContent = data.unread ? data.unread + ' orders not counted yet: their jobs ' +
    'are being read (once each, a little at every refresh)' : '';
  const all = el('a', 'all sweeps');
  all.href = urlOf(Object.assign({}, view, { sweep: '' }));
  all.addEventListener('click', e => { e.preventDefault(); go({ sweep: '' }, true); });
  const rows = sweeps.map(s => {
    const c = s.counts, name = s.name === null ? '(no sweep)' : s.name;
    let cell = el('span', name, 'muted');
    if (s.name !== null) {
      cell = el('a', name, 'sweep-link');
      cell.href = urlOf(Object.assign({}, view, { sweep: s.name }));
      cell.addEventListener('click', e => { e.preventDefault(); go({ sweep: s.name }, true); });
    }
    const pruned = c.pruned || 0, finished = c.done + pruned + c.failed + c.cancelled;
    return {
      cls: s.name !== null && s.name === view.sweep ? 'selected' : '',
      cells: [cell, progressBar(c, s.total || 1), finished + ' / ' + s.total, c.done, pruned, c.failed,
              c.cancelled, c.assigned, c.new, c.held,
              s.perMinute === null ? '' : fmt(s.perMinute),
              s.etaS === null ? (c.new + c.assigned ? '?' : '') : fmtAge(s.etaS * 1000)],
    };
  });
  fill($('sweeps'), ['sweep', 'progress', 'finished', 'done', 'pruned', 'failed', 'cancelled', 'running',
                     'queued', 'held', 'per min', 'time left'], rows, 'no jobs yet');
  const head = $('sweeps').querySelector('th');
  if (head) { head.textContent = ''; head.append(el('span', 'sweep ('), all, el('span', ')')); }
  renderCursorPager($('sweeps-pager'), p);
}

// The parameters shown as columns: those that vary in the chosen sweep, or
// (all sweeps) among the rows shown.
function varyingParams(rows) {
  const s = view.sweep && sweeps.find(x => x.name === view.sweep);
  if (s) return s.params.filter(p => p.varying).map(p => p.name);
  const seen = new Map();
  rows.forEach(r => Object.keys(r.params || {}).forEach(k => {
    const v = JSON.stringify(r.params[k]);
    if (!seen.has(k)) seen.set(k, new Set());
    seen.get(k).add(v);
  }));
  return [...seen].filter(([k, vals]) => vals.size > 1 || rows.some(r => !(k in (r.params || {}))))
    .map(([k]) => k);
}

function setOptions(select, values, chosen, labels) {
  const want = values.map(String);
  const have = [...select.options].map(o => o.value);
  if (want.join('\u0000') !== have.join('\u0000')) {
    select.replaceChildren(...values.map((v, i) => {
      const o = el('option', labels ? labels[i] : v);
      o.value = v;
      return o;
    }));
  }
  select.value = chosen;
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(fmt(a)).localeCompare(String(fmt(b)), undefined, { numeric: true });
}

// The parameter the table is sorted by ({name, dir}), or null: by the key.
function paramSort() {
  const [col, dir] = view.sort.split(':');
  return col && col.startsWith('p.') ? { name: col.slice(2), dir: dir === 'desc' ? 'desc' : 'asc' } : null;
}

async function loadResults() {
  const base = '/v1/results?key=' + encodeURIComponent(view.key) + '&order=' + view.order + sweepQuery();
  const p = pages.results, ps = paramSort();
  // a page within the runs plotted is cut from their answer: one ranking
  // of the done runs per refresh, not two
  const { data: all } = await getJSON(base + '&limit=' + PLOT_ROWS);
  // sorted by a parameter: the server orders every run of the sweep by it,
  // and this is one page of that order
  const page = ps
    ? (await getJSON('/v1/results?key=' + encodeURIComponent(view.key) + '&by=param&param=' +
                     encodeURIComponent(ps.name) + '&order=' + ps.dir + sweepQuery() +
                     '&limit=' + RESULTS_PAGE + '&offset=' + p.offset)).data
    : p.offset + RESULTS_PAGE <= PLOT_ROWS
    ? Object.assign({}, all, { offset: p.offset, rows: all.rows.slice(p.offset, p.offset + RESULTS_PAGE) })
    : (await getJSON(base + '&limit=' + RESULTS_PAGE + '&offset=' + p.offset)).data;
  // the curves: the runs ticked (in the URL), else the best three (by the key)
  const ids = view.runs.length ? view.runs : (ps ? all.rows : page.rows).slice(0, 3).map(r => r.id);
  const done = new Set(all.rows.map(r => r.id).concat(page.rows.map(r => r.id)));
  const series = await Promise.all(ids.map(id => loadSeries(id, done.has(id))));
  return () => {
    renderResults(page, all, p);
    const rank = new Map(all.rows.concat(page.rows).map(r => [r.id, r.rank]));
    const n = drawCurves('curves', ids.map((id, i) => ({ id, rank: rank.get(id), points: series[i] })));
    $('curves-of').textContent = view.runs.length ? 'of the runs ticked' : 'of the best ' + ids.length + ' (tick rows to choose)';
    $('curves-note').textContent = n ? n + ' of ' + ids.length + ' runs printed a series (JSON lines with "epoch" or "step")'
                                     : 'no series: a script prints one JSON line per epoch, e.g. {"epoch": 1, "loss": 0.4}';
  };
}

function renderResults(page, all, p) {
  p.total = page.total;
  const params = varyingParams(all.rows.length ? all.rows : page.rows);
  const keys = page.keys.length ? page.keys : [view.key];
  if (!keys.includes(view.key)) keys.unshift(view.key);
  const ps = paramSort();
  $('results-of').textContent = (view.sweep ? 'of sweep ' + view.sweep : 'of all sweeps') + ' \u2014 ' +
    (ps ? page.total + ' done runs ordered by ' + ps.name + ', ' + (ps.dir === 'asc' ? 'lowest' : 'highest') +
          ' first' + (page.missing ? ' (' + page.missing + ' without it, last)' : '') +
          '; the best by ' + view.key + ' highlighted'
        : page.total + ' done runs report ' + view.key + ', ranked ' +
          (view.order === 'asc' ? 'lowest' : 'highest') + ' first') +
    (page.pruned ? ' (' + page.pruned + ' pruned left out)' : '');
  setOptions($('key'), keys, view.key);
  // by default the first parameter that takes two values among the runs
  // plotted (one that only some jobs have may take one)
  const rowsFor = all.rows.length ? all.rows : page.rows;
  const spread = n => new Set(rowsFor.filter(r => r.params && n in r.params)
    .map(r => JSON.stringify(r.params[n]))).size > 1;
  const param = view.param && params.includes(view.param) ? view.param
    : (params.find(spread) || params[0] || '');
  setOptions($('param'), params.length ? params : [''], param, params.length ? null : ['(no parameter varies)']);

  // the table: one page in the server's order, by the key or (a
  // parameter column clicked) by that parameter across every run
  const rows = page.rows;
  const [scol, sdir] = ps ? ['p.' + ps.name, ps.dir] : ['', ''];
  const bestId = all.rows.length && all.rows[0].rank === 1 ? all.rows[0].id : '';
  const mark = (col, dir) => col === scol ? (dir === 'desc' ? ' \u25bc' : ' \u25b2') : '';
  const head = [{ label: 'rank' }, { label: 'job' }, { label: 'curve', title: 'draw its learning curve below' }];
  params.forEach(n => head.push({
    label: n + mark('p.' + n, sdir), cls: 'param',
    title: 'order every run by ' + n,
    onclick: () => go({ sort: 'p.' + n + ':' + (scol === 'p.' + n && sdir !== 'desc' ? 'desc' : 'asc') }),
  }));
  keys.forEach(k => head.push({
    label: k + (k === view.key && !scol.startsWith('p.') ? (view.order === 'desc' ? ' \u25bc' : ' \u25b2') : ''),
    cls: 'key', title: 'rank every run by ' + k,
    onclick: () => go({ key: k, sort: '', order: k === view.key && view.order === 'asc' ? 'desc' : 'asc' }),
  }));
  fill($('results'), head, rows.map(r => ({
    id: r.id,
    cls: r.id === bestId ? 'best' : '',
    cells: [r.rank, jobLink(r.id), curveBox(r.id)].concat(params.map(n => (r.params || {})[n]),
      keys.map(k => (r.outcome || {})[k])),
  })), ps ? 'no done run yet' : 'no done run reports "' + view.key + '" yet');
  const pager = $('results-pager');
  const prev = button('previous', async () => { p.offset = Math.max(0, p.offset - RESULTS_PAGE); await refresh(); });
  const next = button('next', async () => { p.offset += RESULTS_PAGE; await refresh(); });
  prev.disabled = p.offset === 0;
  next.disabled = p.offset + RESULTS_PAGE >= p.total;
  pager.replaceChildren(prev, el('span', ' ' + (p.total ? p.offset + 1 : 0) + '\u2013' +
    Math.min(p.total, p.offset + RESULTS_PAGE) + ' of ' + p.total + ' ', 'muted'), next);
  plot(all.rows, param);
  return page.rows;
}

function plot(rows, param) {
  const note = $('plot-note');
  if (typeof Chart === 'undefined') { note.textContent = 'Chart.js did not load: no plot'; return; }
  const pts = rows.filter(r => param && r.params && param in r.params && isFinite(r.value));
  const numeric = pts.every(r => typeof r.params[param] === 'number');
  const data = pts.map(r => ({ x: numeric ? r.params[param] : fmt(r.params[param]), y: r.value, id: r.id, rank: r.rank }));
  const labels = numeric ? undefined : [...new Set(data.map(d => d.x))].sort((a, b) => compare(a, b));
  const x = numeric ? { type: 'linear', title: { display: true, text: param } }
                    : { type: 'category', labels, offset: true, title: { display: true, text: param + ' (categories)' } };
  const y = { type: 'linear', title: { display: true, text: view.key } };
  const colors = data.map(d => d.rank === 1 ? '#d9480f' : 'rgba(51, 102, 204, 0.7)');
  note.textContent = param ? data.length + ' runs (the best ' + PLOT_ROWS + ' at most); the best in orange; click a point for its job'
                           : 'no parameter varies: nothing to plot against';
  if (!chart) {
    chart = new Chart($('plot'), {
      type: 'scatter',
      data: { datasets: [{ data, pointBackgroundColor: colors, pointRadius: 4 }] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x, y },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: c => '#' + c.raw.rank + ' ' + c.raw.id + ': ' + fmt(c.raw.x) + ', ' + fmt(c.raw.y) } },
        },
        onClick: (e, els) => { if (els.length) go({ job: chart.data.datasets[0].data[els[0].index].id }, true); },
      },
    });
  } else {
    chart.options.scales.x = x;
    chart.options.scales.y = y;
    chart.data.datasets[0].data = data;
    chart.data.datasets[0].pointBackgroundColor = colors;
    chart.update('none');
  }
}

async function loadOrders(state, table, pagerDiv, p, columns, extra) {
  const { data, next } = await getJSON(withCursor('/v1/orders?state=' + state + '&limit=' + PAGE +
                                                  sweepQuery() + (extra || ''), p));
  const render = () => {
    p.next = next;
    fill($(table), columns.map(c => c[0]), data.map(o => ({ id: o._id, cells: columns.map(c => c[1](o)) })));
    renderCursorPager($(pagerDiv), p);
  };
  render.data = data;
  return render;
}

// The workers with what each one runs: one page of the running orders
// (WORKER_RUNS at most, whatever the running table's pager shows).
async function loadWorkers() {
  const [{ data }, { data: running, next }] = await Promise.all([
    getJSON('/v1/workers'), getJSON('/v1/orders?state=assigned&after=&limit=' + WORKER_RUNS)]);
  return () => renderWorkers(data, running, !!next);
}

// A worker is gone when not seen for two of its heartbeats; one whose last
// record says it exited is shown so.
function workerState(w, now) {
  const age = now - Date.parse(w.lastSeen);
  if (w.state === 'exited') return 'exited (' + fmt(w.exitCode) + ')';
  return age <= 2000 * (Number(w.heartbeatS) || HEARTBEAT_S) ? 'alive' : 'gone';
}

function renderWorkers(data, running, more) {
  const now = Date.now();
  const runs = new Map();
  running.forEach(o => { if (!runs.has(o.worker)) runs.set(o.worker, []); runs.get(o.worker).push(o._id); });
  data.sort((a, b) => compare(a.name, b.name));
  fill($('workers'), ['worker', 'host', 'mode', 'slots', 'running now', 'done', 'failed', 'last seen', 'state'],
    data.map(w => {
      const age = now - Date.parse(w.lastSeen), st = workerState(w, now);
      const ids = runs.get(w.name) || [], cell = el('span');
      ids.forEach((id, i) => { if (i) cell.append(el('span', ' ')); cell.append(jobLink(id)); });
      if (!ids.length) cell.textContent = more ? '(not in the first ' + WORKER_RUNS + ' running)' : 'idle';
      return {
        id: w.name,
        cls: st === 'alive' ? '' : 'gone',
        cells: [w.name, w.host, w.mode, w.slots, cell, w.completed, w.failed,
                isFinite(age) ? fmtAge(age) + ' ago' : fmt(w.lastSeen), st],
      };
    }), 'no worker has registered');
}

async function requeueAllFailed() {
  const ids = [];
  let after = null;
  do {   // collect first: requeueing changes the listing being paged
    const { data, next } = await getJSON('/v1/orders?state=failed&limit=1000' + sweepQuery() +
                                         (after ? '&after=' + encodeURIComponent(after) : ''));
    data.forEach(o => ids.push(o._id));
    after = data.length ? next : null;
  } while (after);
  let ok = 0;
  for (const id of ids) if ((await act(id, 'requeue')).ok) ok++;
  setStatus('requeued ' + ok + ' of ' + ids.length + ' failed job' + (ids.length === 1 ? '' : 's') +
            (view.sweep ? ' of sweep ' + view.sweep : ''));
  pages.failed = cursorPager();
  await refresh();
}

// A page of the queue costs the server a walk of new/ (about 2 s with a
// million queued): with a long queue it is asked every QUEUE_SLOW_MS only,
// or when its pager or the sweep changed.
const QUEUE_LONG = 100000, QUEUE_SLOW_MS = 15000;
let queuedAt = 0, queuedKey = '', queuedDraw = null;

function loadQueued(columns) {
  const queued = sweeps.reduce((n, s) => n + s.counts.new, 0);
  const key = view.sweep + '\u0000' + pages.queued.i + '\u0000' + pages.queued.cursors[pages.queued.i];
  if (queuedDraw && key === queuedKey && queued > QUEUE_LONG && Date.now() - queuedAt < QUEUE_SLOW_MS)
    return Promise.resolve(queuedDraw);
  return loadOrders('new', 'queued', 'queued-pager', pages.queued, columns).then(d => {
    queuedAt = Date.now();
    queuedKey = key;
    queuedDraw = d;
    return d;
  });
}

async function loadBoard() {
  const running = loadOrders('assigned', 'running', 'running-pager', pages.running, [
    ['job', o => jobLink(o._id)], ['worker', o => o.worker], ['attempt', o => o.attempt + ' / ' + o.maxAttempts],
    ['lease until', o => o.leaseDeadline], ['', o => actionButton(o._id, 'cancel')]]);
  const draw = await Promise.all([
    loadSweeps(),
    loadResults(),
    running,
    loadOrders('failed', 'failed', 'failed-pager', pages.failed, [
      ['job', o => jobLink(o._id)], ['reason', o => (o.reason || '') + (o.stderrLast ? ' \u2014 ' + o.stderrLast : '')], ['attempts', o => o.attempt + ' / ' + o.maxAttempts],
      ['', o => actionButton(o._id, 'requeue')]], '&reason=1'),
    loadQueued([
      ['job', o => jobLink(o._id)], ['priority', o => o.priority], ['attempts used', o => o.attempt],
      ['due', o => o.due], ['', o => actionButton(o._id, 'hold')], ['', o => actionButton(o._id, 'cancel')]]),
    loadWorkers(),
  ]);
  draw.forEach(d => d());   // the sweeps first: the results' columns use them
  $('requeue-failed').textContent = 'requeue all failed' + (view.sweep ? ' of ' + view.sweep : '');
}

// ---- a job's page ---------------------------------------------------------------

function kvTable(table, obj, empty) {
  const rows = obj ? Object.keys(obj).map(k => ({ cells: [k, obj[k]] })) : [];
  fill(table, ['field', 'value'], rows, empty);
}

// The job's log. While an attempt runs, it is followed live: each refresh
// asks for what came after the bytes already shown (GET .../log?attempt=A
// &offset=N); otherwise every attempt's log, whole (GET .../log), asked
// again only when the order changed.
const live = { id: '', attempt: 0, offset: 0, text: '', dec: null };
let logKey = '', logText = '';

async function loadLog(id, order) {
  if (order && order.state === 'assigned') {
    if (live.id !== id || live.attempt !== order.attempt)
      Object.assign(live, { id, attempt: order.attempt, offset: 0, text: '', dec: new TextDecoder() });
    const r = await api('/v1/orders/' + id + '/log?attempt=' + order.attempt + '&offset=' + live.offset);
    if (r.status === 416) {          // the log was replaced: from the start
      Object.assign(live, { offset: 0, text: '', dec: new TextDecoder() });
    } else if (r.ok) {
      const b = new Uint8Array(await r.arrayBuffer());
      live.offset += b.byteLength;
      live.text += live.dec.decode(b, { stream: true });
    }
    return { text: '=== attempt ' + order.attempt + ' ===\n' + live.text, live: true };
  }
  live.id = '';
  const key = id + ' ' + (order ? order.state + ' ' + order.attempt : '');
  if (key !== logKey) {
    const r = await api('/v1/orders/' + id + '/log');
    logText = r.ok ? await r.text() : '';
    logKey = key;
  }
  return { text: logText, live: false };
}

const ms = v => (typeof v !== 'number' ? '' : v < 10000 ? v + ' ms' : fmtAge(v));

async function loadJob(id) {
  const { data: order } = await getJSON('/v1/orders/' + id, true);
  const ended = order && !['new', 'assigned'].includes(order.state);
  const [{ data: job }, { data: outcome }, { data: attempts }, { data: artifacts }, logged, points] = await Promise.all([
    getJSON('/v1/jobs/' + id, true), getJSON('/v1/outcomes/' + id, true),
    getJSON('/v1/orders/' + id + '/attempts', true), getJSON('/v1/jobs/' + id + '/artifacts', true),
    loadLog(id, order), loadSeries(id, ended)]);
  const log = logged.text;
  if (id !== view.job) return;     // the view moved on meanwhile
  $('job-id').textContent = id;
  $('job-state').textContent = order ? order.state : 'unknown';
  $('job-state').className = 'state ' + (order ? order.state : '');
  const params = {};
  if (job) Object.keys(job).forEach(k => { if (k !== '_id' && k !== 'spool') params[k] = job[k]; });
  kvTable($('job-params'), job ? params : null, 'no such job');
  const out = {};
  if (outcome) Object.keys(outcome).forEach(k => { if (k !== '_run') out[k] = outcome[k]; });
  kvTable($('job-outcome'), outcome ? out : null, 'no outcome filed');
  const run = outcome && outcome._run;
  kvTable($('job-run'), run || null, 'no run record (no attempt has finished)');
  const ord = {};
  if (order) ['state', 'attempt', 'maxAttempts', 'priority', 'worker', 'createdDate', 'due', 'leaseDeadline', 'tags']
    .forEach(k => { if (k in order) ord[k] = order[k]; });
  if (job && job.spool) ord.options = job.spool;
  kvTable($('job-order'), order ? ord : null, 'no such order');
  // the attempts: one row per outcome filed (the spool keeps each), with
  // the size of that attempt's log; the attempt running now last
  const parts = log.split(/^=== attempt (\d+) ===\n?/m), logOf = new Map();
  for (let i = 1; i < parts.length; i += 2) logOf.set(Number(parts[i]), (parts[i + 1] || '').length);
  const att = (attempts || []).map(a => {
    const r = a.run || {};
    const blank = v => (v === null ? '' : v);
    return { cells: [a.attempt, a.filedAt, blank(a.status), blank(a.error), r.worker, blank(r.exit), blank(r.signal),
                     ms(r.wallMs), ms(r.cpuMs), r.maxRssKb, logOf.has(a.attempt) ? logOf.get(a.attempt) + ' bytes' : ''] };
  });
  if (order && order.state === 'assigned')
    att.push({ cls: 'selected', cells: [order.attempt, 'running now', '', '', order.worker, '', '', '', '', '',
                                        logOf.has(order.attempt) ? logOf.get(order.attempt) + ' bytes' : ''] });
  fill($('job-attempts'), ['attempt', 'ended', 'status', 'error', 'worker', 'exit', 'signal', 'wall', 'CPU',
                           'max RSS kB', 'log'], att, 'no attempt has ended yet');
  // its artifacts (a link each: without a token the browser fetches it)
  fill($('job-artifacts'), ['name', 'bytes', 'sha256'], (artifacts || []).map(a => {
    const link = el('a', a.name);
    link.href = '/v1/jobs/' + id + '/artifacts/' + encodeURIComponent(a.name);
    link.download = a.name;
    return { cells: [link, a.size, a.sha256] };
  }), 'no artifacts kept');
  const n = drawCurves('job-curve', [{ id, points }]);
  $('job-curve-note').textContent = n ? points.length + ' points' : 'no series printed (JSON lines with "epoch" or "step")';
  $('job-log-live').textContent = logged.live ? '(live: the running attempt, as it arrives)' : '';
  const pre = $('job-log');
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  if (pre.textContent !== (log || '(no log yet)')) {
    pre.textContent = log || '(no log yet)';
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }
  const st = order ? order.state : '';
  document.querySelectorAll('#job-actions button').forEach(b => {
    const a = b.dataset.action;
    b.disabled = !order || !({
      cancel: ['new', 'held', 'assigned'], requeue: ['assigned', 'held', 'done', 'failed', 'cancelled'],
      hold: ['new'], release: ['held'] })[a].includes(st);
  });
}

// ---- refresh ---------------------------------------------------------------------

let busy = false, again = false;

async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    do {
      again = false;
      if (view.job) await loadJob(view.job); else await loadBoard();
    } while (again);
    showError(null);
    document.body.dataset.loaded = String(Date.now());   // for the browser test
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
  }
}

function show() {
  $('board-view').hidden = !!view.job;
  $('job-view').hidden = !view.job;
  document.title = view.job ? 'spool: job ' + view.job : view.sweep ? 'spool: ' + view.sweep : 'spool';
  refresh();
}

function init() {
  readURL();
  $('key').addEventListener('change', () => go({ key: $('key').value, sort: '' }));
  $('param').addEventListener('change', () => go({ param: $('param').value }));
  $('requeue-failed').addEventListener('click', () => requeueAllFailed().catch(showError));
  document.querySelectorAll('#job-actions button').forEach(b => b.addEventListener('click', async () => {
    const r = await act(view.job, b.dataset.action);
    setStatus(r.ok ? b.dataset.action + ': now ' + r.msg : b.dataset.action + ' refused (' + r.status + '): ' + r.msg);
    await refresh();
  }));
  $('back').addEventListener('click', e => { e.preventDefault(); go({ job: '' }, true); });
  $('home').addEventListener('click', e => { e.preventDefault(); go({ job: '', sweep: '', sort: '', param: '' }, true); });
  window.addEventListener('popstate', () => { readURL(); resetPages(); show(); });
  show();
  setInterval(refresh, REFRESH_MS);
}

init();
