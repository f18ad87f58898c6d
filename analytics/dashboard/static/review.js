// idlink review page: the conflicts queue from api/conflicts and a
// person's explanation from api/why?person_id=ID, for the person named in
// the address's fragment (#person=ID, &event=E marks one event). See the
// comment in review.html for the data attributes the page sets.
'use strict';

(() => {
  // el makes an element with text content (never HTML from the server).
  const el = (tag, props, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  };
  const dash = '—';

  async function getJSON(path) {
    const res = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON: reported by status */ }
    if (!res.ok) throw new Error((body && body.error) || `HTTP ${res.status}`);
    return body;
  }

  // The fragment's parameters: person and event.
  const fragment = () => new URLSearchParams(location.hash.replace(/^#/, ''));
  const personHref = (id, eventID) => '#' + new URLSearchParams(eventID ? { person: id, event: eventID } : { person: id });

  const personLink = (id, eventID) => (id ? el('a', { href: personHref(id, eventID), 'data-person-id': id, text: id }) : dash);

  // A document by type and token; the token is shortened on screen and
  // whole in its title.
  const doc = (d) => el('span', { class: 'doc', 'data-type': d.type, 'data-token': d.token, title: d.token },
    el('span', { class: 'doc-type', text: d.type }), ' ',
    el('code', { text: d.token.length > 12 ? d.token.slice(0, 12) + '…' : d.token }),
    d.status ? el('span', { class: 'doc-status', text: ' ' + d.status }) : null);
  const docs = (ds) => {
    const list = el('span', { class: 'docs' });
    for (const d of ds || []) list.append(doc(d));
    if (!ds || ds.length === 0) list.append(dash);
    return list;
  };
  const td = (content, cls) => {
    const c = el('td', cls ? { class: cls } : {});
    c.append(content === '' || content == null ? dash : content);
    return c;
  };

  // The persons of a conflict: the one holding the held event's first
  // document, and the other side (none for a second birth date).
  const sides = (c) => el('div', { class: 'sides' },
    el('div', {}, personLink(c.person_id, c.event_id)),
    c.other_person_id ? el('div', {}, 'vs ', personLink(c.other_person_id, c.event_id)) : null);

  function setError(section, message) {
    const p = section.querySelector('.panel-error');
    section.setAttribute('data-error', message);
    p.textContent = message;
    p.hidden = false;
  }
  function clearError(section) {
    section.removeAttribute('data-error');
    section.querySelector('.panel-error').hidden = true;
  }

  // The queue.
  async function loadConflicts() {
    const section = document.getElementById('conflicts');
    const status = document.getElementById('status');
    const time = new Date().toLocaleTimeString('en-GB', { hour12: false });
    let q;
    try {
      q = await getJSON('api/conflicts');
    } catch (err) {
      setError(section, 'The conflicts could not be read: ' + err.message);
      status.className = 'status error';
      status.textContent = `Conflicts failed at ${time}`;
      return;
    }
    clearError(section);
    const tbody = section.querySelector('tbody');
    tbody.replaceChildren(...q.conflicts.map((c) => {
      const tr = el('tr', { 'data-event-id': c.event_id, 'data-person-id': c.person_id, 'data-other-person-id': c.other_person_id });
      tr.append(
        td(c.occurred_at, 'time'),
        td(el('code', { text: c.event_id })),
        td(c.type),
        td(c.agency),
        td(c.reason),
        td(c.doc_type),
        td(sides(c)),
        td(docs(c.documents)),
      );
      return tr;
    }));
    section.querySelector('.none').hidden = q.conflicts.length > 0;
    const more = section.querySelector('.more');
    more.hidden = q.total <= q.conflicts.length;
    more.textContent = `Showing the newest ${q.conflicts.length} of ${q.total}; the rest are at api/conflicts?limit=N.`;
    section.setAttribute('data-total', String(q.total));
    section.setAttribute('data-shown', String(q.conflicts.length));
    section.setAttribute('data-ready', 'true');
    status.className = 'status';
    status.textContent = `${q.total} ${q.total === 1 ? 'conflict' : 'conflicts'} held · updated ${time}`;
  }

  // What a step adds beyond its columns: the persons a merge folded in, a
  // held event's reason and persons, the retractions withdrawing it, the
  // event a retraction names.
  function detail(s) {
    const out = el('div', { class: 'detail' });
    for (const m of s.merged || []) {
      out.append(el('div', {}, 'folded in ', personLink(m.person_id), ' holding ', docs(m.documents)));
    }
    if (s.did === 'held') {
      const persons = el('span', {});
      (s.person_ids || []).forEach((id, i) => persons.append(i ? ', ' : '', personLink(id, s.event_id)));
      out.append(el('div', {}, el('strong', { text: s.reason || 'held' }), '; persons now: ', persons));
    }
    if ((s.withdrawn_by || []).length) {
      const by = el('span', {});
      s.withdrawn_by.forEach((id, i) => by.append(i ? ', ' : '', el('code', { text: id })));
      out.append(el('div', {}, 'withdrawn by ', by));
    }
    if (s.retracts) out.append(el('div', {}, 'retracts ', el('code', { text: s.retracts })));
    return out.childNodes.length ? out : dash;
  }

  // The explanation of the person in the fragment.
  let asked = 0;
  async function loadExplanation() {
    const section = document.getElementById('explanation');
    const params = fragment();
    const id = params.get('person') || '';
    const mark = params.get('event') || '';
    document.getElementById('person-id').value = id;
    section.querySelector('.hint').hidden = id !== '';
    if (id === '') {
      section.querySelector('.person').hidden = true;
      return;
    }
    const n = ++asked;
    section.setAttribute('data-ready', 'false');
    let x;
    try {
      x = await getJSON('api/why?person_id=' + encodeURIComponent(id));
    } catch (err) {
      if (n !== asked) return; // another person was asked for meanwhile
      section.querySelector('.person').hidden = true;
      setError(section, `No explanation of ${id}: ${err.message}`);
      return;
    }
    if (n !== asked) return;
    clearError(section);
    section.querySelector('.person-id').replaceChildren(el('code', { text: x.person_id }),
      x.person_id !== id ? ` (asked for ${id}, merged into it)` : '');
    section.querySelector('.person-docs').replaceChildren(docs(x.documents));
    const tbody = section.querySelector('tbody');
    tbody.replaceChildren(...x.events.map((s) => {
      const tr = el('tr', { 'data-event-id': s.event_id, 'data-did': s.did, class: 'did-' + s.did + (s.event_id === mark ? ' marked' : '') });
      tr.append(
        td(s.occurred_at, 'time'),
        td(el('code', { text: s.event_id })),
        td(s.type),
        td(s.agency),
        td(el('span', { class: 'did', text: s.did })),
        td(docs(s.documents)),
        td(detail(s)),
      );
      return tr;
    }));
    section.querySelector('.person').hidden = false;
    section.setAttribute('data-person-id', x.person_id);
    section.setAttribute('data-events', String(x.events.length));
    section.setAttribute('data-ready', 'true');
    const marked = tbody.querySelector('tr.marked');
    if (marked) marked.scrollIntoView({ block: 'nearest' });
  }

  function start() {
    document.getElementById('refresh').addEventListener('click', () => { loadConflicts(); loadExplanation(); });
    document.getElementById('why-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const id = document.getElementById('person-id').value.trim();
      if (id !== '') location.hash = personHref(id);
    });
    window.addEventListener('hashchange', loadExplanation);
    loadConflicts();
    loadExplanation();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
