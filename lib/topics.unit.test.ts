import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dlqTopicFor, Names, recordsOfTopic, topicNames } from './topics.ts';

describe('topic names and namespaces', () => {
  it('given no namespace, then physical names are the contract names', () => {
    const n = new Names(null);
    assert.equal(n.topic('stripe.events.v1'), 'stripe.events.v1');
    assert.equal(n.group('projection.mrr'), 'projection.mrr');
    assert.equal(n.subject('stripe.events.v1', 'StripeEventReceived'), 'stripe.events.v1-eventline.stripe.StripeEventReceived');
    assert.equal(n.redisKey('dispatch', 'cap'), 'eventline:dispatch:cap');
  });

  it('given a namespace, then topics, groups, subjects and Redis keys carry it, and only its own topics map back', () => {
    const n = new Names('ci-7');
    assert.equal(n.topic('notify.dispatches.v1'), 'ci-7.notify.dispatches.v1');
    assert.equal(n.group('processor.dispatch'), 'ci-7.processor.dispatch');
    assert.equal(n.subject('domain.events.v1', 'UserSignedUp'), 'ci-7.domain.events.v1-eventline.domain.UserSignedUp');
    assert.equal(n.redisKey('x'), 'ci-7:x');
    assert.equal(n.logicalTopic('ci-7.stripe.events.v1'), 'stripe.events.v1');
    assert.equal(n.logicalTopic('ci-7.dlq.projection.mrr.v1'), 'dlq.projection.mrr.v1');
    assert.equal(n.logicalTopic('stripe.events.v1'), null);
    assert.equal(n.logicalTopic('ci-7.unknown.v1'), null);
  });

  it('lists the contract topics, and the records each carries', () => {
    assert.deepEqual([...topicNames].sort(), [
      'billing.dunning-steps.v1',
      'domain.events.v1',
      'notify.delivery-events.v1',
      'notify.dispatch-requests.v1',
      'notify.dispatches.v1',
      'notify.preference-changes.v1',
      'notify.provider-health.v1',
      'notify.templates.v1',
      'privacy.erasures.v1',
      'risk.fraud-scores.v1',
      'stripe.events.v1',
    ]);
    assert.deepEqual(recordsOfTopic('stripe.events.v1'), ['StripeEventReceived']);
    assert.deepEqual(recordsOfTopic('notify.provider-health.v1'), ['ProviderCircuitChanged']);
    assert.deepEqual(recordsOfTopic('privacy.erasures.v1'), ['UserErased']);
    assert.deepEqual(recordsOfTopic(dlqTopicFor('projection.mrr')), ['DeadLetter']);
    assert.equal(dlqTopicFor('processor.fraud'), 'dlq.processor.fraud.v1');
  });
});
