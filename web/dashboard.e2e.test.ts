/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core): an analyst signs
 * in with a key, chooses a month of the MRR bridge, then a movement, and reads why it happened; and
 * sets the currency and months through the filters, reloads, goes back, and exports tables as CSV.
 * Every figure read from the page or a file is checked against SQL on the analytics views.
 * Screenshots of each step, and the exported files, go to test-artifacts/ (infra/ensure-chromium.sh
 * installs chromium).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Download, type Page } from 'playwright-core';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { activeVersion } from '../lib/projection-versions.ts';
import { buildVersion } from '../lib/projection.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { deliveryProjection } from '../projections/delivery/main.ts';
import type { DeliveryEventReceived, DeliveryKind, FraudScored, NotificationDispatched, PaymentLabeled } from '../lib/topics.ts';
import { fraudProjection } from '../projections/fraud/main.ts';
import { collect } from '../test/support/consume.ts';
import { stripeHistory, apiVersionAt } from '../cli/demo/stripe-history.ts';
import { customer, event, subscription } from '../cli/demo/stripe-objects.ts';
import { startApp, type RunningApp } from '../test/support/app.ts';
import { createTestEnv, type TestEnv } from '../test/support/env.ts';
import { createKey } from '../test/support/keys.ts';
import { stripeRecords } from '../test/support/stripe-records.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../test-artifacts/', import.meta.url);
const DAY = 86_400;

// The known customer: signs up last month, subscribes to one seat of a 49.00 USD plan, then goes to
// three seats. Last month, so that the month is in the dashboard's twelve-month bridge and over.
const now = new Date();
const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1) / 1000;
const MONTH = new Date(monthStart * 1000).toISOString().slice(0, 7);
const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) / 1000;
const KNOWN = { id: 'cus_e2eknown', subscription: 'sub_e2eknown', email: 'noor.known@example.com', name: 'Noor Known', phone: '+14155550199' };
const EVENTS = { customer: 'evt_e2eknown0customer', created: 'evt_e2eknown1created', seats: 'evt_e2eknown2seats' };

function knownHistory(): Record<string, unknown>[] {
  const signup = monthStart + DAY + 3600;
  const sub = (at: number, quantity: number) =>
    subscription(apiVersionAt(at), { id: KNOWN.subscription, customer: KNOWN.id, status: 'active', created: signup, currency: 'usd', items: [{ unitAmount: 4900, priceId: 'price_pro_m', currency: 'usd', quantity }], metadata: { contact: KNOWN.email, mobile: KNOWN.phone, plan: 'pro' } });
  const at = (days: number) => signup + days * DAY;
  return [
    event(apiVersionAt(signup), { id: EVENTS.customer, type: 'customer.created', created: signup, object: customer({ id: KNOWN.id, email: KNOWN.email, name: KNOWN.name, phone: KNOWN.phone, created: signup, country: 'US' }) }),
    event(apiVersionAt(at(0.01)), { id: EVENTS.created, type: 'customer.subscription.created', created: Math.floor(at(0.01)), object: sub(at(0.01), 1) }),
    event(apiVersionAt(at(9)), { id: EVENTS.seats, type: 'customer.subscription.updated', created: at(9), object: sub(at(9), 3), previousAttributes: { quantity: 1 } }),
  ];
}

// A known EUR customer for the filters: three seats of 29.00 EUR from the first month of the range
// the test sets (four months ending last month), down to one seat last month.
const RANGE = { from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 4, 1)).toISOString().slice(0, 7), to: MONTH };
const rangeStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 4, 1) / 1000;
const EURO = { id: 'cus_e2eeuro', subscription: 'sub_e2eeuro', email: 'eli.euro@example.com' };

function euroHistory(): Record<string, unknown>[] {
  const signup = rangeStart + 2 * DAY;
  const sub = (at: number, quantity: number) =>
    subscription(apiVersionAt(at), { id: EURO.subscription, customer: EURO.id, status: 'active', created: signup, currency: 'eur', items: [{ unitAmount: 2900, priceId: 'price_team_eur', currency: 'eur', quantity }] });
  const fewer = monthStart + 5 * DAY;
  return [
    event(apiVersionAt(signup), { id: 'evt_e2eeuro0customer', type: 'customer.created', created: signup, object: customer({ id: EURO.id, email: EURO.email, created: signup, country: 'DE' }) }),
    event(apiVersionAt(signup), { id: 'evt_e2eeuro1created', type: 'customer.subscription.created', created: signup + 60, object: sub(signup + 60, 3) }),
    event(apiVersionAt(fewer), { id: 'evt_e2eeuro2fewer', type: 'customer.subscription.updated', created: fewer, object: sub(fewer, 1), previousAttributes: { quantity: 3 } }),
  ];
}

/** Money as the page prints it in en-US, whole units: "$1,470", "-€58". */
const wholeMoney = (currency: string, cents: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase(), maximumFractionDigits: 0 }).format(cents / 100);
const signedMoney = (currency: string, cents: number) => (cents > 0 ? '+' : '') + wholeMoney(currency, cents);
const percent = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The records of an RFC 4180 file (quoted fields, doubled quotes, CRLF), to read an export as a spreadsheet would. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.ok(!quoted && field === '' && record.length === 0, 'the file ends with a complete CRLF-ended record');
  return records;
}

/** Minor units from money as the page prints it in en-US: "+$98.00", "-$1,470.00", "$0.00". */
function cents(text: string): number {
  const n = Number(text.replace(/[^\d.-]/g, ''));
  assert.ok(Number.isFinite(n), `not money: ${text}`);
  return Math.round(n * 100);
}

describe('the dashboard drill-down in a browser', () => {
  let t: TestEnv;
  let app: RunningApp;
  let browser: Browser;
  let page: Page;
  let filtersPage: Page | undefined;
  // en-US and UTC: the page formats money with the browser's locale; the test reads it back.
  const newPage = async () => (await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1400, height: 1000 }, acceptDownloads: true })).newPage();
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestEnv('dash-e2e');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    // Other customers moving in the same months, so the month's list is more than the known one.
    const background = stripeHistory({ customers: 30, seed: 7, prefix: 'bg', from: nextMonth - 200 * DAY, to: Math.floor(now.getTime() / 1000) - DAY });
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords([...background, ...knownHistory(), ...euroHistory()]));
    await buildVersion(t.rt, mrrProjection);
    // The projection's subscription state keeps no personal field today, so the email check below
    // could never fail on it. Give the known customer's versions the fields a richer state would
    // carry (Stripe's subscription metadata, a customer email), as stored JSON: the page must show
    // them masked.
    const active = await activeVersion(t.rt.db, 'mrr');
    assert.ok(active);
    await t.rt.db.query(
      `UPDATE ${active.schema}.subscription_versions
       SET state = state || jsonb_build_object('customer_email', $2::text, 'metadata', jsonb_build_object('contact', $2::text, 'mobile', $3::text, 'plan', 'pro'))
       WHERE customer_id = $1`,
      [KNOWN.id, KNOWN.email, KNOWN.phone],
    );
    app = await startApp(t.rt);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
    page = await newPage();
  });
  after(async () => {
    // Whatever happened, the last state of each page is kept for whoever reads a failure.
    await page?.screenshot({ path: new URL('dashboard-last.png', ARTIFACTS).pathname, fullPage: true }).catch(() => undefined);
    await filtersPage?.screenshot({ path: new URL('dashboard-filters-last.png', ARTIFACTS).pathname, fullPage: true }).catch(() => undefined);
    await browser?.close();
    await app?.close();
    await t?.cleanup();
  });

  const shot = (name: string, on: Page = page) => on.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true });

  /** Signs in as a person does: the page asks for a key, the form posts it. */
  async function signIn(on: Page, name: string): Promise<void> {
    const key = await createKey(t, ['read'], name);
    await on.goto(app.url);
    await on.getByPlaceholder('evl_…').fill(key);
    await on.getByRole('button', { name: 'Sign in' }).click();
  }

  it('given a signed-in analyst, when a month of the bridge and then a movement are chosen, then the page shows what the analytics views hold, personal data masked', async () => {
    await signIn(page, 'e2e-analyst');
    const monthButton = page.getByRole('button', { name: `${MONTH}: list its movements` });
    await monthButton.waitFor();

    // The bridge's closing MRR for the month, as printed, is mrr_monthly's.
    const [bridge] = (await t.rt.db.query<{ closing: number }>("SELECT closing_mrr_cents AS closing FROM analytics.mrr_monthly WHERE currency = 'usd' AND to_char(month, 'YYYY-MM') = $1", [MONTH])).rows;
    assert.ok(bridge);
    const closingCell = page.locator('#monthly tr', { has: monthButton }).locator('td').last();
    assert.equal(await closingCell.innerText(), new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 }).format(bridge.closing / 100));

    // Choose the month from the keyboard: the month's buttons are real buttons.
    await monthButton.focus();
    await page.keyboard.press('Enter');
    const expected = (
      await t.rt.db.query<{ at: string; customer_id: string; movement: string; delta_cents: number; mrr_before_cents: number; mrr_after_cents: number; stripe_event_id: string }>(
        `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS at, customer_id, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id
         FROM analytics.mrr_movements WHERE currency = 'usd' AND occurred_at >= to_timestamp($1) AND occurred_at < to_timestamp($2) ORDER BY occurred_at, customer_id`,
        [monthStart, nextMonth],
      )
    ).rows;
    assert.ok(expected.filter((m) => m.customer_id === KNOWN.id).length === 2, "the month has the known customer's new and expansion movements");
    await page.getByRole('status').filter({ hasText: `${expected.length} movements in ${MONTH} (USD).` }).waitFor();
    assert.equal(await monthButton.getAttribute('aria-current'), 'true');
    const listed = await page.locator('#drill-list tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    assert.deepEqual(
      listed.map(([at, customerId, movement, change, before, after, eventId]) => ({
        at,
        customer_id: customerId,
        movement,
        delta_cents: cents(change ?? ''),
        mrr_before_cents: cents(before ?? ''),
        mrr_after_cents: cents(after ?? ''),
        stripe_event_id: eventId,
      })),
      expected,
    );
    await shot('dashboard-month.png');

    // The known customer's expansion: 1 → 3 seats of 49.00.
    const expansion = expected.find((m) => m.customer_id === KNOWN.id && m.movement === 'expansion');
    assert.ok(expansion, `the known customer's expansion is listed`);
    assert.deepEqual({ delta: expansion.delta_cents, event: expansion.stripe_event_id }, { delta: 9800, event: EVENTS.seats });
    const details = page.getByRole('button', { name: `Details: expansion of ${KNOWN.id} at ${expansion.at} UTC` });
    await details.focus();
    await page.keyboard.press('Enter');
    // The detail panel is a live region named by its heading; it is complete once it is no longer busy.
    const panel = page.getByRole('region', { name: `expansion of ${KNOWN.id}: +$98.00` });
    await panel.and(page.locator(':not([aria-busy])')).waitFor();
    assert.equal(await panel.getAttribute('aria-live'), 'polite');

    // Its subscriptions and Stripe events are mrr_lineage's for the movement.
    const lineage = (
      await t.rt.db.query<{ subscription_id: string; delta_cents: number; stripe_event_id: string }>(
        `SELECT subscription_id, delta_cents, stripe_event_id FROM analytics.mrr_lineage
         WHERE customer_id = $1 AND currency = 'usd' AND to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') = $2 ORDER BY subscription_id`,
        [KNOWN.id, expansion.at],
      )
    ).rows;
    assert.deepEqual(lineage, [{ subscription_id: KNOWN.subscription, delta_cents: 9800, stripe_event_id: EVENTS.seats }]);
    const parts = await panel.locator('table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    assert.deepEqual(
      parts.map(([subscriptionId, , , change, eventId]) => ({ subscription_id: subscriptionId, delta_cents: cents(change ?? ''), stripe_event_id: eventId })),
      lineage,
    );

    // The subscription versions behind it: the one its Stripe event made, and the one before.
    const versions = await panel.locator('article.version').evaluateAll((articles) =>
      articles.map((a) => ({ title: (a.querySelector('h5')?.textContent ?? '').trim(), event: a.querySelector('.event-id')?.textContent ?? '', state: a.querySelector('pre')?.textContent ?? '' })),
    );
    assert.deepEqual(
      versions.map((v) => [v.title, v.event]),
      [
        [`${KNOWN.subscription} — version in force before`, EVENTS.created],
        [`${KNOWN.subscription} — version from this event`, EVENTS.seats],
      ],
    );
    const states = versions.map((v) => JSON.parse(v.state) as { items: { quantity: number }[]; customer_email: string; metadata: Record<string, string> });
    assert.deepEqual(
      states.map((s) => s.items.map((i) => i.quantity)),
      [[1], [3]],
    );
    // Personal data masked: the stored email and phone show as •••; the plan, not personal, shows.
    for (const s of states) assert.deepEqual([s.customer_email, s.metadata], ['•••', { contact: '•••', mobile: '•••', plan: 'pro' }]);

    // The Stripe event itself, as received: read from stripe.events.v1 on request, masked.
    await panel.getByRole('button', { name: `Show Stripe event ${EVENTS.seats} as received` }).click();
    await panel.locator('pre.raw-json').waitFor();
    const received = JSON.parse(await panel.locator('pre.raw-json').innerText()) as { id: string; type: string; data: { object: { items: { data: { quantity: number }[] }; metadata: Record<string, string> }; previous_attributes: { quantity: number } } };
    assert.deepEqual(
      [received.id, received.type, received.data.object.items.data[0]?.quantity, received.data.previous_attributes.quantity, received.data.object.metadata],
      [EVENTS.seats, 'customer.subscription.updated', 3, 1, { contact: '•••', mobile: '•••', plan: 'pro' }],
    );
    const text = await page.locator('body').innerText();
    assert.ok(!text.includes(KNOWN.email), 'the email appears nowhere on the page');
    assert.ok(!text.includes(KNOWN.phone), 'nor the phone number');
    await shot('dashboard-movement.png');
    await page.locator('#drill').screenshot({ path: new URL('dashboard-drill.png', ARTIFACTS).pathname });
  });
  it('given a signed-in analyst, when the currency and months are set, then the URL keeps them through a reload and back, the figures are the views\', and the tables export as CSV', async () => {
    // The outbox's latest message: an address to mask and a subject a spreadsheet would run.
    await t.rt.db.query(
      `INSERT INTO dispatch.outbox (idempotency_key, notification_id, channel, recipient, subject, body_text, message_id)
       VALUES ('e2e-formula', 'ntf_e2eformula', 'email', $1, '=HYPERLINK("http://evil.example","Pay now")', 'Thanks', 'm-e2e')`,
      [EURO.email],
    );
    const on = (filtersPage = await newPage());
    await signIn(on, 'e2e-filters');
    const status = on.locator('#range-status');
    await status.filter({ hasText: /^Showing \d{4}-\d{2} to \d{4}-\d{2} in [A-Z]{3}\.$/ }).waitFor();
    const initial = { url: on.url(), status: await status.innerText() };
    assert.equal(new URL(initial.url).search, '', 'the default view leaves the URL alone');

    // The filters by their labels, as a screen reader names them.
    const currency = on.getByLabel('Currency');
    const from = on.getByLabel('From month');
    const to = on.getByLabel('To month');
    const apply = on.getByRole('button', { name: 'Apply' });

    // A range the wrong way round is refused at the field, before any request.
    await from.fill(RANGE.to);
    await to.fill(RANGE.from);
    await apply.click();
    await on.getByRole('alert').filter({ hasText: `The last month (${RANGE.from}) is before the first (${RANGE.to}).` }).waitFor();
    assert.equal(await to.getAttribute('aria-invalid'), 'true');
    assert.equal(await to.evaluate((el) => el === el.ownerDocument.activeElement), true, 'the focus is on the field to fix');
    // More than ten years: the server says no, the page says why, the URL stays.
    await from.fill('2000-01');
    await to.fill(RANGE.to);
    await apply.click();
    await on.getByRole('alert').filter({ hasText: /at most 120 \(10 years\)/ }).waitFor();
    await shot('dashboard-filter-error.png', on);
    assert.equal(on.url(), initial.url);

    // Currency and months from the keyboard: Apply is reached by Tab and shows its focus.
    await currency.selectOption('eur');
    await from.fill(RANGE.from);
    await to.fill(RANGE.to);
    await on.getByRole('button', { name: 'Sign out' }).focus();
    await on.keyboard.press('Shift+Tab');
    assert.deepEqual(
      await apply.evaluate((el) => {
        const style = el.ownerDocument.defaultView?.getComputedStyle(el);
        return [el.matches(':focus-visible'), style?.outlineStyle, style?.outlineWidth];
      }),
      [true, 'solid', '2px'],
      'a visible focus ring on Apply',
    );
    await on.keyboard.press('Enter');
    const shown = `Showing ${RANGE.from} to ${RANGE.to} in EUR.`;
    await status.filter({ hasText: shown }).waitFor();
    assert.equal(await on.getByRole('alert').count(), 0, 'the error is gone');
    const query = () => Object.fromEntries(new URL(on.url()).searchParams);
    assert.deepEqual(query(), { currency: 'eur', from: RANGE.from, to: RANGE.to });

    // The bridge as printed is mrr_monthly's, the net new column closing − opening.
    const bridge = (
      await t.rt.db.query<{ month: string; opening: number; n: number; e: number; c: number; x: number; r: number; closing: number }>(
        `SELECT to_char(month, 'YYYY-MM') AS month, opening_mrr_cents AS opening, new_cents AS n, expansion_cents AS e, contraction_cents AS c, churn_cents AS x,
                reactivation_cents AS r, closing_mrr_cents AS closing
         FROM analytics.mrr_monthly WHERE currency = 'eur' AND to_char(month, 'YYYY-MM') BETWEEN $1 AND $2 ORDER BY month`,
        [RANGE.from, RANGE.to],
      )
    ).rows;
    assert.equal(bridge.length, 4, 'four months of EUR bridge');
    assert.ok(bridge.some((m) => m.c <= -5800), "the known customer's contraction is in the range");
    const eur = (c: number) => wholeMoney('eur', c);
    const printedBridge = bridge.map((m) => [m.month, eur(m.opening), eur(m.n), eur(m.e), eur(m.c), eur(m.x), eur(m.r), signedMoney('eur', m.closing - m.opening), eur(m.closing)]);
    const readBridge = () => on.locator('#monthly tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    assert.deepEqual(await readBridge(), printedBridge);

    // The tiles are saas_metrics_monthly's for the range's last month; a NULL shows "—" and says why.
    const [saas] = (
      await t.rt.db.query<{ arr: number; net: number; qr: number | null; nrr: number | null; grr: number | null; logo: number | null; arpa: number | null; ltv: number | null }>(
        `SELECT arr_cents AS arr, net_new_mrr_cents AS net, quick_ratio::float8 AS qr, nrr::float8 AS nrr, grr::float8 AS grr, logo_churn_rate::float8 AS logo, arpa_cents AS arpa, ltv_cents AS ltv
         FROM analytics.saas_metrics_monthly WHERE currency = 'eur' AND to_char(month, 'YYYY-MM') = $1`,
        [RANGE.to],
      )
    ).rows;
    assert.ok(saas);
    const orDash = <T,>(x: T | null, format: (x: T) => string) => (x === null ? '—' : format(x));
    const tiles = await on.locator('#saas-tiles [data-metric]').evaluateAll((els) =>
      els.map((e) => ({ metric: e.getAttribute('data-metric'), value: e.querySelector('.value')?.textContent ?? '', why: e.querySelector('.value')?.getAttribute('title') ?? null })),
    );
    assert.deepEqual(
      tiles.map((x) => [x.metric, x.value]),
      [
        ['arr', eur(saas.arr)],
        ['net-new-mrr', signedMoney('eur', saas.net)],
        ['quick-ratio', orDash(saas.qr, (x) => x.toFixed(2))],
        ['nrr', orDash(saas.nrr, percent)],
        ['grr', orDash(saas.grr, percent)],
        ['logo-churn', orDash(saas.logo, percent)],
        ['arpa', orDash(saas.arpa, eur)],
        ['ltv', orDash(saas.ltv, eur)],
      ],
    );
    for (const x of tiles) assert.equal(x.value === '—', (x.why ?? '').length > 0, `${x.metric}: a title exactly when the value is undefined`);
    assert.equal(await on.locator('#tiles-title').innerText(), `SaaS metrics, ${RANGE.to}`);
    assert.equal(saas.net, (bridge.at(-1)?.closing ?? 0) - (bridge.at(-1)?.opening ?? 0), 'net new MRR is the bridge\'s');

    // The movements chart: stacked bars of the bridge's movements, net new MRR as a line, named for screen readers.
    const chart = await on.locator('#movements-chart').evaluate((canvas) => {
      const found = (canvas.ownerDocument.defaultView as unknown as { Chart: { getChart(c: unknown): { data: { labels: string[]; datasets: { label: string; type: string; stack: string; data: number[] }[] }; options: { scales: { x: { stacked: boolean }; y: { stacked: boolean } } } } | undefined } }).Chart.getChart(canvas);
      return found
        ? { labels: found.data.labels, datasets: found.data.datasets.map((d) => [d.label, d.type, d.stack, d.data]), stacked: [found.options.scales.x.stacked, found.options.scales.y.stacked] }
        : null;
    });
    assert.deepEqual(chart, {
      labels: bridge.map((m) => m.month),
      datasets: [
        ['New', 'bar', 'movements', bridge.map((m) => m.n / 100)],
        ['Expansion', 'bar', 'movements', bridge.map((m) => m.e / 100)],
        ['Reactivation', 'bar', 'movements', bridge.map((m) => m.r / 100)],
        ['Contraction', 'bar', 'movements', bridge.map((m) => m.c / 100)],
        ['Churn', 'bar', 'movements', bridge.map((m) => m.x / 100)],
        ['Net new MRR', 'line', 'net', bridge.map((m) => (m.closing - m.opening) / 100)],
      ],
      stacked: [true, true],
    });
    const canvas = on.getByRole('img', { name: `Stacked bar chart: EUR MRR movements by month, ${RANGE.from} to ${RANGE.to}, with net new MRR as a line.` });
    const describedBy = await canvas.getAttribute('aria-describedby');
    assert.match(await on.locator(`#${describedBy}`).innerText(), /MRR bridge table below holds the same figures/);
    await shot('dashboard-filters.png', on);
    await on.locator('section', { has: canvas }).screenshot({ path: new URL('dashboard-movements-chart.png', ARTIFACTS).pathname });
    await on.locator('section', { has: on.locator('#saas-tiles') }).screenshot({ path: new URL('dashboard-saas-tiles.png', ARTIFACTS).pathname });

    // The bridge's export: what the table shows, money in cents, named after the currency and months.
    const exported = async (button: string): Promise<{ name: string; records: string[][] }> => {
      const [download] = await Promise.all([on.waitForEvent('download'), on.getByRole('button', { name: button }).click()]);
      const name = (download as Download).suggestedFilename();
      await download.saveAs(new URL(name, ARTIFACTS).pathname);
      return { name, records: parseCsv(readFileSync(new URL(name, ARTIFACTS), 'utf8')) };
    };
    const bridgeCsv = await exported('Export CSV of the MRR bridge');
    assert.equal(bridgeCsv.name, `eventline-mrr-monthly-eur-${RANGE.from}_${RANGE.to}.csv`);
    assert.deepEqual(bridgeCsv.records, [
      ['Month', 'Opening (EUR cents)', 'New (EUR cents)', 'Expansion (EUR cents)', 'Contraction (EUR cents)', 'Churn (EUR cents)', 'Reactivation (EUR cents)', 'Net new (EUR cents)', 'Closing (EUR cents)'],
      ...bridge.map((m) => [m.month, m.opening, m.n, m.e, m.c, m.x, m.r, m.closing - m.opening, m.closing].map(String)),
    ]);
    await on.locator('#export-status').filter({ hasText: `Exported ${bridge.length} rows of the MRR bridge to ${bridgeCsv.name}.` }).waitFor();

    // The outbox's export: the address masked as shown, the formula made text.
    const outbox = await exported('Export CSV of the local outbox');
    assert.match(outbox.name, /^eventline-outbox-\d{4}-\d{2}-\d{2}\.csv$/);
    assert.deepEqual(outbox.records[0], ['When (UTC)', 'Channel', 'To', 'Subject / text', 'Notification']);
    const message = outbox.records.find((r) => r[4] === 'ntf_e2eformula');
    assert.deepEqual(message?.slice(1), ['email', 'e***@example.com', `'=HYPERLINK("http://evil.example","Pay now")`, 'ntf_e2eformula']);
    assert.ok(!readFileSync(new URL(outbox.name, ARTIFACTS), 'utf8').includes(EURO.email), 'the address appears nowhere in the file');

    // A reload shows the same view: the form, the status and the figures.
    await on.reload();
    await status.filter({ hasText: shown }).waitFor();
    assert.deepEqual([await currency.inputValue(), await from.inputValue(), await to.inputValue()], ['eur', RANGE.from, RANGE.to]);
    assert.deepEqual(await readBridge(), printedBridge);
    await shot('dashboard-filters-reloaded.png', on);

    // Another view, then back: the EUR range again, then the default.
    await currency.selectOption('usd');
    await from.fill(RANGE.to);
    await apply.click();
    await status.filter({ hasText: `Showing ${RANGE.to} to ${RANGE.to} in USD.` }).waitFor();
    assert.deepEqual(query(), { currency: 'usd', from: RANGE.to, to: RANGE.to });
    assert.equal((await readBridge()).length, 1);
    await on.goBack();
    await status.filter({ hasText: shown }).waitFor();
    assert.deepEqual([await currency.inputValue(), await from.inputValue(), await to.inputValue()], ['eur', RANGE.from, RANGE.to]);
    assert.deepEqual(await readBridge(), printedBridge);
    await on.goBack();
    await status.filter({ hasText: initial.status }).waitFor();
    assert.equal(on.url(), initial.url);
  });

  it('given messages sent through two SMS providers, then the providers table shows provider_health and messaging_costs, and exports them', async () => {
    const at = Date.now() - 3_600_000;
    const sent = (id: string, provider: string, country: string, price: number, reason: string): NotificationDispatched => ({
      event_id: `${id}:sent:sms:1`, occurred_at: at, received_at: at, notification_id: id, user_id: `user_${id}`, template: 'payment_failed', category: 'payment', priority: 'HIGH',
      channel: 'sms', status: 'sent', reason: null, provider, provider_message_id: `msg_${id}`, attempt: 1, deferred_until: null, locale: 'en-US', digest_id: null,
      request_event_id: `req:${id}`, seq: 1, fallback: [], due_at: null, digest_date: null, cap_date: null,
      destination_country: country, price_micros: price, price_currency: 'usd', route_reason: reason, template_version: null, experiment: null, variant: null,
    });
    const outcome = (id: string, provider: string, kind: 'delivered' | 'undelivered'): DeliveryEventReceived => ({
      event_id: `msg_${id}:${kind}`, occurred_at: at + 1000, received_at: at + 1000, provider, channel: 'sms', notification_id: id, provider_message_id: `msg_${id}`,
      kind, provider_event: kind, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, user_id: null, raw: '{}',
    });
    const sends = [sent('ntf_p1', 'twilio', 'US', 8300, 'cheapest_healthy'), sent('ntf_p2', 'twilio', 'US', 8300, 'cheapest_healthy'), sent('ntf_p3', 'twilio', 'US', 16600, 'probe'), sent('ntf_p4', 'vonage', 'GB', 39600, 'cheapest_healthy'), sent('ntf_p5', 'vonage', 'US', 8600, 'failover')];
    const events = [outcome('ntf_p1', 'twilio', 'delivered'), outcome('ntf_p2', 'twilio', 'undelivered'), outcome('ntf_p4', 'vonage', 'delivered'), outcome('ntf_p5', 'vonage', 'delivered')];
    const appender = await t.rt.kafka.appender();
    await appender.append('notify.dispatches.v1', sends.map((value) => ({ key: value.notification_id, record: 'NotificationDispatched' as const, value })));
    await appender.append('notify.delivery-events.v1', events.map((value) => ({ key: value.notification_id ?? '', record: 'DeliveryEventReceived' as const, value })));
    await buildVersion(t.rt, deliveryProjection);
    const on = await newPage();
    try {
      await signIn(on, 'providers-e2e');
      const rows = on.locator('#providers tbody tr');
      await rows.first().waitFor();
      const shown = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      // From the views, as an analyst would query them.
      const health = (await t.rt.db.query<{ provider: string; sent: string; delivered: string; failed: string; failovers: string; probes: string }>(`SELECT provider, sum(sent) AS sent, sum(delivered) AS delivered, sum(failed) AS failed, sum(failovers) AS failovers, sum(probes) AS probes FROM analytics.provider_health GROUP BY 1`)).rows;
      const costs = (await t.rt.db.query<{ provider: string; cost: string }>(`SELECT provider, sum(cost_micros) AS cost FROM analytics.messaging_costs GROUP BY 1`)).rows;
      const expected = health
        .map((h) => {
          const delivered = Number(h.delivered);
          const failed = Number(h.failed);
          const cost = Number(costs.find((c) => c.provider === h.provider)?.cost);
          return ['sms', h.provider, h.sent, h.delivered, h.failed, delivered + failed === 0 ? '–' : percent(delivered / (delivered + failed)), h.failovers, h.probes, 'USD', (cost / 1e6).toFixed(4)];
        })
        .sort((a, b) => Number(b[2]) - Number(a[2]) || String(a[1]).localeCompare(String(b[1])));
      assert.deepEqual(shown, expected);
      // Against the records appended: the view sums what each outcome recorded.
      assert.deepEqual(shown.map((r) => [r[1], Number(r[9]) * 1e6]), [['twilio', 8300 + 8300 + 16600], ['vonage', 39600 + 8600]].map(([p, c]) => [p, Math.round(Number(c))]));
      const [download] = await Promise.all([on.waitForEvent('download'), on.getByRole('button', { name: 'Export CSV of the providers of the last 30 days' }).click()]);
      const name = (download as Download).suggestedFilename();
      await download.saveAs(new URL(name, ARTIFACTS).pathname);
      const records = parseCsv(readFileSync(new URL(name, ARTIFACTS), 'utf8'));
      assert.deepEqual(records[0], ['Channel', 'Provider', 'Sent', 'Delivered', 'Failed', 'Success rate (ratio, 1 = 100%)', 'Failovers', 'Probes', 'Currency', 'Cost (millionths of the currency)']);
      assert.deepEqual(records.slice(1).map((r) => [r[1], r[9]]), [['twilio', String(8300 + 8300 + 16600)], ['vonage', String(39600 + 8600)]]);
      await on.locator('section', { has: on.locator('#providers') }).screenshot({ path: new URL('dashboard-providers.png', ARTIFACTS).pathname });
    } finally {
      await on.close();
    }
  });

  it('given two template experiments, one decided and one short of 100 delivered, then the experiments table shows template_experiments, the winner in words, and exports it', async () => {
    // The first `delivered` messages of a variant delivered (the rest bounced), the first `opened` opened, the first `clicked` clicked.
    const at = Date.now() - 3_600_000;
    const arms = [
      // Every variant ≥ 100 delivered, bold clicks 30 of 105 against 10 of 105 (p ≈ 0.0004): bold wins.
      { experiment: 'exp_e2e_subject', template: 'trial_ending', variant: 'control', sent: 110, delivered: 105, opened: 40, clicked: 10 },
      { experiment: 'exp_e2e_subject', template: 'trial_ending', variant: 'bold', sent: 105, delivered: 105, opened: 60, clicked: 30 },
      // 20 messages a variant: no winner yet.
      { experiment: 'exp_e2e_cta', template: 'payment_failed', variant: 'a', sent: 20, delivered: 20, opened: 8, clicked: 2 },
      { experiment: 'exp_e2e_cta', template: 'payment_failed', variant: 'b', sent: 20, delivered: 18, opened: 9, clicked: 6 },
    ];
    const sends: NotificationDispatched[] = [];
    const events: DeliveryEventReceived[] = [];
    for (const arm of arms) {
      for (let i = 0; i < arm.sent; i++) {
        const id = `ntf_${arm.experiment}_${arm.variant}_${i}`;
        sends.push({
          event_id: `${id}:sent:email:1`, occurred_at: at, received_at: at, notification_id: id, user_id: `user_${id}`, template: arm.template, category: 'billing', priority: 'NORMAL',
          channel: 'email', status: 'sent', reason: null, provider: 'sendgrid', provider_message_id: `SG-${id}`, attempt: 1, deferred_until: null, locale: 'en-US', digest_id: null,
          request_event_id: `req:${id}`, seq: 1, fallback: [], due_at: null, digest_date: null, cap_date: null,
          destination_country: null, price_micros: null, price_currency: null, route_reason: null, template_version: 1, experiment: arm.experiment, variant: arm.variant,
        });
        const event = (kind: DeliveryKind, after: number) =>
          events.push({
            event_id: `${id}:${kind}`, occurred_at: at + after, received_at: at + after, provider: 'sendgrid', channel: 'email', notification_id: id, provider_message_id: `SG-${id}`, kind,
            provider_event: kind, recipient: null, reason: null, error_code: null, bounce_type: null, url: kind === 'clicked' ? 'https://app.example.com/billing' : null, user_id: null, raw: '{}',
          });
        event(i < arm.delivered ? 'delivered' : 'bounced', 60_000);
        if (i < arm.opened) event('opened', 120_000);
        if (i < arm.clicked) event('clicked', 180_000);
      }
    }
    const appender = await t.rt.kafka.appender();
    await appender.append('notify.dispatches.v1', sends.map((value) => ({ key: value.notification_id, record: 'NotificationDispatched' as const, value })));
    await appender.append('notify.delivery-events.v1', events.map((value) => ({ key: value.notification_id ?? '', record: 'DeliveryEventReceived' as const, value })));
    await buildVersion(t.rt, deliveryProjection);

    // The view, as an analyst would query it; "no winner yet" is an experiment without a winner and with a variant under 100 delivered.
    const view = (
      await t.rt.db.query<{ experiment: string; template: string; variant: string; sent: number; delivered: number; opened: number; clicked: number; open_rate: number | null; click_rate: number | null; lift: number | null; p_value: number | null; winner: boolean; waiting: boolean }>(
        `SELECT experiment, template, variant, sent, delivered, opened, clicked, open_rate::float8 AS open_rate, click_rate::float8 AS click_rate,
                click_lift_vs_control::float8 AS lift, p_value, winner, NOT bool_or(winner) OVER w AND min(delivered) OVER w < 100 AS waiting
         FROM analytics.template_experiments WINDOW w AS (PARTITION BY experiment, template) ORDER BY experiment, template, variant`,
      )
    ).rows;
    assert.deepEqual(
      view.map((r) => [r.experiment, r.variant, r.winner, r.waiting]),
      [
        ['exp_e2e_cta', 'a', false, true],
        ['exp_e2e_cta', 'b', false, true],
        ['exp_e2e_subject', 'bold', true, false],
        ['exp_e2e_subject', 'control', false, false],
      ],
    );
    const WAITING = 'no winner yet: needs ≥ 100 delivered per variant';
    const orDash = (x: number | null, format: (x: number) => string) => (x === null ? '–' : format(x));
    const on = await newPage();
    try {
      await signIn(on, 'experiments-e2e');
      const table = on.getByRole('table', { name: 'the template experiments' });
      await table.locator('tbody tr').first().waitFor();
      const shown = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
      assert.deepEqual(
        shown,
        view.map((r) => [
          r.experiment, r.template, r.variant, String(r.sent), String(r.delivered), String(r.opened), String(r.clicked),
          orDash(r.open_rate, percent), orDash(r.click_rate, percent), orDash(r.lift, (x) => (x > 0 ? '+' : '') + percent(x)), orDash(r.p_value, (x) => x.toPrecision(3)),
          r.winner ? 'Winner' : r.waiting ? WAITING : '–',
        ]),
      );
      // Spelled out for the decided experiment: bold's lift is 30/105 ÷ 10/105 − 1 = +200.0%.
      assert.deepEqual(shown[2]?.slice(8, 12), ['28.6%', '+200.0%', view[2]?.p_value?.toPrecision(3), 'Winner']);

      // The export, from the keyboard: the view's figures unrounded, rates as ratios.
      const button = on.getByRole('button', { name: 'Export CSV of the template experiments' });
      await button.focus();
      const [download] = await Promise.all([on.waitForEvent('download'), on.keyboard.press('Enter')]);
      const name = (download as Download).suggestedFilename();
      assert.match(name, /^eventline-template-experiments-\d{4}-\d{2}-\d{2}\.csv$/);
      await download.saveAs(new URL(name, ARTIFACTS).pathname);
      const text = (x: unknown) => (x === null ? '' : String(x));
      assert.deepEqual(parseCsv(readFileSync(new URL(name, ARTIFACTS), 'utf8')), [
        ['Experiment', 'Template', 'Variant', 'Sent', 'Delivered', 'Opened', 'Clicked', 'Open rate (ratio, 1 = 100%)', 'Click rate (ratio, 1 = 100%)', 'Click lift vs control (ratio, 1 = 100%)', 'p-value', 'Winner'],
        ...view.map((r) => [r.experiment, r.template, r.variant, r.sent, r.delivered, r.opened, r.clicked, r.open_rate, r.click_rate, r.lift, r.p_value, r.winner ? 'winner' : r.waiting ? WAITING : ''].map(text)),
      ]);
      await on.locator('#export-status').filter({ hasText: `Exported ${view.length} rows of the template experiments to ${name}.` }).waitFor();
      await on.locator('section', { has: on.locator('#experiments') }).screenshot({ path: new URL('dashboard-experiments.png', ARTIFACTS).pathname });
    } finally {
      await on.close();
    }
  });

  it('given scored payments, then an analyst with an admin key labels one fraudulent from the fraud table (a PaymentLabeled event), and a read-only one gets no buttons', async () => {
    const at = Date.now() - 600_000;
    const scored = (id: string, action: 'review' | 'block', score: number): FraudScored => ({
      event_id: `fraud:evt_${id}`, occurred_at: at, received_at: at, customer_id: `cus_${id}`, source_event_id: `evt_${id}`, source_event_type: 'charge.succeeded', payment_id: `ch_${id}`,
      amount: 4900, currency: 'usd', score, action, factors: [{ name: 'disposable_email', weight: score, detail: 'mailinator.com' }], model_version: 'rules-1', card_fingerprint: null,
    });
    await (await t.rt.kafka.appender()).append('risk.fraud-scores.v1', [scored('e2erev1', 'review', 0.45), scored('e2erev2', 'block', 0.9)].map((value) => ({ key: value.customer_id, record: 'FraudScored' as const, value })));
    await buildVersion(t.rt, fraudProjection);

    const reader = await newPage();
    try {
      await signIn(reader, 'e2e-fraud-reader');
      await reader.locator('#fraud table').waitFor();
      assert.equal(await reader.getByRole('button', { name: /^Fraudulent: / }).count(), 0, 'a read-only key reviews nothing');
    } finally {
      await reader.close();
    }

    const on = await newPage();
    try {
      const admin = await createKey(t, ['read', 'admin'], 'e2e-fraud-admin');
      await on.goto(app.url);
      await on.getByPlaceholder('evl_…').fill(admin);
      await on.getByRole('button', { name: 'Sign in' }).click();
      await on.getByRole('button', { name: 'Fraudulent: ch_e2erev1' }).click();
      await on.locator('#fraud tr', { hasText: 'cus_e2erev1' }).getByText('labelled fraudulent').waitFor();
      assert.equal(await on.getByRole('button', { name: 'Legitimate: ch_e2erev2' }).count(), 1, 'the other payment still has its buttons');
      const labels = await collect(t.rt.kafka, ['risk.fraud-scores.v1'], (rs) => rs.some((r) => r.record === 'PaymentLabeled'));
      const label = labels.find((r) => r.record === 'PaymentLabeled')!.value as PaymentLabeled;
      assert.deepEqual([label.payment_id, label.customer_id, label.label, label.source, label.actor.startsWith('key:')], ['ch_e2erev1', 'cus_e2erev1', 'fraudulent', 'review', true]);
      await on.locator('section', { has: on.locator('#fraud') }).screenshot({ path: new URL('dashboard-fraud-review.png', ARTIFACTS).pathname });
    } finally {
      await on.close();
    }
  });
});
