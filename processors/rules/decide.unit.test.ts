import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notificationIdFor } from '../../notify/index.ts';
import { decide, valueAt, type DomainEvent } from './decide.ts';
import type { Rule } from '../../notify/index.ts';

const t0 = Date.UTC(2026, 10, 20, 10, 0, 0);

const securityAlert: Rule = {
  name: 'security-alert',
  event: 'eventline.domain.SecurityAlertRaised',
  template: 'security_alert',
  category: 'security',
  priority: 'HIGH',
  channel: null,
  recipient: 'user_id',
  data: { alert: 'alert', ip: 'ip', device: 'device' },
};
const usage: Rule = { ...securityAlert, name: 'usage-threshold', event: 'eventline.domain.UsageThresholdReached', template: 'usage_threshold', category: 'billing', priority: 'NORMAL', data: 'all' };

const alertEvent: DomainEvent = {
  type: 'eventline.domain.SecurityAlertRaised',
  eventId: 'sec-1',
  occurredAt: t0,
  receivedAt: t0 + 5,
  data: { user_id: 'user_9', alert: 'new_device_login', ip: '203.0.113.5', device: null },
};

describe('deciding the notification requests of a domain event', () => {
  it('given an event a rule names, then one request with the rule\'s template, category, priority, recipient and mapped data, at event time', () => {
    const { requests, failures } = decide(alertEvent, [securityAlert, usage]);
    assert.deepEqual(failures, []);
    assert.equal(requests.length, 1);
    const expected = {
      event_id: 'req:rule:security-alert:sec-1',
      occurred_at: t0,
      received_at: t0 + 5,
      notification_id: notificationIdFor('rule:security-alert:sec-1'),
      user_id: 'user_9',
      template: 'security_alert',
      category: 'security',
      priority: 'HIGH',
      channel: null,
      data: JSON.stringify({ alert: 'new_device_login', ip: '203.0.113.5', device: null }),
      idempotency_key: null,
      requested_by: 'processor.rules',
      source_event_id: 'sec-1',
    };
    const request = requests[0] as unknown as Record<string, unknown>;
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, request[k]])), expected);
  });

  it('given the same event again (redelivery, replay), then the same request, so the dispatcher sends it once', () => {
    assert.deepEqual(decide({ ...alertEvent }, [securityAlert]), decide(alertEvent, [securityAlert]));
    const other = decide({ ...alertEvent, eventId: 'sec-2' }, [securityAlert]).requests[0];
    assert.notEqual(other?.notification_id, decide(alertEvent, [securityAlert]).requests[0]?.notification_id);
  });

  it('given two rules on one event, then two notifications; given a rule forcing a channel or taking all data, then so', () => {
    const team: Rule = { ...securityAlert, name: 'security-team', channel: 'email', data: 'all' };
    const { requests } = decide(alertEvent, [securityAlert, team]);
    assert.equal(new Set(requests.map((r) => r.notification_id)).size, 2);
    assert.equal(requests[1]?.channel, 'email');
    assert.deepEqual(JSON.parse(requests[1]?.data ?? ''), alertEvent.data);
  });

  it('given an event no rule names, then nothing', () => {
    assert.deepEqual(decide({ ...alertEvent, type: 'eventline.domain.UserSignedUp' }, [securityAlert, usage]), { requests: [], failures: [] });
  });

  it('given an event without its recipient field, then a failure for that rule and the other rules\' requests', () => {
    const byOwner: Rule = { ...securityAlert, name: 'owner', recipient: 'account.owner_id' };
    const { requests, failures } = decide({ ...alertEvent, data: { alert: 'mfa_disabled', ip: null, device: null } }, [securityAlert, { ...byOwner, recipient: 'alert' }]);
    assert.deepEqual(failures, ['rule security-alert: the recipient field user_id is missing']);
    assert.deepEqual(requests.map((r) => r.user_id), ['mfa_disabled']);
    assert.deepEqual(decide({ ...alertEvent, data: { ...alertEvent.data, user_id: '' } }, [securityAlert]).failures, ['rule security-alert: the recipient field user_id is not a user id']);
    assert.deepEqual(decide({ ...alertEvent, data: { account: { owner_id: 'user_3' } } }, [byOwner]).requests.map((r) => r.user_id), ['user_3']);
  });

  it('given a dotted path, then it reads nested fields and nothing inherited', () => {
    assert.equal(valueAt({ a: { b: { c: 1 } } }, 'a.b.c'), 1);
    assert.equal(valueAt({ a: null }, 'a.b'), undefined);
    assert.equal(valueAt({}, 'toString'), undefined);
  });
});
