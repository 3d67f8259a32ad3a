/* SPDX-License-Identifier: MIT */
/* collectd-alec fleet dashboard: two views over the plugin's JSON API
   (docs/DASHBOARD.md), no framework, no network access beyond the API.
   Every piece of data enters the DOM as text (textContent, attribute
   values), never as markup. */
'use strict';

(function () {
  const POLL_MS = 2000;
  const MAX_EVENTS_SHOWN = 100;
  const SVGNS = 'http://www.w3.org/2000/svg';

  let timer = null;
  let generation = 0; /* a view change invalidates the answers in flight */
  let lastFleet = null;
  let sortKey = 'state';
  let sortDir = -1;
  /* The fleet document comes in pages of the server's display order (worst
     first): #/?page=N&group=G select one; sorting applies within the page. */
  const PAGE = 200;
  let pageNo = 0;
  let pageGroup = null;

  /* ---------------------------------------------------------------- DOM */

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === 'onclick') e.addEventListener('click', v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  function s(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  /* ------------------------------------------------------------ formats */

  function fmtNum(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '\u2013';
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e7 || a < 1e-3)) return v.toExponential(2);
    return v.toLocaleString('en-US', { maximumFractionDigits: digits === undefined ? 2 : digits });
  }
  function fmtInt(v) {
    return v === null || v === undefined ? '\u2013' : Number(v).toLocaleString('en-US');
  }
  function fmtBytes(v) {
    if (v === null || v === undefined) return '\u2013';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : String(v)) + ' ' + u[i];
  }
  function fmtAge(sec) {
    if (sec === null || !isFinite(sec)) return '\u2013';
    if (sec < 0) sec = 0;
    if (sec < 60) return sec.toFixed(sec < 10 ? 1 : 0) + ' s ago';
    if (sec < 3600) return Math.floor(sec / 60) + ' min ago';
    if (sec < 86400) return (sec / 3600).toFixed(1) + ' h ago';
    return (sec / 86400).toFixed(1) + ' d ago';
  }
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  function fmtClock(t) {
    if (t === null || !isFinite(t)) return '\u2013';
    const d = new Date(t * 1000);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }
  function fmtDateTime(t) {
    if (t === null || !isFinite(t)) return '\u2013';
    const d = new Date(t * 1000);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + fmtClock(t);
  }
  function groupLabel(g) { return g === '' ? '(default group)' : g; }
  const STATE_RANK = { okay: 0, warning: 1, failure: 2 };

  function badge(e) {
    if (!e.active && e.state === 'okay') return h('span', { class: 'badge idle' }, 'idle');
    return h('span', { class: 'badge ' + e.state }, e.state === 'okay' ? 'ok' : e.state);
  }
  function emitterLink(id, text) { return h('a', { href: '#/emitter/' + id }, text); }

  /* ------------------------------------------------------------ polling */

  function setStatus(cls, text) {
    const st = document.getElementById('status');
    st.className = 'status ' + cls;
    st.textContent = text;
  }

  async function getJSON(path) {
    const r = await fetch(path, { cache: 'no-cache' });
    if (!r.ok) {
      let msg = 'HTTP ' + r.status;
      try { const j = await r.json(); if (j && j.error) msg += ': ' + j.error; } catch (e) { /* not JSON */ }
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  function schedule(fn) {
    clearTimeout(timer);
    timer = setTimeout(fn, POLL_MS);
  }

  function route() {
    generation++;
    clearTimeout(timer);
    const m = /^#\/emitter\/([0-9A-Za-z]+)$/.exec(location.hash);
    if (m) {
      loadEmitter(m[1], generation);
      return;
    }
    /* The fleet view's sort order lives in the URL (#/?sort=host&dir=asc),
       so a sorted view can be bookmarked and shared. */
    const q = /[?&]sort=([a-z_]+)(?:&dir=(asc|desc))?/.exec(location.hash);
    if (q && COLUMNS.some(c => c.key === q[1] && !c.nosort)) {
      sortKey = q[1];
      sortDir = q[2] === 'asc' ? 1 : -1;
    }
    const pg = /[?&]page=([0-9]{1,6})(?:&|$)/.exec(location.hash);
    pageNo = pg ? parseInt(pg[1], 10) : 0;
    const gr = /[?&]group=([^&]*)/.exec(location.hash);
    pageGroup = null;
    if (gr) { try { pageGroup = decodeURIComponent(gr[1]); } catch (e) { pageGroup = null; } }
    loadFleet(generation);
  }

  async function loadFleet(gen) {
    try {
      const f = await getJSON('api/fleet?offset=' + pageNo * PAGE + '&limit=' + PAGE +
        (pageGroup !== null ? '&group=' + encodeURIComponent(pageGroup) : ''));
      if (gen !== generation) return;
      lastFleet = f;
      renderFleet(f);
      setStatus('live', 'live \u00b7 snapshot ' + f.seq + ' at ' + fmtClock(f.time));
    } catch (e) {
      if (gen !== generation) return;
      setStatus(lastFleet ? 'stale' : 'error', (lastFleet ? 'stale: ' : '') + e.message);
    }
    if (gen === generation) schedule(() => loadFleet(gen));
  }

  async function loadEmitter(id, gen) {
    try {
      const d = await getJSON('api/emitters/' + encodeURIComponent(id));
      if (gen !== generation) return;
      renderEmitter(d);
      setStatus('live', 'live \u00b7 snapshot ' + d.seq + ' at ' + fmtClock(d.time));
    } catch (e) {
      if (gen !== generation) return;
      if (e.status === 404) renderMissing(id);
      setStatus('error', e.message);
    }
    if (gen === generation) schedule(() => loadEmitter(id, gen));
  }

  function setView(name, crumbs, content) {
    document.body.setAttribute('data-view', name);
    const c = document.getElementById('crumb');
    c.replaceChildren(...crumbs);
    const v = document.getElementById('view');
    v.replaceChildren(...content);
  }

  /* ---------------------------------------------------------- fleet view */

  function card(k, v, sub, cls) {
    if (!/^[-0-9.,\u2013 \/\u00d7KMGTiB%]+$/.test(v)) cls = (cls ? cls + ' ' : '') + 'txt';
    return h('div', { class: 'card' + (cls ? ' ' + cls : '') },
      h('div', { class: 'k' }, k), h('div', { class: 'v' }, v), sub ? h('div', { class: 's' }, sub) : null);
  }

  const COLUMNS = [
    { key: 'state', label: 'State', get: e => STATE_RANK[e.state] * 1e6 + (e.score || 0) },
    { key: 'host', label: 'Host', get: e => e.host.toLowerCase() },
    { key: 'id', label: 'Emitter id', get: e => e.id },
    { key: 'last_seen', label: 'Last seen', get: e => e.last_seen, num: true },
    { key: 'frames', label: 'Frames', get: e => e.frames, num: true },
    { key: 'bytes', label: 'Bytes', get: e => e.bytes, num: true },
    { key: 'compression_ratio', label: 'Ratio', get: e => e.compression_ratio, num: true },
    { key: 'gaps', label: 'Gaps', get: e => e.gaps, num: true },
    { key: 'errors', label: 'Errors', get: e => e.errors, num: true },
    { key: 'score', label: 'Max |z|', get: e => e.score, num: true },
    { key: 'channels', label: 'Channels (state, z)', get: e => e.channels.length, nosort: true },
  ];

  function sortedEmitters(list) {
    const col = COLUMNS.find(c => c.key === sortKey) || COLUMNS[0];
    const out = list.slice();
    out.sort((a, b) => {
      let x = col.get(a), y = col.get(b);
      if (x === null || x === undefined) x = -Infinity;
      if (y === null || y === undefined) y = -Infinity;
      if (x < y) return -sortDir;
      if (x > y) return sortDir;
      /* Ties: worst first, then the host name. */
      const r = STATE_RANK[b.state] - STATE_RANK[a.state];
      return r || a.host.localeCompare(b.host);
    });
    return out;
  }

  function fleetHash(page, group) {
    return '#/?sort=' + sortKey + '&dir=' + (sortDir < 0 ? 'desc' : 'asc') + (page ? '&page=' + page : '') +
      (group !== null ? '&group=' + encodeURIComponent(group) : '');
  }

  function pager(p) {
    if (!p) return null;
    const first = p.count ? p.offset + 1 : 0, last = p.offset + p.count;
    const pages = Math.max(1, Math.ceil(p.total / PAGE));
    return h('div', { class: 'pager', id: 'pager' },
      'Emitters ' + fmtInt(first) + '\u2013' + fmtInt(last) + ' of ' + fmtInt(p.total) +
        (p.group !== null ? ' in group ' + groupLabel(p.group) : '') + ' (worst first) \u00b7 ',
      pageNo > 0 ? h('a', { href: fleetHash(pageNo - 1, pageGroup) }, '\u2190 previous') : null,
      pageNo > 0 && pageNo + 1 < pages ? ' \u00b7 ' : null,
      pageNo + 1 < pages ? h('a', { href: fleetHash(pageNo + 1, pageGroup) }, 'next \u2192') : null,
      pageGroup !== null ? [' \u00b7 ', h('a', { href: fleetHash(0, null) }, 'all groups')] : null);
  }

  function headerRow() {
    return h('tr', null, COLUMNS.map(c => {
      const sorted = c.key === sortKey;
      const cls = (c.num ? 'num ' : '') + (c.nosort ? '' : 'sortable ') + (sorted ? 'sorted' : '');
      return h('th', {
        class: cls.trim(), 'data-key': c.key, title: c.nosort ? null : 'sort by ' + c.label,
        onclick: c.nosort ? null : () => {
          if (sortKey === c.key) sortDir = -sortDir;
          else { sortKey = c.key; sortDir = c.num || c.key === 'state' ? -1 : 1; }
          history.replaceState(null, '', fleetHash(pageNo, pageGroup));
          if (lastFleet) renderFleet(lastFleet);
        }
      }, c.label, sorted ? h('span', { class: 'arrow' }, sortDir < 0 ? '\u25bc' : '\u25b2') : null);
    }));
  }

  function channelChips(e) {
    const bad = e.channels.filter(c => c.state !== 'okay');
    const shown = bad.length ? bad : e.channels.slice(0, 3);
    const chips = shown.map(c => h('span', { class: 'chip ' + c.state, title: c.state },
      c.name + (c.score !== null ? ' z ' + fmtNum(c.score, 1) : '')));
    const rest = e.channels.length - shown.length;
    if (rest > 0) chips.push(h('span', { class: 'muted' }, '+' + rest + (bad.length ? ' ok' : '')));
    return chips;
  }

  function emitterRow(e, now) {
    return h('tr', {
      class: 'emitter state-' + e.state + (e.active ? '' : ' inactive'),
      'data-id': e.id, 'data-host': e.host, 'data-state': e.state
    },
      h('td', null, badge(e)),
      h('td', { class: 'host' }, emitterLink(e.id, e.host)),
      h('td', { class: 'id' }, e.id),
      h('td', { class: 'num', title: fmtDateTime(e.last_seen) }, fmtAge(now - e.last_seen)),
      h('td', { class: 'num' }, fmtInt(e.frames)),
      h('td', { class: 'num' }, fmtBytes(e.bytes)),
      h('td', { class: 'num' }, e.compression_ratio === null ? '\u2013' : fmtNum(e.compression_ratio, 1) + '\u00d7'),
      h('td', { class: 'num' }, fmtInt(e.gaps)),
      h('td', { class: 'num' }, fmtInt(e.errors)),
      h('td', { class: 'num' }, e.channels.some(c => c.score !== null) ? fmtNum(e.score, 1) : '\u2013'),
      h('td', { class: 'wrap' }, channelChips(e)));
  }

  function bandText(b, zEnter) {
    return h('span', { class: 'bandchip' }, b.name + ': median ', h('b', null, fmtNum(b.median)),
      ', band ', h('b', null, fmtNum(b.lo) + ' \u2026 ' + fmtNum(b.hi)),
      ' (\u00b1' + fmtNum(zEnter, 1) + ' MAD/0.6745, MAD ' + fmtNum(b.mad, 3) + ', ' + b.peers + ' peers)');
  }

  function eventRows(events, now, withHost) {
    return events.slice(0, MAX_EVENTS_SHOWN).map(ev => h('tr', { class: 'event' },
      h('td', { title: fmtDateTime(ev.time) }, fmtClock(ev.time), h('span', { class: 'muted' }, ' (' + fmtAge(now - ev.time) + ')')),
      h('td', null, ev.kind === 'shift' ? 'fleet shift ' + ev.transition : ev.transition),
      h('td', { class: 'sev-' + ev.severity }, ev.severity === 'okay' ? 'back to normal' : ev.severity),
      withHost ? h('td', null, ev.id ? emitterLink(ev.id, ev.host) : h('span', { class: 'muted' }, 'whole group')) : null,
      withHost ? h('td', null, groupLabel(ev.group)) : null,
      h('td', null, ev.name),
      h('td', { class: 'num' }, fmtNum(ev.value)),
      h('td', { class: 'num' }, fmtNum(ev.median)),
      h('td', { class: 'num' }, fmtNum(ev.score, 1)),
      h('td', null, ev.reason.join(', '))));
  }

  function eventsPanel(title, events, total, now, withHost) {
    const head = h('tr', null, h('th', null, 'Time'), h('th', null, 'Transition'), h('th', null, 'Severity'),
      withHost ? h('th', null, 'Emitter') : null, withHost ? h('th', null, 'Group') : null,
      h('th', null, 'Channel'), h('th', { class: 'num' }, 'Value'), h('th', { class: 'num' }, 'Fleet median'),
      h('th', { class: 'num' }, 'z'), h('th', null, 'Reason'));
    return h('section', { class: 'panel', id: 'events' },
      h('h2', null, title, h('span', { class: 'meta' },
        events.length ? (total > events.length ? 'latest ' + Math.min(events.length, MAX_EVENTS_SHOWN) + ' of ' + fmtInt(total) : fmtInt(events.length) + ' kept') : 'none yet')),
      events.length ? h('table', null, h('thead', null, head), h('tbody', null, eventRows(events, now, withHost)))
        : h('p', { class: 'empty' }, 'No anomaly has been entered or left since the plugin started.'));
  }

  function renderFleet(f) {
    const st = f.stats;
    const now = f.time;
    const anomalous = f.emitters.filter(e => e.state !== 'okay');
    const cards = h('div', { class: 'cards' },
      card('Emitters', fmtInt(st.active) + ' / ' + fmtInt(st.emitters), 'active / known'),
      card('Anomalous', fmtInt(st.anomalous), 'emitters now', st.anomalous ? 'bad' : ''),
      card('Fleet shifts', fmtInt(st.shifts_active), fmtInt(st.shift_events) + ' since start', st.shifts_active ? 'warnc' : ''),
      card('Groups', fmtInt(f.groups.length), 'with emitters'),
      card('Frames', fmtInt(st.frames), fmtInt(st.values) + ' values'),
      card('Received', fmtBytes(st.bytes), fmtBytes(st.raw_bytes) + ' as float64'),
      card('Compression', st.compression_ratio === null ? '\u2013' : fmtNum(st.compression_ratio, 2) + '\u00d7', 'vs 8 bytes per value'),
      card('Lost frames', fmtInt(st.gaps), fmtInt(st.resyncs) + ' resyncs', st.gaps ? 'warnc' : ''),
      card('Decode errors', fmtInt(st.decode_errors), fmtInt(st.rejected_emitters) + ' refused (MaxEmitters)', st.decode_errors ? 'warnc' : ''),
      card('Anomaly entries', fmtInt(st.anomaly_entries), fmtInt(st.anomaly_exits) + ' exits'),
      card('Evaluations', fmtInt(st.evaluations), 'z \u2265 ' + fmtNum(f.config.z_enter, 1) + ' enters'),
      card('Memory', fmtBytes(st.memory), fmtBytes(st.history_memory) + ' chart history'));

    const alert = anomalous.length
      ? h('div', { class: 'alertbar', id: 'anomalous' }, h('b', null, anomalous.length + ' anomalous: '),
        anomalous.slice(0, 20).map((e, i) => [i ? ', ' : '', emitterLink(e.id, e.host),
          ' (' + e.state + (e.score ? ', |z| ' + fmtNum(e.score, 1) : '') + ')']),
        anomalous.length > 20 ? ' \u2026' : '')
      : h('div', { class: 'alertbar okbar', id: 'anomalous' }, 'No emitter deviates from its fleet.');

    const byGroup = new Map();
    for (const g of f.groups) byGroup.set(g.name, []);
    for (const e of f.emitters) {
      if (!byGroup.has(e.group)) byGroup.set(e.group, []);
      byGroup.get(e.group).push(e);
    }
    /* Groups without an emitter on this page are left out (their counts
       are in the cards and on the pages that hold them). */
    const groups = f.groups.filter(g => (byGroup.get(g.name) || []).length > 0 || (f.page && !f.page.total))
      .sort((a, b) => (b.anomalous - a.anomalous) || a.name.localeCompare(b.name));
    const sections = groups.map(g => {
      const list = sortedEmitters(byGroup.get(g.name) || []);
      return h('section', { class: 'panel group', 'data-group': g.name },
        h('h2', null, h('a', { href: fleetHash(0, g.name), title: 'only this group' }, 'Group ' + groupLabel(g.name)),
          h('span', { class: 'meta' },
          g.emitters + ' emitters \u00b7 ' + g.active + ' active \u00b7 ',
          h('span', { class: g.anomalous ? 'sev-failure' : '' }, g.anomalous + ' anomalous'))),
        g.bands.length ? h('div', { class: 'bands' }, g.bands.map(b => bandText(b, f.config.z_enter)))
          : h('div', { class: 'bands' }, 'No fleet band yet (needs ' + f.config.min_peers + ' active peers per channel).'),
        h('table', { class: 'emitters' }, h('thead', null, headerRow()),
          h('tbody', null, list.map(e => emitterRow(e, now)))));
    });
    if (!groups.length) sections.push(h('p', { class: 'empty' }, 'No emitter has sent a frame yet.'));

    setView('fleet', [h('span', null, 'fleet overview')],
      [cards, alert, pager(f.page), ...sections, eventsPanel('Recent anomaly events', f.events, f.events_total, now, true)]);
    document.body.setAttribute('data-seq', f.seq);
  }

  /* -------------------------------------------------------- emitter view */

  function niceStep(span, n) {
    const raw = span / Math.max(1, n);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  /* One SVG chart: the fleet band, the min-max range and the mean of each
     interval, with the intervals spent in WARNING / FAILURE shaded. */
  function chart(ch, interval) {
    const W = 1200, H = 260, L = 62, R = 14, T = 12, B = 26;
    const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'history of ' + ch.name });
    const hs = ch.history;
    const n = hs.t.length;
    if (!n) {
      const t = s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'nodata' });
      t.textContent = ch.charted ? 'no values yet' : 'no history kept for this channel (history memory limit)';
      svg.appendChild(t);
      return svg;
    }
    let y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      for (const v of [hs.min[i], hs.max[i], hs.lo[i], hs.hi[i]])
        if (v !== null && isFinite(v)) { y0 = Math.min(y0, v); y1 = Math.max(y1, v); }
    }
    if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
    const padY = (y1 - y0) * 0.06;
    y0 -= padY; y1 += padY;
    const t0 = hs.t[0], t1 = Math.max(hs.t[n - 1] + interval, t0 + interval);
    const X = t => L + (t - t0) / (t1 - t0) * (W - L - R);
    const Y = v => T + (y1 - v) / (y1 - y0) * (H - T - B);

    /* grid and axes */
    const grid = s('g', { class: 'axis' });
    const ys = niceStep(y1 - y0, 5);
    for (let v = Math.ceil(y0 / ys) * ys; v <= y1; v += ys) {
      grid.appendChild(s('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' }));
      const t = s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' });
      t.textContent = fmtNum(Math.abs(v) < ys / 1e6 ? 0 : v, 3);
      grid.appendChild(t);
    }
    const xs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
      .find(st => (t1 - t0) / st <= 8) || 86400;
    for (let t = Math.ceil(t0 / xs) * xs; t <= t1; t += xs) {
      grid.appendChild(s('line', { x1: X(t), x2: X(t), y1: T, y2: H - B, class: 'grid' }));
      if (X(t) > W - R - 30 || X(t) < L + 20) continue; /* a label there would be cut */
      const tx = s('text', { x: X(t), y: H - 8, 'text-anchor': 'middle' });
      tx.textContent = fmtClock(t);
      grid.appendChild(tx);
    }
    svg.appendChild(grid);

    /* anomaly shading: one rectangle per run of equal non-normal state */
    for (let i = 0; i < n;) {
      const stt = hs.state[i];
      let j = i;
      while (j + 1 < n && hs.state[j + 1] === stt && hs.t[j + 1] - hs.t[j] < 1.5 * interval) j++;
      if (stt > 0) {
        const x = X(hs.t[i]), x2 = X(hs.t[j] + interval);
        svg.appendChild(s('rect', { x: x, y: T, width: Math.max(1, x2 - x), height: H - T - B,
          class: stt >= 2 ? 'shade-failure' : 'shade-warning', 'data-state': stt >= 2 ? 'failure' : 'warning' }));
      }
      i = j + 1;
    }

    /* runs of consecutive points (a silent interval breaks the lines) */
    function runs(ok) {
      const out = [];
      let cur = [];
      for (let i = 0; i < n; i++) {
        if (!ok(i) || (cur.length && hs.t[i] - hs.t[cur[cur.length - 1]] > 1.5 * interval)) {
          if (cur.length) out.push(cur);
          cur = [];
        }
        if (ok(i)) cur.push(i);
      }
      if (cur.length) out.push(cur);
      return out;
    }
    const mid = i => X(hs.t[i] + interval / 2);
    function area(lo, hi, cls) {
      for (const r of runs(i => lo[i] !== null && hi[i] !== null)) {
        let d = '';
        r.forEach((i, k) => { d += (k ? 'L' : 'M') + X(hs.t[i]).toFixed(1) + ' ' + Y(hi[i]).toFixed(1) + 'L' + X(hs.t[i] + interval).toFixed(1) + ' ' + Y(hi[i]).toFixed(1); });
        for (let k = r.length - 1; k >= 0; k--) { const i = r[k]; d += 'L' + X(hs.t[i] + interval).toFixed(1) + ' ' + Y(lo[i]).toFixed(1) + 'L' + X(hs.t[i]).toFixed(1) + ' ' + Y(lo[i]).toFixed(1); }
        svg.appendChild(s('path', { d: d + 'Z', class: cls }));
      }
    }
    function line(vals, cls, step) {
      for (const r of runs(i => vals(i) !== null)) {
        let d = '';
        r.forEach((i, k) => {
          if (step) d += (k ? 'L' : 'M') + X(hs.t[i]).toFixed(1) + ' ' + Y(vals(i)).toFixed(1) + 'L' + X(hs.t[i] + interval).toFixed(1) + ' ' + Y(vals(i)).toFixed(1);
          else d += (k ? 'L' : 'M') + mid(i).toFixed(1) + ' ' + Y(vals(i)).toFixed(1);
        });
        if (!step && r.length === 1) d += 'l0.1 0';
        svg.appendChild(s('path', { d: d, class: cls }));
      }
    }
    area(hs.lo, hs.hi, 'band');
    line(i => hs.hi[i], 'bandedge', true);
    line(i => hs.lo[i], 'bandedge', true);
    line(i => (hs.lo[i] === null || hs.hi[i] === null) ? null : (hs.lo[i] + hs.hi[i]) / 2, 'median', true);
    area(hs.min, hs.max, 'range');
    line(i => hs.mean[i], 'mean', false);
    svg.appendChild(s('rect', { x: L, y: T, width: W - L - R, height: H - T - B, fill: 'none', stroke: '#cfd6df' }));
    return svg;
  }

  function channelPanel(ch, d) {
    const b = ch.band;
    const figs = [
      ['value', fmtNum(ch.value)],
      ['level', fmtNum(ch.level)],
      ['z', fmtNum(ch.score, 2)],
      ['fleet median', b ? fmtNum(b.median) : '\u2013'],
      ['band', b ? fmtNum(b.lo) + ' \u2026 ' + fmtNum(b.hi) : '\u2013 (too few peers)'],
      ['peers', b ? String(b.peers) : '\u2013'],
      ['drift (CUSUM)', fmtNum(ch.cusum, 1)],
    ];
    return h('section', { class: 'panel channel', 'data-channel': ch.channel, 'data-state': ch.state },
      h('div', { class: 'chart-head' },
        h('h3', null, ch.name, h('span', { class: 'muted' }, ' \u00b7 channel ' + ch.channel)),
        h('span', { class: 'badge ' + ch.state }, ch.state === 'okay' ? 'ok' : ch.state),
        ch.reason.length ? h('span', { class: 'fig' }, 'reason: ', h('b', null, ch.reason.join(', '))) : null,
        figs.map(([k, v]) => h('span', { class: 'fig' }, k + ' ', h('b', null, v)))),
      h('div', { class: 'chart' }, chart(ch, d.config.history_interval)),
      h('div', { class: 'legend' },
        h('span', null, h('i', { class: 'l-mean' }), 'mean per ' + fmtNum(d.config.history_interval) + ' s'),
        h('span', null, h('i', { class: 'l-range' }), 'min \u2013 max'),
        h('span', null, h('i', { class: 'l-band' }), 'fleet band: median \u00b1 ' + fmtNum(d.config.z_enter, 1) + ' \u00d7 MAD / 0.6745'),
        h('span', null, h('i', { class: 'l-warn' }), 'warning'),
        h('span', null, h('i', { class: 'l-fail' }), 'failure')));
  }

  function renderEmitter(d) {
    const e = d.emitter;
    const now = d.time;
    const pr = e.priority;
    const cards = h('div', { class: 'cards' },
      card('Group', groupLabel(e.group), d.group.emitters + ' emitters, ' + d.group.anomalous + ' anomalous'),
      card('Last seen', fmtAge(now - e.last_seen), fmtDateTime(e.last_seen)),
      card('Frames', fmtInt(e.frames), fmtInt(e.values) + ' values'),
      card('Received', fmtBytes(e.bytes), 'first seen ' + fmtDateTime(e.first_seen)),
      card('Compression', e.compression_ratio === null ? '\u2013' : fmtNum(e.compression_ratio, 2) + '\u00d7', 'vs 8 bytes per value'),
      card('Lost frames', fmtInt(e.gaps), fmtInt(e.resyncs) + ' resyncs, ' + fmtInt(e.resets) + ' resets', e.gaps ? 'warnc' : ''),
      card('Decode errors', fmtInt(e.errors), fmtInt(e.replays) + ' replays', e.errors ? 'warnc' : ''),
      card('Held back', fmtInt(e.unreliable + e.nonfinite), fmtInt(e.nonfinite) + ' non-finite'),
      card('Priorities', fmtInt(pr[0] + pr[1]) + ' urgent', 'P1 ' + fmtInt(pr[0]) + ' \u00b7 P2 ' + fmtInt(pr[1]) + ' \u00b7 P3 ' + fmtInt(pr[2]) + ' \u00b7 P4 ' + fmtInt(pr[3]) + ' \u00b7 P5 ' + fmtInt(pr[4])),
      card('Memory', fmtBytes(e.memory), e.patterns + ' learned patterns'));
    const title = h('div', { class: 'title', id: 'emitter', 'data-id': e.id, 'data-state': e.state },
      h('h2', null, e.host), badge(e),
      h('span', { class: 'id' }, 'id ' + e.id + ' (' + e.id_dec + ')'),
      e.score ? h('span', { class: 'muted' }, 'max |z| ' + fmtNum(e.score, 1)) : null);
    const chans = d.channels.map(ch => channelPanel(ch, d));
    if (!chans.length) chans.push(h('p', { class: 'empty' }, 'No tracked channel yet.'));
    setView('emitter', [h('a', { href: '#/' }, 'fleet'), ' \u203a ' + groupLabel(e.group) + ' \u203a ' + e.host],
      [title, cards, ...chans, eventsPanel('Anomaly events of this emitter', d.events, d.events.length, now, false)]);
    document.body.setAttribute('data-seq', d.seq);
  }

  function renderMissing(id) {
    setView('missing', [h('a', { href: '#/' }, 'fleet')],
      [h('p', { class: 'empty' }, 'Emitter ' + id + ' is not (or no longer) known to the fleet.')]);
  }

  window.addEventListener('hashchange', route);
  route();
})();
