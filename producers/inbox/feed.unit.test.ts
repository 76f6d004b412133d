import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from '../../lib/errors.ts';
import type { InboxItemRow } from '../../projections/inbox/read.ts';
import { decodeCursor, encodeCursor, feedQuery, FeedRenderer } from './feed.ts';
import { toEvent } from './to-event.ts';

const created = new Date(Date.UTC(2026, 2, 14, 13, 0, 0));

function row(template: string, data: unknown, extra: Partial<InboxItemRow> = {}): InboxItemRow {
  return {
    notification_id: 'ntf_abc',
    user_id: 'user_1',
    template,
    category: 'billing',
    locale: 'en-US',
    created_at: created,
    seen_at: null,
    read_at: null,
    archived_at: null,
    data: data === null ? null : JSON.stringify(data),
    ...extra,
  };
}

function badRequest(query: Record<string, unknown>): string[] {
  try {
    feedQuery(query);
  } catch (err) {
    assert.ok(isEventlineError(err, 'bad_request'));
    return err.detail as string[];
  }
  assert.fail(`accepted ${JSON.stringify(query)}`);
}

describe('inbox feed', () => {
  it('given no parameters, then the items not archived, 24 at a time, from the newest', () => {
    assert.deepEqual(feedQuery({}), { filter: 'default', limit: 24, after: null });
    assert.deepEqual(feedQuery({ status: 'unread', limit: '100' }), { filter: 'unread', limit: 100, after: null });
    assert.deepEqual(feedQuery({ status: 'all', limit: '1' }), { filter: 'all', limit: 1, after: null });
  });

  it('given a bad status, limit or cursor, then 400 naming each', () => {
    assert.equal(badRequest({ status: 'read' }).length, 1);
    for (const limit of ['0', '101', '-1', '1.5', 'ten', '', '00000001']) assert.match(badRequest({ limit })[0] ?? '', /^limit:/, limit);
    assert.match(badRequest({ cursor: 'not a cursor' })[0] ?? '', /^cursor:/);
    assert.match(badRequest({ cursor: Buffer.from('[1,"x"]').toString('base64url') })[0] ?? '', /^cursor:/);
    assert.match(badRequest({ status: ['unread', 'all'] })[0] ?? '', /^status:/);
    assert.equal(badRequest({ status: 'x', limit: '0', cursor: '!' }).length, 3);
  });

  it('given a cursor it made, then it reads back the same position', () => {
    const p = { createdAt: created.getTime(), notificationId: 'ntf_Zz9' };
    assert.deepEqual(decodeCursor(encodeCursor(p)), p);
    assert.deepEqual(feedQuery({ cursor: encodeCursor(p) }).after, p);
  });

  it('renders the title from the subject and the body from the SMS text, in the chosen locale and the user time zone', () => {
    const renderer = new FeedRenderer();
    const receipt = renderer.item(row('receipt', { amount_due: 1250, currency: 'usd' }), 'UTC');
    assert.equal(receipt.title, 'Payment received: $12.50');
    assert.equal(receipt.body, 'Payment of $12.50 received. Thank you!');
    assert.equal(receipt.action_url, null);
    assert.equal(receipt.created_at, '2026-03-14T13:00:00.000Z');
    const german = renderer.item(row('payment_failed', { amount_due: 4900, currency: 'eur', hosted_invoice_url: 'https://pay.example.com/i/1' }, { locale: 'de-DE' }), 'UTC');
    assert.equal(german.title, 'Ihre Zahlung über 49,00\u00a0€ ist fehlgeschlagen');
    assert.equal(german.action_url, 'https://pay.example.com/i/1');
    // 13:00 UTC on 14 March is already the 15th in Auckland.
    const trial = renderer.item(row('trial_ending', { trial_end: created.getTime() / 1000, amount: 900, currency: 'usd', interval: 'month' }), 'Pacific/Auckland');
    assert.equal(trial.title, 'Your trial ends on Mar 15, 2026');
  });

  it('takes action_url, else hosted_invoice_url, and only https links', () => {
    const renderer = new FeedRenderer();
    const url = (data: Record<string, unknown>) => renderer.item(row('receipt', data), 'UTC').action_url;
    assert.equal(url({ action_url: 'https://app.example.com/billing', hosted_invoice_url: 'https://pay.example.com/i/1' }), 'https://app.example.com/billing');
    assert.equal(url({ action_url: 'javascript:alert(1)', hosted_invoice_url: 'https://pay.example.com/i/1' }), 'https://pay.example.com/i/1');
    assert.equal(url({ action_url: 'http://app.example.com/billing' }), null);
  });

  it('given no request yet, a template that is gone, or data that is not an object, then no text but the item', () => {
    const renderer = new FeedRenderer();
    assert.deepEqual([renderer.item(row('receipt', null), 'UTC').title, renderer.item(row('receipt', null), 'UTC').body], [null, null]);
    assert.equal(renderer.item(row('no_such_template', {}), 'UTC').title, null);
    assert.equal(renderer.item(row('subscription_canceled', [1, 2]), 'UTC').title, 'Your subscription has been canceled');
  });

  it('given an inbox change, then an in_app delivery event from eventline with the kind it records', () => {
    const at = created.getTime();
    const e = toEvent({ notificationId: 'ntf_abc', userId: 'user_1', action: 'archive', actor: 'k1', at });
    assert.deepEqual(
      [e.event_id, e.provider, e.channel, e.kind, e.provider_event, e.notification_id, e.occurred_at, e.received_at],
      [`inapp:ntf_abc:archived:${at}`, 'eventline', 'in_app', 'archived', 'archive', 'ntf_abc', at, at],
    );
    assert.deepEqual(JSON.parse(e.raw), { action: 'archive', user_id: 'user_1', actor: 'k1' });
    const all = toEvent({ notificationId: 'ntf_abc', userId: 'user_1', action: 'read_all', actor: 'user:user_1', at });
    assert.deepEqual([all.kind, all.provider_event, all.event_id], ['read', 'read_all', `inapp:ntf_abc:read:${at}`]);
  });
});
