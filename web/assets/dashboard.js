// Eventline analyst dashboard: fetches /v1/dashboard and renders it. Builds the DOM with
// textContent only (data never becomes markup). Chart.js draws the MRR chart.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let currency = new URLSearchParams(window.location.search).get('currency') || '';
  let chart = null;

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
    $('monthly').replaceChildren(
      table(
        [
          { key: 'month', label: 'Month' },
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
    void load();
  });
  void load();
  window.setInterval(() => void load(), 15000);
})();
