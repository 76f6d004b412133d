/** The dashboard's two HTML pages: sign-in with an API key, and the dashboard shell. */

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function layout(title: string, body: string, scripts: string[] = []): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title><link rel="stylesheet" href="/assets/dashboard.css"></head>
<body>${body}${scripts.map((s) => `<script src="${s}"></script>`).join('')}</body></html>`;
}

export function loginPage(error: string | null): string {
  return layout(
    'Eventline — sign in',
    `<main class="login"><h1>Eventline</h1><p>Paste an API key with the <code>read</code> scope (<code>eventline keys create --name me --scopes read</code> makes one).</p>
${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/login"><input type="password" name="key" autocomplete="off" placeholder="evl_…" required autofocus>
<button type="submit">Sign in</button></form></main>`,
  );
}

/**
 * The dashboard shell; web/assets/dashboard.js fills it in. The filter form is a plain GET form on
 * `/`: the script applies it in place and keeps it in the URL (history), and without the script it
 * still reloads the page with `?currency=&from=&to=`, which the script reads.
 */
export function dashboardPage(namespace: string | null): string {
  return layout(
    'Eventline dashboard',
    `<header><h1>Eventline${namespace ? ` <small>${escape(namespace)}</small>` : ''}</h1>
<form id="filters" class="filters" method="get" action="/" aria-label="Dashboard filters">
<label for="currency">Currency</label> <select id="currency" name="currency"></select>
<label for="from">From month</label> <input type="month" id="from" name="from" min="0001-01" max="9999-12" placeholder="YYYY-MM" aria-describedby="filter-error range-hint">
<label for="to">To month</label> <input type="month" id="to" name="to" min="0001-01" max="9999-12" placeholder="YYYY-MM" aria-describedby="filter-error range-hint">
<button type="submit">Apply</button>
<span id="range-hint" class="sr-only">Whole UTC months, both included, at most 10 years.</span>
</form>
<form method="post" action="/logout"><button type="submit" class="link">Sign out</button></form></header>
<main id="app">
<p id="filter-error" class="error" role="alert"></p>
<p id="range-status" class="muted" role="status" aria-live="polite">Loading…</p>
<p id="export-status" class="sr-only" role="status" aria-live="polite"></p>
<section class="kpis" id="kpis" aria-label="Today"></section>
<section aria-labelledby="tiles-title"><h2 id="tiles-title">SaaS metrics</h2><dl class="tiles" id="saas-tiles"></dl></section>
<section><h2>MRR, end of day</h2><div class="chart"><canvas id="mrr-chart" role="img" aria-label="MRR at the end of each day"></canvas></div></section>
<section aria-labelledby="movements-chart-title"><h2 id="movements-chart-title">MRR movements by month</h2>
<p id="movements-chart-desc" class="muted">New, expansion and reactivation stack up; contraction and churn stack down; the line is net new MRR. The MRR bridge table below holds the same figures.</p>
<div class="chart"><canvas id="movements-chart" role="img" aria-label="MRR movements by month" aria-describedby="movements-chart-desc"></canvas></div></section>
<section aria-labelledby="bridge-title"><h2 id="bridge-title">MRR bridge by month</h2><p class="muted">Choose a month to list its movements.</p><div id="monthly"></div></section>
<section id="drill" aria-labelledby="drill-title"><h2 id="drill-title">Movements of a month</h2>
<p id="drill-status" class="muted" role="status" aria-live="polite">No month chosen yet: choose one in the bridge above.</p>
<div id="drill-list"></div>
<div id="movement-detail" class="detail" role="region" aria-live="polite" aria-labelledby="detail-title">
<h3 id="detail-title">Why a movement happened</h3><p class="muted">Choose a movement to see its subscriptions, their versions and the Stripe events behind it.</p></div></section>
<section><h2>SaaS metrics by month</h2><div id="saas"></div></section>
<section class="two"><div><h2>Latest movements</h2><div id="movements"></div></div>
<div><h2>Cohorts: logo retention</h2><div id="cohorts"></div></div></section>
<p class="muted">Above: the chosen currency and months. Below: every currency, in their own time windows.</p>
<section><h2>Delivery, last 30 days</h2><div id="delivery"></div></section>
<section aria-labelledby="providers-title"><h2 id="providers-title">Providers, last 30 days</h2><p class="muted">Delivered against failed per provider, messages taken over from another (failovers) or sent as a recovering provider's probe, and what was spent at the prices recorded when each was sent.</p><div id="providers"></div></section>
<section aria-labelledby="experiments-title"><h2 id="experiments-title">Template experiments</h2><p class="muted">Every experiment over all time (the view has no dates to filter by): each variant's unique messages, open and click rates per delivered message, its click lift and two-sided p-value against the control, and the winner, named only once every variant has 100 delivered.</p><div id="experiments"></div></section>
<section class="two"><div><h2>Dunning</h2><p class="muted">Cases by status, the latest cases, and recovery: per month a case opened, decline class and the last reminder before it closed, how many recovered, what they brought back (amount and list MRR) and the median days to recover.</p><div id="dunning"></div></div>
<div><h2>Fraud: payments not simply allowed</h2><div id="fraud"></div></div></section>
<section><h2>Latest notifications</h2><div id="notifications"></div></section>
<section><h2>Local outbox <small class="muted">(email and SMS "sent" without provider credentials)</small></h2><div id="outbox"></div></section>
<p class="muted">Numbers come from the <code>analytics</code> views (see docs/analytics.md); money in the selected currency. Each table's <em>Export CSV</em> writes what the page holds, money in cents.</p>
</main>`,
    ['/assets/chart.js', '/assets/csv.js', '/assets/dashboard.js'],
  );
}
