/**
 * The hosted preference centre in a real browser (Debian's chromium driven by playwright-core): a
 * user follows the unsubscribe link of an email, goes on to the preference centre, reads every
 * category × channel as stored, changes a few with the keyboard and the labels, and saves once.
 * Checked against Postgres and the preference events on Kafka; screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import { signUserToken } from '../../lib/http/user-token.ts';
import { signUnsubscribeToken } from '../../notify/index.ts';
import { channels, defaultPreferences, isEssential, type Preferences } from '../../projections/preferences/document.ts';
import { applyPreferenceChanges, readPreferences } from '../../projections/preferences/store.ts';
import { startApp, type RunningApp } from '../../test/support/app.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { unsubscribeSecret } from '../../test/support/providers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const USER = 'user_centre_1';

describe('the hosted preference centre in a browser', () => {
  let t: TestEnv;
  let app: RunningApp;
  let browser: Browser;
  let page: Page;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await createTestEnv('prefcentre', { UNSUBSCRIBE_SECRET: unsubscribeSecret });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    await applyPreferenceChanges(t.rt.db, [
      {
        event_id: `pref_${USER}`,
        occurred_at: 1,
        received_at: 1,
        user_id: USER,
        change: 'updated',
        actor: 'test',
        reason: null,
        source: 'api',
        category: null,
        preferences: { ...defaultPreferences(), phone: '+14155550177', categories: { product: { email: false }, marketing: { sms: false } } },
        previous: null,
      },
    ]);
    app = await startApp(t.rt);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
    page = await (await browser.newContext({ locale: 'en-US' })).newPage();
  });
  after(async () => {
    await page?.screenshot({ path: new URL('preference-centre-last.png', ARTIFACTS).pathname, fullPage: true }).catch(() => undefined);
    await browser?.close();
    await app?.close();
    await t?.cleanup();
  });

  /** Whether the page's box for a category (or the channel row) and channel is checked, as the browser has it. */
  const box = (id: string) => page.locator(`#${id}`);

  it('given an unsubscribe link, when the user goes on to the preference centre, then every category × channel shows as stored, essential ones locked on', async () => {
    await page.goto(`${app.url}/v1/unsubscribe/${signUnsubscribeToken(unsubscribeSecret, USER, 'product', Date.now())}`);
    const link = page.getByRole('link', { name: 'Choose which messages you get, and how' });
    const href = await link.getAttribute('href');
    assert.ok(href, 'the unsubscribe page links to the preference centre');
    // The link is built on EVENTLINE_PUBLIC_URL (the proxy's address in production): the same path here.
    const target = new URL(href);
    assert.match(target.pathname, /^\/v1\/preference-centre\/evp_/);
    // The page's token opens the page only: not the user's push subscriptions, inbox or preferences API.
    const centreToken = target.pathname.split('/').at(-1) ?? '';
    for (const path of [`/v1/users/${USER}/push-subscriptions`, `/v1/users/${USER}/inbox`, `/v1/users/${USER}/preferences`]) {
      const res = await fetch(`${app.url}${path}`, { method: path.endsWith('subscriptions') ? 'POST' : 'GET', headers: { authorization: `Bearer ${centreToken}`, 'content-type': 'application/json' }, body: path.endsWith('subscriptions') ? '{}' : undefined });
      assert.equal(res.status, 401, path);
    }
    await page.goto(`${app.url}${target.pathname}`);
    await page.getByRole('heading', { name: 'Notification preferences' }).waitFor();

    const stored = (await readPreferences(t.rt.db, USER)).preferences;
    const rows = await page.locator('tbody tr[data-category]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-category') ?? ''));
    assert.deepEqual(rows.slice(0, 2), ['payment', 'security'], 'essential first');
    assert.ok(rows.includes('marketing') && rows.includes('billing') && rows.includes('product') && rows.includes('account'), rows.join());
    for (const category of rows) {
      for (const channel of channels) {
        const cell = box(`cat-${category}-${channel}`);
        const expected = isEssential(category) || stored.categories[category]?.[channel] !== false;
        assert.equal(await cell.isChecked(), expected, `${category} × ${channel}`);
        assert.equal(await cell.isDisabled(), isEssential(category), `${category} × ${channel} locked only when essential`);
      }
    }
    for (const channel of channels) assert.equal(await box(`channel-${channel}`).isChecked(), stored.channels[channel] !== false, `channel ${channel}`);
    assert.equal(await page.getByLabel(/I agree to receive text messages/).isChecked(), false, 'no SMS consent yet');
    await page.screenshot({ path: new URL('preference-centre-before.png', ARTIFACTS).pathname, fullPage: true });
  });

  it('given changes made with the labels and the keyboard, when saved once, then one preference event records them with who and why, and the page shows them', async () => {
    await page.getByLabel('Billing and receipts by Email', { exact: true }).uncheck();
    await page.getByLabel('Product news and digests by Email', { exact: true }).check();
    await page.getByLabel(/I agree to receive text messages at \+14155550177/).check();
    await page.getByLabel('Send urgent messages first by').selectOption({ label: 'Text (SMS)' });
    await page.getByLabel('Why (optional)').fill('fewer emails, texts for urgent things');
    await page.getByLabel('Why (optional)').press('Enter');
    await page.getByRole('status').filter({ hasText: 'Your preferences are saved.' }).waitFor();
    await page.screenshot({ path: new URL('preference-centre-saved.png', ARTIFACTS).pathname, fullPage: true });

    const after: Preferences = (await readPreferences(t.rt.db, USER)).preferences;
    assert.equal(after.categories.billing?.email, false);
    assert.equal(after.categories.product?.email, true);
    assert.equal(after.categories.marketing?.sms, false, 'untouched boxes keep their state');
    assert.equal(after.preferred_channel, 'sms');
    assert.equal(after.sms_consent?.source, 'preference_centre');
    // The page after saving shows what is stored.
    assert.equal(await box('cat-billing-email').isChecked(), false);
    assert.equal(await box('cat-product-email').isChecked(), true);
    assert.equal(await page.getByLabel(/I agree to receive text messages/).isChecked(), true);

    const changes = await collect(t.rt.kafka, ['notify.preference-changes.v1'], (rs) => rs.some((r) => r.value.user_id === USER));
    const mine = changes.filter((r) => r.value.user_id === USER).map((r) => r.value);
    assert.equal(mine.length, 1, 'one POST, one event');
    assert.deepEqual([mine[0]?.change, mine[0]?.source, mine[0]?.reason], ['updated', 'preference_centre', 'fewer emails, texts for urgent things']);
    assert.match(mine[0]?.actor ?? '', /^preference-centre:[0-9a-f]{12}$/);
    assert.equal(mine[0]?.previous?.categories.billing?.email ?? true, true, 'the event carries the before');
  });

  it('given a forged, expired or mistyped request, then a 4xx error and nothing is changed', async () => {
    const before = (await readPreferences(t.rt.db, USER)).changedAt;
    const token = signUserToken(unsubscribeSecret, USER, Date.now()).token;
    const post = (path: string, body: string, type = 'application/x-www-form-urlencoded') =>
      fetch(`${app.url}/v1/preference-centre/${path}`, { method: 'POST', headers: { 'content-type': type, accept: 'application/json' }, body });
    const forged = await post(signUserToken('another-secret-0123456789abcdef0123456789', USER, Date.now()).token, 'shown=billing');
    assert.equal(forged.status, 400);
    assert.equal(((await forged.json()) as { error: string }).error, 'bad_request');
    const expired = await post(signUserToken(unsubscribeSecret, USER, Date.now() - 2 * 86_400_000, 3600).token, 'shown=billing');
    assert.equal(expired.status, 410);
    assert.equal((await post(token, '{"shown":"billing"}', 'application/json')).status, 415);
    const bad = await post(token, 'shown=billing&cat.security.email=on&channel.fax=on');
    assert.equal(bad.status, 422);
    assert.deepEqual(((await bad.json()) as { problems: string[] }).problems, ['cat.security.email: security notifications are always sent and cannot be changed', 'channel.fax: no such channel (email, sms, push, in_app)']);
    const html = await fetch(`${app.url}/v1/preference-centre/not-a-token`, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 400);
    assert.match(await html.text(), /this preferences link is not valid/);
    assert.deepEqual((await readPreferences(t.rt.db, USER)).changedAt, before);
  });
});
