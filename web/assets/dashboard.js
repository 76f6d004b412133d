// Eventline analyst dashboard: fetches /v1/dashboard and renders it. Builds the DOM with
// textContent only (data never becomes markup). Chart.js draws the daily MRR and the monthly
// movements. The filters (currency, months from..to) live in the URL, so a reload, a shared link
// or the back button shows the same view. A month of the bridge drills down to its movements
// (/v1/dashboard/movements), a movement to why it happened. Every table exports as CSV (csv.js).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const csv = window.EventlineCsv;
  const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
  // The view asked for: '' leaves a filter to the server's default (largest currency, last 12 months).
  let view = viewFromUrl();
  // The currency of the data shown (the server's answer to view.currency), for money formats.
  let currency = view.currency;
  let dailyChart = null;
  let movementsChart = null;
  // A navigation (first load, Apply, back/forward) is on its way: the refresh waits for it.
  let navigating = false;
  // The drill-down's choice survives the 15-second refresh, which redraws the bridge.
  let chosenMonth = null;
  // A later request wins over an answer still on its way: each load keeps its ticket and drops its
  // answer when a newer one was issued.
  let loadTicket = 0;
  let monthTicket = 0;
  let detailTicket = 0;

  function viewFromUrl() {
    const q = new URLSearchParams(window.location.search);
    return { currency: q.get('currency') || '', from: q.get('from') || '', to: q.get('to') || '' };
  }

  /** `?currency=&from=&to=` of a view, without the filters left to the server. */
  function query(v) {
    const q = new URLSearchParams();
    for (const k of ['currency', 'from', 'to']) if (v[k]) q.set(k, v[k]);
    const text = q.toString();
    return text ? `?${text}` : '';
  }

  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
    return node;
  }

  const upper = () => (currency || 'usd').toUpperCase();
  const money = (cents) => new Intl.NumberFormat(undefined, { style: 'currency', currency: upper(), maximumFractionDigits: 0 }).format(Number(cents || 0) / 100);
  // Operations rows carry their own currency.
  const moneyIn = (cents, code) => new Intl.NumberFormat(undefined, { style: 'currency', currency: String(code || currency || 'usd').toUpperCase(), maximumFractionDigits: 0 }).format(Number(cents || 0) / 100);
  const signed = (cents) => (Number(cents) > 0 ? '+' : '') + money(cents);
  // One movement is read to the cent (the bridge rounds to whole units).
  const exact = (cents) => new Intl.NumberFormat(undefined, { style: 'currency', currency: upper(), minimumFractionDigits: 2 }).format(Number(cents || 0) / 100);
  const signedExact = (cents) => (Number(cents) > 0 ? '+' : '') + exact(cents);
  /** Millionths of a currency (messaging prices), with four decimals. */
  const micros = (v) => (v == null ? '–' : (Number(v) / 1e6).toFixed(4));
  const pct = (x) => (x == null ? '–' : `${(Number(x) * 100).toFixed(1)}%`);
  const signedPct = (x) => (x == null ? '–' : (Number(x) > 0 ? '+' : '') + pct(x));
  /** A p-value to 3 significant digits: 0.00512, 1.53e-5. */
  const pValue = (x) => (x == null ? '–' : Number(x).toPrecision(3));
  const ratio = (x) => (x == null ? '–' : Number(x).toFixed(2));
  const orDash = (format) => (x) => (x == null ? '–' : format(x));
  const today = () => new Date().toISOString().slice(0, 10);

  // ------------------------------------------------------------ tables and their CSV

  /**
   * A column: `key` of the row, `label`, `num` (right-aligned), `format` (what the cell shows).
   * For the CSV: `cents` (money: the raw integer, its unit in the header; 'own' when the row has
   * its own currency column, 'summed' for sums across currencies), `ratio` (the raw ratio, 1 =
   * 100%), `csvHeader` and `csvValue` to say it differently, `csv: false` to leave it out.
   */
  function csvColumns(columns) {
    return columns
      .filter((c) => c.csv !== false)
      .map((c) => {
        const unit =
          c.cents === 'own' ? ' (cents, in the row currency)' : c.cents === 'summed' ? ' (cents, all currencies summed)' : c.cents ? ` (${upper()} cents)` : c.ratio ? ' (ratio, 1 = 100%)' : '';
        return { header: c.csvHeader || `${c.label}${unit}`, value: c.csvValue ? (r) => c.csvValue(r[c.key], r) : (r) => r[c.key] };
      });
  }

  /**
   * An Export CSV button for a table. `exp`: `id` (stable, to keep the focus across redraws),
   * `title` (what the button's accessible name and the announcement say) and `file` (its name).
   */
  function exportButton(exp, columns, rows) {
    const button = h('button', { type: 'button', class: 'export', 'data-export': exp.id }, 'Export CSV', h('span', { class: 'sr-only' }, ` of ${exp.title}`));
    button.addEventListener('click', () => {
      csv.download(exp.file, csv.toCsv(columns, rows));
      $('export-status').textContent = `Exported ${rows.length} row${rows.length === 1 ? '' : 's'} of ${exp.title} to ${exp.file}.`;
    });
    return button;
  }

  /** Fraudulent / Legitimate buttons for a scored payment; the answer replaces them. */
  function reviewButtons(paymentId) {
    const cell = h('span', { class: 'review' });
    const status = h('span', { role: 'status' });
    const button = (label, text) => {
      const b = h('button', { type: 'button', 'data-review': label, 'aria-label': `${text}: ${paymentId}` }, text);
      b.addEventListener('click', async () => {
        for (const x of cell.querySelectorAll('button')) x.disabled = true;
        try {
          const res = await fetch('/v1/dashboard/reviews', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ payment_id: paymentId, label }) });
          if (!res.ok) throw new Error(((await res.json().catch(() => ({}))).detail) || `HTTP ${res.status}`);
          cell.replaceChildren(h('span', { class: `tag ${label === 'fraudulent' ? 'failed' : 'sent'}` }, `labelled ${label}`));
        } catch (err) {
          status.textContent = `Not labelled: ${err.message}`;
          for (const x of cell.querySelectorAll('button')) x.disabled = false;
        }
      });
      return b;
    };
    cell.append(button('fraudulent', 'Fraudulent'), ' ', button('legitimate', 'Legitimate'), status);
    return cell;
  }

  function table(columns, rows, exp) {
    if (!rows.length) return h('p', { class: 'muted' }, 'Nothing yet.');
    const t = h(
      'table',
      {},
      ...(exp ? [h('caption', { class: 'sr-only' }, exp.title)] : []),
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { class: c.num ? 'num' : '', scope: 'col' }, c.label)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...columns.map((c) => h('td', { class: c.num ? 'num' : '' }, c.format ? c.format(r[c.key], r) : r[c.key]))))),
    );
    if (!exp) return t;
    return h('div', { class: 'table-block' }, h('div', { class: 'toolbar' }, exportButton(exp, csvColumns(columns), rows)), t);
  }

  /** The file name of a table of the chosen currency and months: eventline-mrr-monthly-usd-2026-01_2026-12.csv. */
  const rangeFile = (d, name) => csv.fileName([name, d.currency, `${d.range.from}_${d.range.to}`]);

  function kpi(label, value, note) {
    return h('div', { class: 'kpi' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note ? h('div', { class: 'note' }, note) : '');
  }

  // ------------------------------------------------------------ SaaS tiles

  /**
   * The SaaS metrics of the range's last month (saas_metrics_monthly). A metric the view leaves
   * NULL shows "—" and says why (docs/analytics.md): in a title for the pointer, in a note for
   * everyone else.
   */
  function renderTiles(d) {
    const s = d.saas[0];
    if (!s) {
      $('tiles-title').textContent = 'SaaS metrics';
      $('saas-tiles').replaceChildren(h('p', { class: 'muted' }, `No SaaS metrics for ${d.range.from} to ${d.range.to} in ${upper()}.`));
      return;
    }
    const partial = s.month === today().slice(0, 7) ? ' (month to date)' : '';
    $('tiles-title').textContent = `SaaS metrics, ${s.month}${partial}`;
    const noStart = `No paying customers at the start of ${s.month}`;
    const ltvWhy =
      s.customers_opening === 0
        ? `${noStart}: the logo churn rate LTV divides by is undefined.`
        : s.customers_closing === 0
          ? `No paying customers at the end of ${s.month}: no ARPA.`
          : `No customer churned in ${s.month}: LTV = ARPA / logo churn rate divides by zero.`;
    const tile = (metric, label, value, format, why) =>
      h(
        'div',
        { class: 'kpi', 'data-metric': metric },
        h('dt', { class: 'label' }, label),
        value == null ? h('dd', { class: 'value', title: why }, '—') : h('dd', { class: 'value' }, format(value)),
        value == null ? h('dd', { class: 'note' }, why) : '',
      );
    $('saas-tiles').replaceChildren(
      tile('arr', 'ARR', s.arr_cents, money),
      tile('net-new-mrr', 'Net new MRR', s.net_new_mrr_cents, signed),
      tile('quick-ratio', 'Quick ratio', s.quick_ratio, ratio, `No contraction or churn in ${s.month}: nothing to divide by.`),
      tile('nrr', 'NRR', s.nrr, pct, `${noStart}: nothing to retain.`),
      tile('grr', 'GRR', s.grr, pct, `${noStart}: nothing to retain.`),
      tile('logo-churn', 'Logo churn', s.logo_churn_rate, pct, `${noStart}: nobody could churn.`),
      tile('arpa', 'ARPA', s.arpa_cents, money, `No paying customers at the end of ${s.month}.`),
      tile('ltv', 'LTV', s.ltv_cents, money, ltvWhy),
    );
  }

  // ------------------------------------------------------------ charts

  const CHART_OPTIONS = { animation: false, maintainAspectRatio: false };

  function renderDailyChart(d) {
    const canvas = $('mrr-chart');
    const last = d.daily[d.daily.length - 1];
    canvas.setAttribute('aria-label', `Line chart: ${upper()} MRR at the end of each day, ${d.range.from} to ${d.range.to}` + (last ? `; ${money(last.mrr_cents)} on ${last.day}.` : '; no days.'));
    if (dailyChart) dailyChart.destroy();
    dailyChart = new window.Chart(canvas, {
      type: 'line',
      data: {
        labels: d.daily.map((x) => x.day),
        datasets: [{ label: `MRR (${upper()})`, data: d.daily.map((x) => Number(x.mrr_cents) / 100), borderColor: '#1f6feb', backgroundColor: 'rgba(31,111,235,0.08)', fill: true, pointRadius: 0, tension: 0.15 }],
      },
      options: { ...CHART_OPTIONS, plugins: { legend: { display: false } }, scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { beginAtZero: true } } },
    });
  }

  // Colours at least 3:1 against the white card (WCAG 1.4.11); a white edge parts adjacent bars.
  const MOVEMENTS = [
    { key: 'new_cents', label: 'New', color: '#116329' },
    { key: 'expansion_cents', label: 'Expansion', color: '#2da44e' },
    { key: 'reactivation_cents', label: 'Reactivation', color: '#0969da' },
    { key: 'contraction_cents', label: 'Contraction', color: '#bc4c00' },
    { key: 'churn_cents', label: 'Churn', color: '#a40e26' },
  ];
  const netNew = (m) => MOVEMENTS.reduce((sum, k) => sum + Number(m[k.key] || 0), 0);

  /**
   * The bridge as stacked bars: new, expansion and reactivation up, contraction and churn down
   * (the view keeps them negative; Chart.js stacks each sign apart), net new MRR as a line over them.
   */
  function renderMovementsChart(d) {
    const canvas = $('movements-chart');
    canvas.setAttribute('aria-label', `Stacked bar chart: ${upper()} MRR movements by month, ${d.range.from} to ${d.range.to}, with net new MRR as a line.`);
    if (movementsChart) movementsChart.destroy();
    movementsChart = new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: d.monthly.map((m) => m.month),
        datasets: [
          ...MOVEMENTS.map((k) => ({ type: 'bar', label: k.label, stack: 'movements', data: d.monthly.map((m) => Number(m[k.key]) / 100), backgroundColor: k.color, borderColor: '#fff', borderWidth: 1 })),
          { type: 'line', label: 'Net new MRR', stack: 'net', data: d.monthly.map((m) => netNew(m) / 100), borderColor: '#1f2933', backgroundColor: '#1f2933', pointRadius: 3, borderWidth: 2, order: -1 },
        ],
      },
      options: {
        ...CHART_OPTIONS,
        interaction: { mode: 'index', intersect: false },
        // `order: -1` draws the line over the bars; legend and tooltip keep the datasets' own order.
        plugins: {
          legend: { labels: { sort: (a, b) => a.datasetIndex - b.datasetIndex } },
          tooltip: { itemSort: (a, b) => a.datasetIndex - b.datasetIndex, callbacks: { label: (c) => `${c.dataset.label}: ${signed(Math.round(c.parsed.y * 100))}` } },
        },
        scales: { x: { stacked: true }, y: { stacked: true, ticks: { callback: (v) => money(Number(v) * 100) } } },
      },
    });
  }

  // ------------------------------------------------------------ the filters and the URL

  function showFilterError(message, field) {
    $('filter-error').textContent = message;
    for (const id of ['from', 'to']) {
      if (id === field) $(id).setAttribute('aria-invalid', 'true');
      else $(id).removeAttribute('aria-invalid');
    }
    if (field) $(field).focus();
  }

  function clearFilterError() {
    showFilterError('', null);
  }

  /** The form as the answer has it: the currencies there are, the one shown, the months shown. */
  function fillFilters(d) {
    $('currency').replaceChildren(...(d.currencies.length ? d.currencies : [d.currency]).map((c) => h('option', c === d.currency ? { value: c, selected: '' } : { value: c }, c.toUpperCase())));
    $('currency').value = d.currency;
    $('from').value = d.range.from;
    $('to').value = d.range.to;
  }

  /**
   * Loads a view. `how`: 'navigate' (first load, back/forward: the URL is already the view's),
   * 'apply' (the form: the URL follows once the server has accepted it, as a new history entry),
   * 'refresh' (the timer: same view, quiet, the form left as the analyst is editing it).
   */
  async function load(next, how) {
    const ticket = ++loadTicket;
    if (how !== 'refresh') {
      navigating = true;
      $('app').setAttribute('aria-busy', 'true');
    }
    let d;
    try {
      d = await getJson(`/v1/dashboard${query(next)}`);
    } catch (err) {
      if (ticket !== loadTicket) return;
      navigating = false;
      $('app').removeAttribute('aria-busy');
      // A failed refresh keeps the figures shown; the next one tries again.
      if (how !== 'refresh') showFilterError(`Could not load the dashboard: ${err.message}`, null);
      return;
    }
    if (!d || ticket !== loadTicket) return;
    navigating = false;
    $('app').removeAttribute('aria-busy');
    if (how !== 'refresh') {
      // Keep what was asked for in the URL, with the currency the server actually shows (an unknown
      // one falls back to the largest): reloading it shows this very view.
      const shown = { ...next, currency: next.currency ? d.currency : '' };
      const url = `${window.location.pathname}${query(shown)}`;
      if (how === 'apply' && url !== `${window.location.pathname}${window.location.search}`) window.history.pushState(shown, '', url);
      else window.history.replaceState(shown, '', url);
      view = shown;
      clearFilterError();
      fillFilters(d);
    }
    // Redrawing replaces the tables' buttons: a keyboard user on one keeps the focus.
    const focused = focusKey(document.activeElement);
    render(d);
    renderOperations(d);
    if (focused) {
      const again = document.querySelector(focused);
      if (again) again.focus();
    }
    const status = `Showing ${d.range.from} to ${d.range.to} in ${d.currency.toUpperCase()}.`;
    if ($('range-status').textContent !== status) $('range-status').textContent = status;
  }

  /** A selector finding a redrawn button again. */
  function focusKey(el) {
    if (!el || !el.dataset) return null;
    if (el.dataset.month) return `#monthly button[data-month="${el.dataset.month}"]`;
    if (el.dataset.export) return `button[data-export="${el.dataset.export}"]`;
    return null;
  }

  // ------------------------------------------------------------ the page

  function render(d) {
    currency = d.currency;
    $('kpis').replaceChildren(
      kpi('MRR now', money(d.kpis.mrrCents)),
      kpi('Paying customers', String(d.kpis.payingCustomers)),
      kpi('Net new MRR this month', signed(d.kpis.netNewCents)),
      kpi('Churned MRR this month', money(-d.kpis.churnCents)),
      kpi('ARPA', d.kpis.arpaCents == null ? '–' : money(d.kpis.arpaCents)),
      kpi('Past due MRR', d.status ? money(d.status.pastDueCents) : '–', 'delinquent, still counted'),
      kpi('Set to cancel', d.status ? money(d.status.scheduledChurnCents) : '–', 'MRR already scheduled to churn'),
    );
    renderTiles(d);
    renderDailyChart(d);
    renderMovementsChart(d);
    $('monthly').replaceChildren(
      table(
        [
          { key: 'month', label: 'Month', format: monthButton },
          { key: 'opening_mrr_cents', label: 'Opening', num: true, format: money, cents: true },
          { key: 'new_cents', label: 'New', num: true, format: money, cents: true },
          { key: 'expansion_cents', label: 'Expansion', num: true, format: money, cents: true },
          { key: 'contraction_cents', label: 'Contraction', num: true, format: money, cents: true },
          { key: 'churn_cents', label: 'Churn', num: true, format: money, cents: true },
          { key: 'reactivation_cents', label: 'Reactivation', num: true, format: money, cents: true },
          { key: 'net_new_cents', label: 'Net new', num: true, format: (_, m) => signed(netNew(m)), cents: true, csvValue: (_, m) => netNew(m) },
          { key: 'closing_mrr_cents', label: 'Closing', num: true, format: money, cents: true },
        ],
        d.monthly,
        { id: 'mrr-monthly', title: 'the MRR bridge', file: rangeFile(d, 'mrr-monthly') },
      ),
    );
    $('saas').replaceChildren(
      table(
        [
          { key: 'month', label: 'Month' },
          { key: 'arr_cents', label: 'ARR', num: true, format: money, cents: true },
          { key: 'net_new_mrr_cents', label: 'Net new MRR', num: true, format: signed, cents: true },
          { key: 'customers_closing', label: 'Customers', num: true },
          { key: 'new_customers', label: 'New', num: true },
          { key: 'churned_customers', label: 'Churned', num: true },
          { key: 'quick_ratio', label: 'Quick ratio', num: true, format: ratio },
          { key: 'gross_mrr_churn_rate', label: 'Gross MRR churn', num: true, format: pct, ratio: true },
          { key: 'grr', label: 'GRR', num: true, format: pct, ratio: true },
          { key: 'nrr', label: 'NRR', num: true, format: pct, ratio: true },
          { key: 'logo_churn_rate', label: 'Logo churn', num: true, format: pct, ratio: true },
          { key: 'arpa_cents', label: 'ARPA', num: true, format: orDash(money), cents: true },
          { key: 'ltv_cents', label: 'LTV', num: true, format: orDash(money), cents: true },
        ],
        d.saas,
        { id: 'saas-metrics', title: 'the SaaS metrics by month', file: rangeFile(d, 'saas-metrics') },
      ),
    );
    $('movements').replaceChildren(
      table(
        [
          { key: 'at', label: 'When (UTC)' },
          { key: 'customer_id', label: 'Customer' },
          { key: 'movement', label: 'Movement', format: (m) => h('span', { class: `tag ${m}` }, m) },
          { key: 'delta_cents', label: 'Change', num: true, format: signed, cents: true },
          { key: 'mrr_after_cents', label: 'MRR after', num: true, format: money, cents: true },
        ],
        d.movements,
        { id: 'latest-movements', title: 'the latest movements', file: rangeFile(d, 'latest-movements') },
      ),
    );
    renderCohorts(d);
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
          { key: 'delivery_rate', label: 'Delivery rate', num: true, format: pct, ratio: true },
          { key: 'open_rate', label: 'Open rate', num: true, format: pct, ratio: true },
        ],
        d.delivery,
        { id: 'delivery', title: 'the delivery of the last 30 days', file: csv.fileName(['delivery-30-days-to', today()]) },
      ),
    );
    $('providers').replaceChildren(
      table(
        [
          { key: 'channel', label: 'Channel' },
          { key: 'provider', label: 'Provider' },
          { key: 'sent', label: 'Sent', num: true },
          { key: 'delivered', label: 'Delivered', num: true },
          { key: 'failed', label: 'Failed', num: true },
          { key: 'success_rate', label: 'Success rate', num: true, format: pct, ratio: true },
          { key: 'failovers', label: 'Failovers', num: true },
          { key: 'probes', label: 'Probes', num: true },
          { key: 'currency', label: 'Currency', format: (v) => (v ? String(v).toUpperCase() : '–') },
          { key: 'cost_micros', label: 'Cost', num: true, format: micros, csvHeader: 'Cost (millionths of the currency)' },
        ],
        d.providers,
        { id: 'providers', title: 'the providers of the last 30 days', file: csv.fileName(['providers-30-days-to', today()]) },
      ),
    );
    renderExperiments(d);
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
        { id: 'notifications', title: 'the latest notifications', file: csv.fileName(['notifications', today()]) },
      ),
    );
  }

  const WAITING = 'no winner yet: needs ≥ 100 delivered per variant';

  /**
   * The template experiments, one row per experiment and variant. The view names a winner only
   * once every variant of an experiment (and template) has 100 delivered; until then, with no
   * winner, each of its rows says so. The winner is said in words, not by colour alone.
   */
  function renderExperiments(d) {
    const group = (r) => JSON.stringify([r.experiment, r.template]);
    const decided = new Set(d.experiments.filter((r) => r.winner).map(group));
    const short = new Set(d.experiments.filter((r) => Number(r.delivered) < 100).map(group));
    const verdict = (r) => (r.winner ? 'winner' : !decided.has(group(r)) && short.has(group(r)) ? WAITING : '');
    $('experiments').replaceChildren(
      table(
        [
          { key: 'experiment', label: 'Experiment' },
          { key: 'template', label: 'Template' },
          { key: 'variant', label: 'Variant' },
          { key: 'sent', label: 'Sent', num: true },
          { key: 'delivered', label: 'Delivered', num: true },
          { key: 'opened', label: 'Opened', num: true },
          { key: 'clicked', label: 'Clicked', num: true },
          { key: 'open_rate', label: 'Open rate', num: true, format: pct, ratio: true },
          { key: 'click_rate', label: 'Click rate', num: true, format: pct, ratio: true },
          { key: 'click_lift_vs_control', label: 'Click lift vs control', num: true, format: signedPct, ratio: true },
          { key: 'p_value', label: 'p-value', num: true, format: pValue },
          {
            key: 'winner',
            label: 'Winner',
            format: (_, r) => (r.winner ? h('span', { class: 'tag winner' }, 'Winner') : verdict(r) || '–'),
            csvValue: (_, r) => verdict(r),
          },
        ],
        d.experiments,
        { id: 'experiments', title: 'the template experiments', file: csv.fileName(['template-experiments', today()]) },
      ),
    );
  }

  /** Cohorts as a heat table; its CSV is the rows behind it, one per cohort and month, counts and MRR included. */
  function renderCohorts(d) {
    const cohorts = new Map();
    for (const c of d.cohorts) {
      if (!cohorts.has(c.cohort_month)) cohorts.set(c.cohort_month, { size: c.cohort_customers, cells: [] });
      cohorts.get(c.cohort_month).cells[c.months_since_start] = c.cohort_customers ? c.retained_customers / c.cohort_customers : null;
    }
    if (!cohorts.size) {
      $('cohorts').replaceChildren(h('p', { class: 'muted' }, 'Nothing yet.'));
      return;
    }
    const width = Math.max(1, ...[...cohorts.values()].map((c) => c.cells.length));
    const title = 'the cohorts: logo retention';
    const heat = h(
      'table',
      { class: 'heat' },
      h('caption', { class: 'sr-only' }, title),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Cohort'), h('th', { class: 'num', scope: 'col' }, 'Size'), ...Array.from({ length: width }, (_, k) => h('th', { class: 'num', scope: 'col' }, `M${k}`)))),
      h(
        'tbody',
        {},
        ...[...cohorts].map(([month, c]) => {
          const cells = Array.from({ length: width }, (_, k) => {
            const td = h('td', { class: 'num' }, c.cells[k] == null ? '' : pct(c.cells[k]));
            if (c.cells[k] != null) td.style.backgroundColor = `rgba(31,111,235,${(0.08 + 0.6 * c.cells[k]).toFixed(2)})`;
            return td;
          });
          return h('tr', {}, h('th', { scope: 'row' }, month), h('td', { class: 'num' }, c.size), ...cells);
        }),
      ),
    );
    const columns = csvColumns([
      { key: 'cohort_month', label: 'Cohort' },
      { key: 'months_since_start', label: 'Months since start' },
      { key: 'cohort_customers', label: 'Cohort customers' },
      { key: 'retained_customers', label: 'Retained customers' },
      { key: 'retention', label: 'Logo retention', ratio: true, csvValue: (_, r) => (r.cohort_customers ? r.retained_customers / r.cohort_customers : null) },
      { key: 'cohort_mrr_cents', label: 'Cohort MRR', cents: true },
      { key: 'retained_mrr_cents', label: 'Retained MRR', cents: true },
    ]);
    const exp = { id: 'cohorts', title, file: rangeFile(d, 'cohorts') };
    $('cohorts').replaceChildren(h('div', { class: 'table-block' }, h('div', { class: 'toolbar' }, exportButton(exp, columns, d.cohorts)), heat));
  }

  function renderOperations(d) {
    const day = today();
    $('dunning').replaceChildren(
      table(
        [
          { key: 'status', label: 'Status', format: (s) => h('span', { class: `tag ${s}` }, s) },
          { key: 'cases', label: 'Cases', num: true },
          { key: 'amount_cents', label: 'Amount due', num: true, format: money, cents: 'summed' },
        ],
        d.dunning.byStatus,
        { id: 'dunning-by-status', title: 'the dunning cases by status', file: csv.fileName(['dunning-by-status', day]) },
      ),
      table(
        [
          { key: 'opened', label: 'Opened' },
          { key: 'customer_id', label: 'Customer' },
          { key: 'status', label: 'Status', format: (s) => h('span', { class: `tag ${s}` }, s) },
          { key: 'amount_due_cents', label: 'Due', num: true, format: (c, r) => moneyIn(c, r.currency), cents: 'own' },
          { key: 'currency', label: 'Currency', format: (c) => String(c || '').toUpperCase() },
          { key: 'churn_risk', label: 'Churn risk', num: true },
          { key: 'reminders_sent', label: 'Reminders', num: true },
        ],
        d.dunning.latest,
        { id: 'dunning-latest', title: 'the latest dunning cases', file: csv.fileName(['dunning-latest', day]) },
      ),
      table(
        [
          { key: 'month', label: 'Month' },
          { key: 'currency', label: 'Currency', format: (c) => String(c || '').toUpperCase() },
          { key: 'decline_class', label: 'Decline' },
          { key: 'step', label: 'Last reminder' },
          { key: 'cases', label: 'Cases', num: true },
          { key: 'recovered', label: 'Recovered', num: true },
          { key: 'recovery_rate', label: 'Recovery rate', num: true, format: pct, ratio: true },
          { key: 'recovered_amount_cents', label: 'Recovered', num: true, format: (c, r) => moneyIn(c, r.currency), cents: 'own' },
          { key: 'recovered_mrr_cents', label: 'Recovered MRR', num: true, format: (c, r) => moneyIn(c, r.currency), cents: 'own' },
          { key: 'median_days', label: 'Median days', num: true },
        ],
        d.dunning.recovery,
        { id: 'dunning-recovery', title: 'dunning recovery by month, decline class and last reminder', file: rangeFile(d, 'dunning-recovery') },
      ),
    );
    $('fraud').replaceChildren(
      table(
        [
          { key: 'at', label: 'When (UTC)' },
          { key: 'customer_id', label: 'Customer' },
          { key: 'amount_cents', label: 'Amount', num: true, format: (c, r) => moneyIn(c, r.currency), cents: 'own' },
          { key: 'currency', label: 'Currency', format: (c) => String(c || '').toUpperCase() },
          { key: 'score', label: 'Score', num: true },
          { key: 'action', label: 'Action', format: (a) => h('span', { class: `tag ${a === 'block' ? 'failed' : 'deferred'}` }, a) },
          { key: 'factor_names', label: 'Factors', format: (f) => (f || []).join(', ') },
          // A key with `admin` labels a payment (POST /v1/dashboard/reviews): what the back-test measures against.
          ...(d.canReview ? [{ key: 'payment_id', label: 'Review', csv: false, format: (id) => (id ? reviewButtons(id) : '') }] : []),
        ],
        d.fraud,
        { id: 'fraud', title: 'the payments not simply allowed', file: csv.fileName(['fraud', day]) },
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
        { id: 'outbox', title: 'the local outbox', file: csv.fileName(['outbox', day]) },
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
          { key: 'delta_cents', label: 'Change', num: true, format: signedExact, cents: true },
          { key: 'mrr_before_cents', label: 'MRR before', num: true, format: exact, cents: true },
          { key: 'mrr_after_cents', label: 'MRR after', num: true, format: exact, cents: true },
          { key: 'stripe_event_id', label: 'Stripe event', format: (e) => h('code', {}, e) },
          { key: 'seq', label: 'Why', format: (_, m) => movementButton(m), csvHeader: 'Seq (the movement among its customer\'s)' },
        ],
        d.movements,
        { id: 'month-movements', title: `the movements of ${month}`, file: csv.fileName(['movements', d.currency, month]) },
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
          { key: 'subscription_mrr_before_cents', label: 'Before', num: true, format: exact, cents: true },
          { key: 'subscription_mrr_after_cents', label: 'After', num: true, format: exact, cents: true },
          { key: 'delta_cents', label: 'Part of the change', num: true, format: signedExact, cents: true },
          { key: 'stripe_event_id', label: 'Stripe event', format: (e) => h('code', { class: 'event-id' }, e) },
        ],
        d.subscriptions,
        { id: 'movement-parts', title: `the subscriptions of this ${mv.movement}`, file: csv.fileName(['movement', mv.customer_id, String(mv.seq), d.currency]) },
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

  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const next = { currency: $('currency').value, from: $('from').value.trim(), to: $('to').value.trim() };
    // The server checks these and more (at most 10 years); said here, they point at the field.
    const problem = !MONTH.test(next.from)
      ? ['from', 'The first month must be a month as YYYY-MM.']
      : !MONTH.test(next.to)
        ? ['to', 'The last month must be a month as YYYY-MM.']
        : next.from > next.to
          ? ['to', `The last month (${next.to}) is before the first (${next.from}).`]
          : null;
    if (problem) {
      showFilterError(problem[1], problem[0]);
      return;
    }
    resetDrill();
    void load(next, 'apply');
  });
  // Back and forward: the entry's URL is the view.
  window.addEventListener('popstate', () => {
    resetDrill();
    void load(viewFromUrl(), 'navigate');
  });
  void load(view, 'navigate');
  window.setInterval(() => {
    if (!navigating) void load(view, 'refresh');
  }, 15000);
})();
