/**
 * The dashboard's drill-down in a real browser (Debian's chromium driven by playwright-core): an
 * analyst signs in with a key, chooses a month of the MRR bridge, then a movement, and reads why
 * it happened. Every figure read from the page is checked against SQL on the analytics views.
 * Screenshots of each step go to test-artifacts/ (infra/ensure-chromium.sh installs chromium).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { activeVersion } from '../lib/projection-versions.ts';
import { buildVersion } from '../lib/projection.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
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
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestEnv('dash-e2e');
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    // Other customers moving in the same months, so the month's list is more than the known one.
    const background = stripeHistory({ customers: 30, seed: 7, prefix: 'bg', from: nextMonth - 200 * DAY, to: Math.floor(now.getTime() / 1000) - DAY });
    await (await t.rt.kafka.appender()).append('stripe.events.v1', stripeRecords([...background, ...knownHistory()]));
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
    // en-US and UTC: the page formats money with the browser's locale; the test reads it back.
    page = await (await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1400, height: 1000 } })).newPage();
  });
  after(async () => {
    // Whatever happened, the last state of the page is kept for whoever reads a failure.
    await page?.screenshot({ path: new URL('dashboard-last.png', ARTIFACTS).pathname, fullPage: true }).catch(() => undefined);
    await browser?.close();
    await app?.close();
    await t?.cleanup();
  });

  const shot = (name: string) => page.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true });

  it('given a signed-in analyst, when a month of the bridge and then a movement are chosen, then the page shows what the analytics views hold, personal data masked', async () => {
    // Sign in as a person does: the page asks for a key, the form posts it.
    const key = await createKey(t, ['read'], 'e2e-analyst');
    await page.goto(app.url);
    await page.getByPlaceholder('evl_…').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
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
});
