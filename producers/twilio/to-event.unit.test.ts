import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from '../../lib/errors.ts';
import { toDeliveryEvent } from './to-event.ts';

const sid = 'SM0123456789abcdef0123456789abcdef';
const callback = { AccountSid: 'AC0123456789abcdef0123456789abcdef', ApiVersion: '2010-04-01', From: '+14155550100', To: '+14155550123', MessageSid: sid, SmsSid: sid, MessageStatus: 'undelivered', SmsStatus: 'undelivered', ErrorCode: '30003' };

describe('Twilio status callback to delivery record', () => {
  it('maps a callback, keyed by the notification id when known', () => {
    const { key, value } = toDeliveryEvent(callback, 'ntf_7', 1_760_000_000_000);
    assert.equal(key, 'ntf_7');
    assert.equal(value.event_id, `${sid}:undelivered`);
    assert.equal(value.kind, 'undelivered');
    assert.equal(value.error_code, '30003');
    assert.equal(value.recipient, '+14155550123');
    assert.equal(value.channel, 'sms');
    assert.equal(value.occurred_at, 1_760_000_000_000);
    assert.deepEqual(JSON.parse(value.raw), callback);
  });

  it('keys by the message SID without a notification id, and keeps unknown statuses', () => {
    const { key, value } = toDeliveryEvent({ ...callback, MessageStatus: 'partially_delivered' }, null, 1);
    assert.equal(key, sid);
    assert.equal(value.kind, 'unknown');
    assert.equal(value.provider_event, 'partially_delivered');
  });

  it('rejects fields that are not a status callback', () => {
    assert.throws(() => toDeliveryEvent({ MessageStatus: 'sent' }, null, 1), (err: unknown) => isEventlineError(err, 'bad_request'));
    assert.throws(() => toDeliveryEvent({ MessageSid: 'SMshort', MessageStatus: 'sent' }, null, 1), (err: unknown) => isEventlineError(err, 'bad_request'));
  });
});
