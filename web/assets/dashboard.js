// Eventline analyst dashboard: fetches /v1/dashboard and renders it. Builds the DOM with
// textContent only (data never becomes markup). Chart.js draws the MRR chart. A month of the
// bridge drills down to its movements (/v1/dashboard/movements), a movement to why it happened.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let currency = new URLSearchParams(window.location.search).get('currency') || '';
  let chart = null;
  // The drill-down's choice survives the 15-second refresh, which redraws the bridge.
  let chosenMonth = null;
  // A later click wins over an answer still on its way: each load keeps its ticket and drops its
  // answer when a newer one was issued.
  let monthTicket = 0;
  let detailTicket = 0;

  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
    return node;
  }

  const money = (cents) =>
    new Intl.NumberFormat(undefined, { style: 'currency', currency: (currency || 'usd').toUpperCase(), maximumFractionDigits: 0 }).format(Number(cents || 0) / 100);
  const signed = (cents) => (Number(cents) > 0 ? '+' : '') + money(cents);
  // One movement is read to the cent (the bridge rounds to whole units).
  const exact = (cents) =>
    new Intl.NumberFormat(undefined, { style: 'currency', currency: (currency || 'usd').toUpperCase(), minimumFractionDigits: 2 }).format(Number(cents || 0) / 100);
  const signedExact = (cents) => (Number(cents) > 0 ? '+' : '') + exact(cents);
  const pct = (x) => (x == null ? '–' : `${(Number(x) * 100).toFixed(1)}%`);

  function table(columns, rows) {
    if (!rows.length) return h('p', { class: 'muted' }, 'Nothing yet.');
    return h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { class: c.num ? 'num' : '' }, c.label)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...columns.map((c) => h('td', { class: c.num ? 'num' : '' }, c.format ? c.format(r[c.key], r) : r[c.key]))))),
    );
  }

  function kpi(label, value, note) {
    return h('div', { class: 'kpi' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note ? h('div', { class: 'note' }, note) : '');
  }

  function render(d) {
    currency = d.currency;
    const select = $('currency');
    select.replaceChildren(...(d.currencies.length ? d.currencies : [d.currency]).map((c) => h('option', c === d.currency ? { value: c, selected: '' } : { value: c }, c.toUpperCase())));
    $('kpis').replaceChildren(
      kpi('MRR now', money(d.kpis.mrrCents)),
      kpi('Paying customers', String(d.kpis.payingCustomers)),
      kpi('Net new MRR this month', signed(d.kpis.netNewCents)),
      kpi('Churned MRR this month', money(-d.kpis.churnCents)),
      kpi('ARPA', d.kpis.arpaCents == null ? '–' : money(d.kpis.arpaCents)),
      kpi('Past due MRR', d.status ? money(d.status.pastDueCents) : '–', 'delinquent, still counted'),
      kpi('Set to cancel', d.status ? money(d.status.scheduledChurnCents) : '–', 'MRR already scheduled to churn'),
    );
    const labels = d.daily.map((x) => x.day);
    const values = d.daily.map((x) => Number(x.mrr_cents) / 100);
    if (chart) chart.destroy();
    chart = new window.Chart($('mrr-chart'), {
      type: 'line',
      data: { labels, datasets: [{ label: `MRR (${d.currency.toUpperCase()})`, data: values, borderColor: '#1f6feb', backgroundColor: 'rgba(31,111,235,0.08)', fill: true, pointRadius: 0, tension: 0.15 }] },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { beginAtZero: true } } },
    });
    // Redrawing the bridge replaces its buttons: a keyboard user on one keeps the focus.
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.month : undefined;
    $('monthly').replaceChildren(
      table(
        [
          { key: 'month', label: 'Month', format: monthButton },
          { key: 'opening_mrr_cents', label: 'Opening', num: true, format: money },
          { key: 'new_cents', label: 'New', num: true, format: money },
          { key: 'expansion_cents', label: 'Expansion', num: true, format: money },
          { key: 'contraction_cents', label: 'Contraction', num: true, format: money },
          { key: 'churn_cents', label: 'Churn', num: true, format: money },
          { key: 'reactivation_cents', label: 'Reactivation', num: true, format: money },
          { key: 'closing_mrr_cents', label: 'Closing', num: true, format: money },
        ],
        d.monthly,
      ),
    );
    if (focused) {
      const again = monthButtons().find((b) => b.dataset.month === focused);
      if (again) again.focus();
    }
    const ratio = (x) => (x == null ? '–' : Number(x).toFixed(2));
    $('saas').replaceChildren(
      table(
        [
          { key: 'month', label: 'Month' },
          { key: 'arr_cents', label: 'ARR', num: true, format: money },
          { key: 'net_new_mrr_cents', label: 'Net new MRR', num: true, format: signed },
          { key: 'customers_closing', label: 'Customers', num: true },
          { key: 'new_customers', label: 'New', num: true },
          { key: 'churned_customers', label: 'Churned', num: true },
          { key: 'quick_ratio', label: 'Quick ratio', num: true, format: ratio },
          { key: 'gross_mrr_churn_rate', label: 'Gross MRR churn', num: true, format: pct },
          { key: 'nrr', label: 'NRR', num: true, format: pct },
          { key: 'logo_churn_rate', label: 'Logo churn', num: true, format: pct },
          { key: 'arpa_cents', label: 'ARPA', num: true, format: (c) => (c == null ? '–' : money(c)) },
          { key: 'ltv_cents', label: 'LTV', num: true, format: (c) => (c == null ? '–' : money(c)) },
        ],
        d.saas,
      ),
    );
    $('movements').replaceChildren(
      table(
        [
          { key: 'at', label: 'When (UTC)' },
          { key: 'customer_id', label: 'Customer' },
          { key: 'movement', label: 'Movement', format: (m) => h('span', { class: `tag ${m}` }, m) },
          { key: 'delta_cents', label: 'Change', num: true, format: signed },
          { key: 'mrr_after_cents', label: 'MRR after', num: true, format: money },
        ],
        d.movements,
      ),
    );
    const cohorts = new Map();
    for (const c of d.cohorts) {
      if (!cohorts.has(c.cohort_month)) cohorts.set(c.cohort_month, { size: c.cohort_customers, cells: [] });
      cohorts.get(c.cohort_month).cells[c.months_since_start] = c.cohort_customers ? c.retained_customers / c.cohort_customers : null;
    }
    const width = Math.max(1, ...[...cohorts.values()].map((c) => c.cells.length));
    const heat = h(
      'table',
      { class: 'heat' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Cohort'), h('th', { class: 'num' }, 'Size'), ...Array.from({ length: width }, (_, k) => h('th', { class: 'num' }, `M${k}`)))),
      h(
        'tbody',
        {},
        ...[...cohorts].map(([month, c]) => {
          const cells = Array.from({ length: width }, (_, k) => {
            const td = h('td', { class: 'num' }, c.cells[k] == null ? '' : pct(c.cells[k]));
            if (c.cells[k] != null) td.style.backgroundColor = `rgba(31,111,235,${(0.08 + 0.6 * c.cells[k]).toFixed(2)})`;
            return td;
          });
          return h('tr', {}, h('td', {}, month), h('td', { class: 'num' }, c.size), ...cells);
        }),
      ),
    );
    $('cohorts').replaceChildren(cohorts.size ? heat : h('p', { class: 'muted' }, 'Nothing yet.'));
    $('delivery').replaceChildren(
      table(
        [
          { key: 'channel', label: 'Channel' },
          { key: 'template', label: 'Template' },
          { key: 'sent', label: 'Sent', num: true },
          { key: 'delivered', label: 'Delivered', num: true },
          { key: 'opened', label: 'Opened', num: true },
          { key: 'clicked', label: 'Clicked', num: true },
          { key: 'bounced', label: 'Bounced', num: true },
          { key: 'failed', label: 'Failed', num: true },
          { key: 'delivery_rate', label: 'Delivery rate', num: true, format: pct },
          { key: 'open_rate', label: 'Open rate', num: true, format: pct },
        ],
        d.delivery,
      ),
    );
    $('notifications').replaceChildren(
      table(
        [
          { key: 'requested_at', label: 'Requested (UTC)' },
          { key: 'user_id', label: 'User' },
          { key: 'template', label: 'Template' },
          { key: 'priority', label: 'Priority' },
          { key: 'status', label: 'Status', format: (s) => h('span', { class: `tag ${s}` }, s) },
          { key: 'channels', label: 'Channels', format: (c) => (c || []).join(', ') },
        ],
        d.notifications,
      ),
    );
  }

  function renderOperations(d) {
    $('dunning').replaceChildren(
      table(
        [
          { key: 'status', label: 'Status', format: (s) => h('span', { class: `tag ${s}` }, s) },
          { key: 'cases', label: 'Cases', num: true },
          { key: 'amount_cents', label: 'Amount due', num: true, format: money },
        ],
        d.dunning.byStatus,
      ),
      table(
        [
          { key: 'opened', label: 'Opened' },
          { key: 'customer_id', label: 'Customer' },
          { key: 'status', label: 'Status', format: (s) => h('span', { class: `tag ${s}` }, s) },
          { key: 'amount_due_cents', label: 'Due', num: true, format: money },
          { key: 'churn_risk', label: 'Churn risk', num: true },
          { key: 'reminders_sent', label: 'Reminders', num: true },
        ],
        d.dunning.latest,
      ),
    );
    $('fraud').replaceChildren(
      table(
        [
          { key: 'at', label: 'When (UTC)' },
          { key: 'customer_id', label: 'Customer' },
          { key: 'amount_cents', label: 'Amount', num: true, format: money },
          { key: 'score', label: 'Score', num: true },
          { key: 'action', label: 'Action', format: (a) => h('span', { class: `tag ${a === 'block' ? 'failed' : 'deferred'}` }, a) },
          { key: 'factor_names', label: 'Factors', format: (f) => (f || []).join(', ') },
        ],
        d.fraud,
      ),
    );
    $('outbox').replaceChildren(
      table(
        [
          { key: 'at', label: 'When (UTC)' },
          { key: 'channel', label: 'Channel' },
          { key: 'recipient', label: 'To' },
          { key: 'summary', label: 'Subject / text' },
          { key: 'notification_id', label: 'Notification' },
        ],
        d.outbox,
      ),
    );
  }

  // ------------------------------------------------------------ drill-down

  const monthButtons = () => [...$('monthly').querySelectorAll('button[data-month]')];

  function monthButton(month) {
    const props = { type: 'button', class: 'link', 'data-month': month, 'aria-label': `${month}: list its movements` };
    if (month === chosenMonth) props['aria-current'] = 'true';
    const button = h('button', props, month);
    button.addEventListener('click', () => void showMonth(month));
    return button;
  }

  /** JSON from the dashboard's API; null when the session ended (the page reloads to sign in). */
  async function getJson(url) {
    const res = await fetch(url, { credentials: 'same-origin' });
    if (res.status === 401) {
      window.location.reload();
      return null;
    }
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail || `the dashboard answered ${res.status}`);
    return body;
  }

  function resetDetail() {
    $('movement-detail').replaceChildren(
      h('h3', { id: 'detail-title' }, 'Why a movement happened'),
      h('p', { class: 'muted' }, 'Choose a movement to see its subscriptions, their versions and the Stripe events behind it.'),
    );
  }

  function resetDrill() {
    chosenMonth = null;
    monthTicket++;
    detailTicket++;
    for (const b of monthButtons()) b.removeAttribute('aria-current');
    $('drill-title').textContent = 'Movements of a month';
    $('drill-status').textContent = 'No month chosen yet: choose one in the bridge above.';
    $('drill-list').replaceChildren();
    resetDetail();
  }

  async function showMonth(month) {
    const ticket = ++monthTicket;
    detailTicket++;
    chosenMonth = month;
    for (const b of monthButtons()) {
      if (b.dataset.month === month) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
    $('drill-title').textContent = `Movements of ${month}`;
    $('drill-status').textContent = `Loading the movements of ${month}…`;
    $('drill-list').setAttribute('aria-busy', 'true');
    resetDetail();
    let d;
    try {
      d = await getJson(`/v1/dashboard/movements?month=${encodeURIComponent(month)}&currency=${encodeURIComponent(currency)}`);
    } catch (err) {
      if (ticket !== monthTicket) return;
      $('drill-list').removeAttribute('aria-busy');
      $('drill-status').textContent = `Could not load the movements of ${month}: ${err.message}`;
      return;
    }
    if (!d || ticket !== monthTicket) return;
    const shown = d.movements.length;
    $('drill-status').textContent =
      `${d.total} movement${d.total === 1 ? '' : 's'} in ${month} (${d.currency.toUpperCase()})` + (d.total > shown ? `; the first ${shown} are listed` : '') + '.';
    $('drill-list').replaceChildren(
      table(
        [
          { key: 'at', label: 'When (UTC)' },
          { key: 'customer_id', label: 'Customer' },
          { key: 'movement', label: 'Movement', format: (m) => h('span', { class: `tag ${m}` }, m) },
          { key: 'delta_cents', label: 'Change', num: true, format: signedExact },
          { key: 'mrr_before_cents', label: 'MRR before', num: true, format: exact },
          { key: 'mrr_after_cents', label: 'MRR after', num: true, format: exact },
          { key: 'stripe_event_id', label: 'Stripe event', format: (e) => h('code', {}, e) },
          { key: 'seq', label: 'Why', format: (_, m) => movementButton(m) },
        ],
        d.movements,
      ),
    );
    $('drill-list').removeAttribute('aria-busy');
  }

  function movementButton(m) {
    const label = `Details: ${m.movement} of ${m.customer_id} at ${m.at} UTC`;
    const button = h('button', { type: 'button', class: 'link', 'data-customer': m.customer_id, 'data-seq': String(m.seq), 'aria-label': label }, 'Details');
    button.addEventListener('click', () => {
      for (const b of $('drill-list').querySelectorAll('button[data-seq]')) b.removeAttribute('aria-current');
      button.setAttribute('aria-current', 'true');
      void showMovement(m);
    });
    return button;
  }

  async function showMovement(m) {
    const ticket = ++detailTicket;
    const panel = $('movement-detail');
    // aria-busy: the live region is read once, when it is complete.
    panel.setAttribute('aria-busy', 'true');
    panel.replaceChildren(h('h3', { id: 'detail-title' }, `${m.movement} of ${m.customer_id}`), h('p', { class: 'muted' }, 'Loading…'));
    let d;
    try {
      d = await getJson(`/v1/dashboard/movements/${encodeURIComponent(m.customer_id)}/${encodeURIComponent(m.seq)}?currency=${encodeURIComponent(currency)}`);
    } catch (err) {
      if (ticket !== detailTicket) return;
      panel.replaceChildren(h('h3', { id: 'detail-title' }, `${m.movement} of ${m.customer_id}`), h('p', { class: 'error' }, `Could not load it: ${err.message}`));
      panel.removeAttribute('aria-busy');
      return;
    }
    if (!d || ticket !== detailTicket) return;
    const mv = d.movement;
    panel.replaceChildren(
      h('h3', { id: 'detail-title' }, `${mv.movement} of ${mv.customer_id}: ${signedExact(mv.delta_cents)}`),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'When (UTC)'),
        h('dd', {}, mv.at),
        h('dt', {}, 'MRR'),
        h('dd', {}, `${exact(mv.mrr_before_cents)} → ${exact(mv.mrr_after_cents)}`),
        h('dt', {}, 'Stripe event'),
        h('dd', {}, h('code', { class: 'event-id' }, mv.stripe_event_id)),
      ),
      h('h4', {}, 'Subscriptions whose MRR changed at this event'),
      table(
        [
          { key: 'subscription_id', label: 'Subscription', format: (s) => h('code', {}, s) },
          { key: 'subscription_mrr_before_cents', label: 'Before', num: true, format: exact },
          { key: 'subscription_mrr_after_cents', label: 'After', num: true, format: exact },
          { key: 'delta_cents', label: 'Part of the change', num: true, format: signedExact },
          { key: 'stripe_event_id', label: 'Stripe event', format: (e) => h('code', { class: 'event-id' }, e) },
        ],
        d.subscriptions,
      ),
      h('h4', {}, 'Subscription versions'),
      h(
        'p',
        { class: 'muted' },
        "Each subscription as the MRR projection stored it from its Stripe event (the version in force at the movement and the one before); the Stripe event itself, as received, is read from the Kafka topic on request. Personal fields are masked (•••).",
      ),
      ...(d.versions.length ? d.versions.map((v) => versionView(mv.customer_id, v)) : [h('p', { class: 'muted' }, 'No subscription version found.')]),
    );
    panel.removeAttribute('aria-busy');
  }

  function versionView(customerId, v) {
    const what = v.at_movement_event ? 'from this event' : 'in force before';
    const raw = h('div', { class: 'raw-event', 'aria-live': 'polite' });
    const button = h('button', { type: 'button', class: 'linkish' }, `Show Stripe event ${v.event_id} as received`);
    button.addEventListener('click', () => void showRawEvent(customerId, v.event_id, raw, button));
    return h(
      'article',
      { class: 'version' },
      h('h5', {}, h('code', {}, v.subscription_id), ` — version ${what}`),
      h('p', {}, 'Stripe event ', h('code', { class: 'event-id' }, v.event_id), ` at ${v.at} UTC`),
      // Focusable: a keyboard user can scroll a long state.
      h('pre', { tabindex: '0', 'aria-label': `State of ${v.subscription_id} ${what}` }, JSON.stringify(v.state, null, 2)),
      button,
      raw,
    );
  }

  /** The raw Stripe event (masked) from stripe.events.v1: a throwaway consumer reads it, so it takes a moment. */
  async function showRawEvent(customerId, eventId, into, button) {
    button.disabled = true;
    into.setAttribute('aria-busy', 'true');
    into.replaceChildren(h('p', { class: 'muted' }, 'Reading the event from Kafka…'));
    try {
      const e = await getJson(`/v1/dashboard/stripe-events/${encodeURIComponent(customerId)}/${encodeURIComponent(eventId)}`);
      if (!e) return;
      into.replaceChildren(
        h('p', {}, `Received ${e.received_at} (${e.source}), stripe.events.v1 partition ${e.partition} offset ${e.offset}`),
        h('pre', { tabindex: '0', class: 'raw-json', 'aria-label': `Stripe event ${eventId} as received` }, JSON.stringify(e.event, null, 2)),
      );
    } catch (err) {
      into.replaceChildren(h('p', { class: 'error' }, `Could not read it: ${err.message}`));
      button.disabled = false;
    } finally {
      into.removeAttribute('aria-busy');
    }
  }

  async function load() {
    const res = await fetch(`/v1/dashboard${currency ? `?currency=${encodeURIComponent(currency)}` : ''}`, { credentials: 'same-origin' });
    if (res.status === 401) {
      window.location.reload();
      return;
    }
    const data = await res.json();
    render(data);
    renderOperations(data);
  }

  $('currency').addEventListener('change', (e) => {
    currency = e.target.value;
    resetDrill();
    void load();
  });
  void load();
  window.setInterval(() => void load(), 15000);
})();
