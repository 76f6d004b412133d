import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from '../../lib/errors.ts';
import { parseSendgridBatch, toDeliveryEvent } from './to-event.ts';

const base = { email: 'ana@example.com', timestamp: 1_760_000_000, 'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>', sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0', notification_id: 'ntf_1' };

describe('SendGrid event to delivery record', () => {
  it('normalizes each SendGrid event kind and keeps the provider name', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ event: 'processed' }, 'processed'],
      [{ event: 'deferred', response: '400 try again later', attempt: '5' }, 'deferred'],
      [{ event: 'delivered', response: '250 OK' }, 'delivered'],
      [{ event: 'bounce', type: 'bounce', reason: '550 5.1.1 user unknown', status: '5.1.1' }, 'bounced'],
      [{ event: 'dropped', reason: 'Bounced Address' }, 'dropped'],
      [{ event: 'open', useragent: 'Mozilla/5.0', ip: '203.0.113.9' }, 'opened'],
      [{ event: 'click', url: 'https://app.example.com/billing' }, 'clicked'],
      [{ event: 'spamreport' }, 'spam_reported'],
      [{ event: 'unsubscribe' }, 'unsubscribed'],
      [{ event: 'group_unsubscribe', asm_group_id: 12 }, 'unsubscribed'],
      [{ event: 'group_resubscribe', asm_group_id: 12 }, 'resubscribed'],
      [{ event: 'machine_opened' }, 'unknown'],
    ];
    for (const [extra, kind] of cases) {
      const { key, value } = toDeliveryEvent({ ...base, sg_event_id: `sg_${kind}`, ...extra }, 99);
      assert.equal(value.kind, kind, String(extra.event));
      assert.equal(value.provider_event, extra.event);
      assert.equal(key, 'ntf_1');
      assert.equal(value.notification_id, 'ntf_1');
      assert.equal(value.occurred_at, 1_760_000_000_000);
      assert.equal(value.channel, 'email');
    }
  });

  it('carries bounce details, the clicked URL and the raw event', () => {
    const ev = { ...base, sg_event_id: 'b1', event: 'bounce', type: 'blocked', reason: '550 blocked', status: '5.7.1' };
    const { value } = toDeliveryEvent(ev, 1);
    assert.equal(value.bounce_type, 'blocked');
    assert.equal(value.reason, '550 blocked');
    assert.equal(value.error_code, '5.7.1');
    assert.deepEqual(JSON.parse(value.raw), ev);
    assert.equal(toDeliveryEvent({ ...base, sg_event_id: 'c1', event: 'click', url: 'https://x.test/a' }, 1).value.url, 'https://x.test/a');
  });

  it('keys by message id without a notification id, and derives a stable event id without sg_event_id', () => {
    const ev: Record<string, unknown> = { ...base, event: 'delivered' };
    delete ev.notification_id;
    const a = toDeliveryEvent(ev, 1);
    const b = toDeliveryEvent({ ...ev }, 2);
    assert.equal(a.key, base.sg_message_id);
    assert.equal(a.value.event_id, b.value.event_id);
    assert.match(a.value.event_id, /^sg_/);
  });

  it('rejects a body that is not a non-empty array of events', () => {
    for (const body of [{}, [], [{ event: 'open' }], ['x'], [{ timestamp: 1 }]]) {
      assert.throws(() => parseSendgridBatch(body), (err: unknown) => isEventlineError(err, 'bad_request'), JSON.stringify(body));
    }
  });
});
