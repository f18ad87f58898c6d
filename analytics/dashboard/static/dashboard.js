// idlink dashboard: fetches the analytics reports from api/reports/{name}
// every 10 s and draws them with the vendored Chart.js (window.Chart).
//
// Each panel (section.panel, id below) gets, once drawn with data:
//   data-ready="true", data-points="N" (rows drawn: one point or bar each),
//   data-updated="<ISO time>"; a failed fetch sets data-error and keeps the
//   last data. The table under the chart holds the same rows.
//
// The time chart (activations-over-time) shows the days between its From
// and To dates (the URL's ?from=YYYY-MM-DD&to=YYYY-MM-DD, both optional) in
// buckets of a day, a week (from Monday) or a month: ?bucket=day|week|month,
// or, by default, the finest of those in which at least half the buckets
// between the first and the last activation shown hold activations. Its
// section carries data-bucket, data-from and data-to as applied.
'use strict';

(() => {
  const REFRESH_MS = 10000;
  const num = new Intl.NumberFormat('en-US');
  const pct = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 2 });

  // Document types in a fixed order and colour; the residence permit is the
  // one this dashboard is about, so it gets the strong red everywhere.
  const DOC_TYPES = {
    residence_permit: { label: 'Residence permit', color: '#c81e3a' },
    mainland_travel_permit: { label: 'HK/Macao travel permit', color: '#2563eb' },
    taiwan_travel_permit: { label: 'Taiwan travel permit', color: '#0d9488' },
    hkid: { label: 'HKID', color: '#7c3aed' },
    macao_id: { label: 'Macao ID', color: '#d97706' },
    passport: { label: 'Passport', color: '#475569' },
    mainland_id: { label: 'Mainland ID', color: '#65a30d' },
  };
  const EXTRA_COLORS = ['#db2777', '#0891b2', '#a16207', '#4f46e5', '#15803d', '#9333ea'];
  const CHANNELS = { online: '#2563eb', offline: '#d97706' };
  const MUTED = ['#64748b', '#94a3b8', '#475569', '#cbd5e1', '#334155', '#a5b4c3'];

  const docOrder = Object.keys(DOC_TYPES);
  const byDocOrder = (a, b) => {
    const ia = docOrder.indexOf(a), ib = docOrder.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : a > b ? 1 : 0);
  };
  const docLabel = (t) => (DOC_TYPES[t] ? DOC_TYPES[t].label : t || '(none)');
  const docColor = (t, i) => (DOC_TYPES[t] ? DOC_TYPES[t].color : EXTRA_COLORS[i % EXTRA_COLORS.length]);
  // wrap splits a label into lines of about 10 characters (Chart.js draws an
  // array label as several lines).
  const wrap = (label) => label.split(' ').reduce((lines, w) => {
    const last = lines[lines.length - 1];
    if (last !== undefined && (last + ' ' + w).length <= 10) lines[lines.length - 1] = last + ' ' + w;
    else lines.push(w);
    return lines;
  }, []);
  const uniq = (xs) => [...new Set(xs)];
  const sum = (xs) => xs.reduce((a, b) => a + Number(b || 0), 0);

  // Dates are 'YYYY-MM-DD' strings (the report's local dates); a bucket is
  // named by its first day: the day itself, the Monday of its week, or the
  // first of its month.
  const DAY_MS = 86400000;
  const MAX_BUCKETS = 1100; // at most this many points in the time chart
  const isDate = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v || '') && !Number.isNaN(Date.parse(v + 'T00:00:00Z'));
  const dayNumber = (d) => Math.round(Date.parse(d + 'T00:00:00Z') / DAY_MS);
  const dateOf = (n) => new Date(n * DAY_MS).toISOString().slice(0, 10);
  const BUCKETS = {
    day: { start: (d) => d, next: (b) => dateOf(dayNumber(b) + 1), label: (b) => b },
    week: {
      start: (d) => { const n = dayNumber(d); return dateOf(n - ((new Date(n * DAY_MS).getUTCDay() + 6) % 7)); },
      next: (b) => dateOf(dayNumber(b) + 7),
      label: (b) => b,
    },
    month: {
      start: (d) => d.slice(0, 7) + '-01',
      next: (b) => {
        const y = Number(b.slice(0, 4)), m = Number(b.slice(5, 7));
        return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
      },
      label: (b) => b.slice(0, 7),
    },
  };

  // bucketsFrom lists the buckets of unit from the one holding first to the
  // one holding last, or null when there are more than MAX_BUCKETS.
  function bucketsFrom(first, last, unit) {
    const u = BUCKETS[unit];
    const out = [];
    for (let b = u.start(first); b <= last; b = u.next(b)) {
      if (out.length === MAX_BUCKETS) return null;
      out.push(b);
    }
    return out;
  }

  // autoBucket is the finest unit in which at least half the buckets from
  // the first to the last of days (sorted, distinct) hold one of them; month
  // when neither day nor week does.
  function autoBucket(days) {
    if (days.length === 0) return 'day';
    for (const unit of ['day', 'week']) {
      const all = bucketsFrom(days[0], days[days.length - 1], unit);
      if (all && new Set(days.map(BUCKETS[unit].start)).size * 2 >= all.length) return unit;
    }
    return 'month';
  }

  // The time chart's filter: from the URL at load, then from its controls.
  const timeFilter = (() => {
    const q = new URLSearchParams(window.location.search);
    const bucket = q.get('bucket');
    return {
      from: isDate(q.get('from')) ? q.get('from') : '',
      to: isDate(q.get('to')) ? q.get('to') : '',
      bucket: BUCKETS[bucket] ? bucket : 'auto',
    };
  })();

  // syncTimeControls shows the filter in the time chart's controls, bounded
  // by the first and last day of the report's rows.
  function syncTimeControls(all, b) {
    const days = uniq(all.map((r) => r.day)).sort();
    const from = document.getElementById('time-from');
    const to = document.getElementById('time-to');
    for (const input of [from, to]) {
      input.min = days[0] || '';
      input.max = days[days.length - 1] || '';
    }
    from.value = timeFilter.from;
    to.value = timeFilter.to;
    document.getElementById('time-bucket').value = timeFilter.bucket;
    const note = document.getElementById('time-bucket-note');
    note.textContent = timeFilter.bucket === 'auto' ? `by ${b.unit}` : '';
  }

  // watchTimeControls applies a change of the time chart's controls at
  // once (to the rows last fetched) and keeps it in the page's URL.
  function watchTimeControls(panel) {
    const apply = () => {
      const from = document.getElementById('time-from').value;
      const to = document.getElementById('time-to').value;
      const bucket = document.getElementById('time-bucket').value;
      timeFilter.from = isDate(from) ? from : '';
      timeFilter.to = isDate(to) ? to : '';
      timeFilter.bucket = BUCKETS[bucket] ? bucket : 'auto';
      const q = new URLSearchParams();
      if (timeFilter.from) q.set('from', timeFilter.from);
      if (timeFilter.to) q.set('to', timeFilter.to);
      if (timeFilter.bucket !== 'auto') q.set('bucket', timeFilter.bucket);
      const search = q.toString();
      window.history.replaceState(null, '', search ? '?' + search : window.location.pathname);
      if (panel.last) show(document.getElementById(panel.id), panel, panel.last);
    };
    for (const id of ['time-from', 'time-to', 'time-bucket']) document.getElementById(id).addEventListener('change', apply);
    document.getElementById('time-all').addEventListener('click', () => {
      document.getElementById('time-from').value = '';
      document.getElementById('time-to').value = '';
      apply();
    });
  }

  // bucketed filters the activations-over-time rows to the filter's dates
  // and sums them per bucket, document type and channel. It returns the
  // rows (bucket, doc_type, channel, events), the unit and every bucket of
  // the range shown (the chart's x axis).
  function bucketed(rows, filter) {
    const kept = rows.filter((r) => (!filter.from || r.day >= filter.from) && (!filter.to || r.day <= filter.to));
    const days = uniq(kept.map((r) => r.day)).sort();
    let unit = filter.bucket === 'auto' ? autoBucket(days) : filter.bucket;
    let axis = days.length ? bucketsFrom(days[0], days[days.length - 1], unit) : [];
    while (axis === null) { // too many buckets to draw: a coarser unit
      unit = unit === 'day' ? 'week' : 'month';
      axis = bucketsFrom(days[0], days[days.length - 1], unit) || uniq(days.map(BUCKETS.month.start));
    }
    const sums = new Map();
    for (const r of kept) {
      const b = BUCKETS[unit].start(r.day);
      const k = [b, r.doc_type, r.channel].join('\u0000');
      sums.set(k, (sums.get(k) || 0) + Number(r.events));
    }
    const out = [...sums.entries()].map(([k, events]) => {
      const [b, doc_type, channel] = k.split('\u0000');
      return { bucket: BUCKETS[unit].label(b), start: b, doc_type, channel, events };
    }).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)
      || (a.doc_type < b.doc_type ? -1 : a.doc_type > b.doc_type ? 1 : 0)
      || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
    return { rows: out, unit, axis: axis.map((b) => BUCKETS[unit].label(b)) };
  }

  const baseOptions = (extra) => Object.assign({
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: 'nearest', intersect: false },
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 14 } } },
  }, extra);

  const countAxis = (title) => ({ beginAtZero: true, title: { display: true, text: title }, ticks: { precision: 0 } });

  // The panels: which report each draws, how it filters and charts it, and
  // which columns its table shows.
  const panels = [
    {
      id: 'activations-over-time',
      report: 'activations-over-time',
      // prepare turns the report's rows into the rows drawn and listed, in
      // the filter's buckets.
      prepare(all, section) {
        const b = bucketed(all, timeFilter);
        section.dataset.bucket = b.unit;
        section.dataset.from = timeFilter.from;
        section.dataset.to = timeFilter.to;
        this.axis = b.axis;
        section.querySelector('caption').textContent = `Activations per ${b.unit}, document type and channel`;
        this.columns = [b.unit, 'doc_type', 'channel', 'events'];
        this.keys = ['bucket', 'doc_type', 'channel', 'events'];
        syncTimeControls(all, b);
        return b.rows;
      },
      columns: ['day', 'doc_type', 'channel', 'events'],
      emptyText: (all) => (all.length ? 'No activations between these dates.' : 'No activations yet.'),
      chart(rows) {
        const labels = this.axis || [];
        const index = new Map(labels.map((d, i) => [d, i]));
        const keys = uniq(rows.map((r) => r.doc_type + '\u0000' + r.channel)).sort((a, b) => {
          const [ta, ca] = a.split('\u0000'), [tb, cb] = b.split('\u0000');
          return byDocOrder(ta, tb) || (ca < cb ? 1 : ca > cb ? -1 : 0); // online before offline
        });
        const datasets = keys.map((k, i) => {
          const [type, channel] = k.split('\u0000');
          const data = labels.map(() => 0);
          for (const r of rows) {
            if (r.doc_type === type && r.channel === channel) data[index.get(r.bucket)] += Number(r.events);
          }
          const color = docColor(type, i);
          return {
            label: `${docLabel(type)} · ${channel || 'no channel'}`,
            data, borderColor: color, backgroundColor: color,
            borderDash: channel === 'offline' ? [6, 4] : [],
            borderWidth: labels.length > 60 ? 1.5 : 2, pointRadius: labels.length > 60 ? 0 : 3, tension: 0,
          };
        });
        const unit = this.columns[0];
        return {
          type: 'line',
          data: { labels, datasets },
          height: datasets.length > 6 ? 420 : 0, // room for a long legend
          options: baseOptions({
            scales: {
              x: { title: { display: true, text: unit === 'day' ? 'day' : unit === 'week' ? 'week (from Monday)' : 'month' }, ticks: { maxTicksLimit: 16 } },
              y: countAxis('activations'),
            },
            // A short line per series in the legend, dashed for offline.
            plugins: {
              legend: {
                position: 'bottom',
                labels: {
                  usePointStyle: true, pointStyle: 'line', pointStyleWidth: 32,
                  // Point-style legend items take no dash from the line: add it.
                  generateLabels: (chart) => window.Chart.defaults.plugins.legend.labels.generateLabels(chart)
                    .map((item) => Object.assign(item, { lineDash: chart.data.datasets[item.datasetIndex].borderDash })),
                },
              },
            },
          }),
        };
      },
    },
    {
      id: 'activations-by-doc-type',
      report: 'activations-by-doc-type',
      columns: ['doc_type', 'channel', 'events', 'persons'],
      chart(rows) {
        const types = uniq(rows.map((r) => r.doc_type)).sort(byDocOrder);
        const channels = uniq(rows.map((r) => r.channel)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
        const find = (t, c) => rows.find((r) => r.doc_type === t && r.channel === c);
        const datasets = channels.map((c, i) => ({
          label: c || 'no channel',
          data: types.map((t) => Number((find(t, c) || {}).events || 0)),
          persons: types.map((t) => Number((find(t, c) || {}).persons || 0)),
          backgroundColor: CHANNELS[c] || MUTED[i % MUTED.length],
          borderRadius: 3,
        }));
        return {
          type: 'bar',
          data: { labels: types.map((t) => wrap(docLabel(t))), datasets },
          options: baseOptions({
            interaction: { mode: 'index', intersect: false },
            scales: { x: { ticks: { maxRotation: 0, autoSkip: false } }, y: countAxis('activations (events)') },
            plugins: {
              legend: { position: 'bottom' },
              tooltip: {
                callbacks: {
                  label: (ctx) => `${ctx.dataset.label}: ${num.format(ctx.raw)} events, ${num.format(ctx.dataset.persons[ctx.dataIndex])} persons`,
                },
              },
            },
          }),
        };
      },
    },
    {
      id: 'verification-rejections',
      report: 'verifications',
      filter: (r) => r.outcome === 'rejected',
      columns: ['relying_party', 'doc_type', 'reason', 'events'],
      highlight: (r) => r.doc_type === 'residence_permit',
      chart(rows) {
        const cat = (r) => `${r.relying_party || '(unknown)'} · ${r.reason || 'no reason'}`;
        const labels = uniq(rows.map(cat));
        const types = uniq(rows.map((r) => r.doc_type)).sort(byDocOrder);
        let muted = 0;
        const datasets = types.map((t) => ({
          label: docLabel(t),
          data: labels.map((l) => sum(rows.filter((r) => cat(r) === l && r.doc_type === t).map((r) => r.events))),
          backgroundColor: t === 'residence_permit' ? DOC_TYPES.residence_permit.color : MUTED[muted++ % MUTED.length],
          borderRadius: 2,
        }));
        return {
          type: 'bar',
          data: { labels, datasets },
          options: baseOptions({
            indexAxis: 'y',
            interaction: { mode: 'index', intersect: false },
            scales: { x: Object.assign(countAxis('rejected verifications'), { stacked: true }), y: { stacked: true } },
          }),
          height: Math.max(320, 70 + labels.length * 34),
        };
      },
      after(section, rows) {
        const rp = rows.filter((r) => r.doc_type === 'residence_permit');
        const events = sum(rp.map((r) => r.events));
        const p = section.querySelector('.callout');
        p.dataset.highlightEvents = String(events);
        p.dataset.highlightPoints = String(rp.length);
        p.classList.toggle('none', events === 0);
        p.hidden = false;
        if (rows.length === 0) {
          p.textContent = 'No rejections yet.';
        } else if (events === 0) {
          p.textContent = 'No residence-permit rejections.';
        } else {
          const where = uniq(rp.map((r) => `${r.relying_party} (${r.reason || 'no reason'})`)).join(', ');
          p.textContent = `Residence permit rejected ${num.format(events)} times by ${where}.`;
        }
      },
    },
    {
      id: 'linked-persons',
      report: 'linked-persons',
      columns: ['doc_types', 'persons'],
      chart(rows) {
        const sorted = [...rows].sort((a, b) => Number(a.doc_types) - Number(b.doc_types));
        return {
          type: 'bar',
          data: {
            labels: sorted.map((r) => (Number(r.doc_types) === 1 ? '1 type' : `${r.doc_types} types`)),
            datasets: [{
              label: 'persons',
              data: sorted.map((r) => Number(r.persons)),
              backgroundColor: sorted.map((r) => (Number(r.doc_types) > 1 ? '#0d9488' : '#94a3b8')),
              borderRadius: 3,
            }],
          },
          options: baseOptions({
            plugins: { legend: { display: false } },
            scales: { x: { title: { display: true, text: 'document types held' } }, y: countAxis('persons') },
          }),
        };
      },
    },
    {
      id: 'service-acceptance',
      report: 'service-acceptance',
      columns: ['service', 'doc_type', 'passed', 'rejected', 'acceptance_rate'],
      highlight: (r) => Number(r.rejected) > 0 && Number(r.passed) === 0,
      chart(rows) {
        const labels = rows.map((r) => [r.service, docLabel(r.doc_type)]); // two lines per bar
        const datasets = [
          { label: 'passed', data: rows.map((r) => Number(r.passed)), backgroundColor: '#0d9488', borderRadius: 2 },
          { label: 'rejected', data: rows.map((r) => Number(r.rejected)), backgroundColor: '#c81e3a', borderRadius: 2 },
        ];
        return {
          type: 'bar',
          data: { labels, datasets },
          options: baseOptions({
            indexAxis: 'y',
            interaction: { mode: 'index', intersect: false },
            scales: { x: Object.assign(countAxis('events'), { stacked: true }), y: { stacked: true } },
            plugins: {
              legend: { position: 'bottom' },
              tooltip: {
                callbacks: {
                  footer: (items) => (items.length ? `accepted ${pct.format(Number(rows[items[0].dataIndex].acceptance_rate))}` : ''),
                },
              },
            },
          }),
          height: Math.max(320, 70 + labels.length * 40),
        };
      },
    },
    {
      id: 'blocked-but-linked',
      report: 'blocked-but-linked',
      columns: ['service', 'rejected_doc_type', 'alternative_doc_type', 'persons'],
      chart(rows) {
        // Two lines per bar: the service, then rejected type → alternative.
        const labels = rows.map((r) => [r.service, `${docLabel(r.rejected_doc_type)} → ${docLabel(r.alternative_doc_type)}`]);
        const alternatives = uniq(rows.map((r) => r.alternative_doc_type)).sort(byDocOrder);
        return {
          type: 'bar',
          data: {
            labels,
            datasets: [{
              label: 'persons',
              data: rows.map((r) => Number(r.persons)),
              backgroundColor: rows.map((r) => docColor(r.alternative_doc_type, alternatives.indexOf(r.alternative_doc_type))),
              borderRadius: 3,
            }],
          },
          options: baseOptions({
            indexAxis: 'y',
            plugins: { legend: { display: false } },
            scales: { x: countAxis('persons rejected who hold the accepted type') },
          }),
          height: Math.max(300, 70 + labels.length * 44),
        };
      },
    },
    {
      id: 'activations-by-region',
      report: 'activations-by-region',
      columns: ['province_code', 'province', 'channel', 'events', 'persons'],
      chart(rows) {
        const codes = uniq(rows.map((r) => r.province_code)).sort();
        const names = new Map(rows.map((r) => [r.province_code, r.province || '(no region)']));
        const channels = uniq(rows.map((r) => r.channel)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
        const find = (p, c) => rows.find((r) => r.province_code === p && r.channel === c);
        const datasets = channels.map((c, i) => ({
          label: c || 'no channel',
          data: codes.map((p) => Number((find(p, c) || {}).events || 0)),
          persons: codes.map((p) => Number((find(p, c) || {}).persons || 0)),
          backgroundColor: CHANNELS[c] || MUTED[i % MUTED.length],
          borderRadius: 3,
        }));
        return {
          type: 'bar',
          data: { labels: codes.map((p) => wrap(names.get(p))), datasets },
          options: baseOptions({
            interaction: { mode: 'index', intersect: false },
            scales: { x: { ticks: { maxRotation: 0, autoSkip: false } }, y: countAxis('activations (events)') },
            plugins: {
              legend: { position: 'bottom' },
              tooltip: {
                callbacks: {
                  label: (ctx) => `${ctx.dataset.label}: ${num.format(ctx.raw)} events, ${num.format(ctx.dataset.persons[ctx.dataIndex])} persons`,
                },
              },
            },
          }),
        };
      },
    },
  ];

  const charts = new Map(); // panel id -> Chart

  async function fetchReport(name) {
    const res = await fetch('api/reports/' + encodeURIComponent(name), { cache: 'no-store', headers: { Accept: 'application/json' } });
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON: reported below */ }
    if (!res.ok) throw new Error((body && body.error) || `HTTP ${res.status}`);
    if (!Array.isArray(body)) throw new Error(`report ${name}: want a JSON array`);
    return body;
  }

  function fillTable(section, panel, rows) {
    const table = section.querySelector('table');
    const keys = panel.keys || panel.columns; // the row field of each column
    const isNum = (c) => ['events', 'persons', 'doc_types', 'passed', 'rejected', 'acceptance_rate'].includes(c);
    const format = (c, v) => (c === 'acceptance_rate' ? pct.format(Number(v)) : num.format(Number(v)));
    const head = document.createElement('tr');
    for (const c of panel.columns) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = c;
      if (isNum(c)) th.className = 'num';
      head.append(th);
    }
    table.tHead.replaceChildren(head);
    const body = rows.map((r) => {
      const tr = document.createElement('tr');
      if (panel.highlight && panel.highlight(r)) {
        tr.className = 'highlight';
        tr.dataset.highlight = 'true';
      }
      panel.columns.forEach((c, i) => {
        const td = document.createElement('td');
        td.dataset.column = c;
        const v = r[keys[i]];
        if (isNum(c)) {
          td.className = 'num';
          td.dataset.value = String(v);
          td.textContent = format(c, v);
        } else {
          td.textContent = v === '' || v == null ? '—' : String(v);
        }
        tr.append(td);
      });
      return tr;
    });
    if (body.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = panel.columns.length;
      td.textContent = 'no rows';
      tr.append(td);
      body.push(tr);
    }
    table.tBodies[0].replaceChildren(...body);
  }

  function draw(section, panel, rows) {
    const cfg = panel.chart(rows);
    const box = section.querySelector('.chart');
    box.style.height = cfg.height ? cfg.height + 'px' : ''; // else the stylesheet's
    let chart = charts.get(panel.id);
    if (chart && chart.config.type === cfg.type) {
      chart.data = cfg.data;
      chart.options = cfg.options;
      chart.update('none');
    } else {
      if (chart) chart.destroy();
      chart = new window.Chart(section.querySelector('canvas'), { type: cfg.type, data: cfg.data, options: cfg.options });
      charts.set(panel.id, chart);
    }
    section.querySelector('.empty').hidden = rows.length > 0;
  }

  function setError(section, message) {
    let p = section.querySelector('.panel-error');
    if (!message) {
      if (p) p.remove();
      delete section.dataset.error;
      return;
    }
    if (!p) {
      p = document.createElement('p');
      p.className = 'panel-error';
      p.setAttribute('role', 'alert');
      section.querySelector('.sub').after(p);
    }
    p.textContent = message;
    section.dataset.error = message;
  }

  // show draws a panel's chart and table from the report's rows.
  function show(section, panel, all) {
    const rows = panel.prepare ? panel.prepare(all, section) : panel.filter ? all.filter(panel.filter) : all;
    draw(section, panel, rows);
    fillTable(section, panel, rows);
    if (panel.after) panel.after(section, rows);
    const empty = section.querySelector('.empty');
    if (panel.emptyText) empty.textContent = panel.emptyText(all, rows);
    section.dataset.points = String(rows.length);
  }

  async function updatePanel(panel) {
    const section = document.getElementById(panel.id);
    try {
      const all = await fetchReport(panel.report);
      panel.last = all;
      show(section, panel, all);
      setError(section, '');
      section.dataset.updated = new Date().toISOString();
      section.dataset.ready = 'true';
      return null;
    } catch (err) {
      const msg = (err && err.message) || String(err);
      const shown = section.dataset.ready === 'true' ? 'showing the last data; ' : '';
      setError(section, `Could not load ${panel.report}: ${msg} (${shown}retrying every ${REFRESH_MS / 1000} s)`);
      return msg;
    }
  }

  async function refresh() {
    const status = document.getElementById('status');
    const errors = (await Promise.all(panels.map(updatePanel))).filter(Boolean);
    const time = new Date().toLocaleTimeString('en-GB');
    if (errors.length) {
      status.className = 'status error';
      status.textContent = `${errors.length} of ${panels.length} reports failed at ${time}; retrying every ${REFRESH_MS / 1000} s`;
      status.title = errors[0];
    } else {
      status.className = 'status';
      status.textContent = `Updated ${time} · refreshes every ${REFRESH_MS / 1000} s`;
      status.removeAttribute('title');
    }
    document.body.dataset.refreshed = new Date().toISOString();
    setTimeout(refresh, REFRESH_MS);
  }

  function start() {
    if (!window.Chart) {
      const status = document.getElementById('status');
      status.className = 'status error';
      status.textContent = 'Chart.js did not load (static/vendor/chart.js/chart.umd.js).';
      return;
    }
    const Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.font.size = 13;
    Chart.defaults.color = '#1c2430';
    watchTimeControls(panels.find((p) => p.id === 'activations-over-time'));
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
