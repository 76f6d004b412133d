import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from '../../lib/errors.ts';
import { charge, coupon, customer, event, invoice, subscription } from '../../cli/demo/stripe-objects.ts';
import { parseStripeEvent, stripeCustomerId, toStripeEventReceived } from './to-event.ts';

describe('Stripe event to record', () => {
  it('keys subscription, invoice, charge and customer events by the customer, and coupons by their own id', () => {
    const sub = event('2025-03-31.basil', {
      type: 'customer.subscription.updated',
      created: 1_760_000_000,
      object: subscription('2025-03-31.basil', { id: 'sub_A', customer: 'cus_A', status: 'active', items: [{ unitAmount: 1000 }], created: 1_759_000_000 }),
    });
    const inv = event('2024-06-20', { type: 'invoice.paid', created: 1, object: invoice('2024-06-20', { id: 'in_B', customer: 'cus_B', subscription: 'sub_B', amountDue: 1, status: 'paid', created: 1 }) });
    const ch = event('2025-09-30.clover', { type: 'charge.failed', created: 1, object: { ...charge({ id: 'ch_C', customer: 'cus_C', amount: 100, created: 1 }), customer: { id: 'cus_C', object: 'customer' } } });
    const cu = event('2025-09-30.clover', { type: 'customer.created', created: 1, object: customer({ id: 'cus_D', email: 'd@example.com', created: 1 }) });
    const cp = event('2025-09-30.clover', { type: 'coupon.created', created: 1, object: coupon({ id: 'SPRING25', percentOff: 25 }) });
    assert.deepEqual(
      [sub, inv, ch, cu, cp].map((e) => toStripeEventReceived(JSON.stringify(e), parseStripeEvent(e), 5, 'webhook').key),
      ['cus_A', 'cus_B', 'cus_C', 'cus_D', 'SPRING25'],
    );
  });

  it('keeps the raw JSON byte for byte and fills the envelope from the event', () => {
    const e = event('2025-03-31.basil', { id: 'evt_123', type: 'invoice.payment_failed', created: 1_760_000_123, object: invoice('2025-03-31.basil', { id: 'in_X', customer: 'cus_X', subscription: 'sub_X', amountDue: 4900, status: 'open', created: 1 }) });
    const raw = `${JSON.stringify(e, null, 2)}\n`;
    const { value } = toStripeEventReceived(raw, parseStripeEvent(JSON.parse(raw)), 1_760_000_124_500, 'webhook');
    assert.equal(value.payload, raw);
    assert.equal(value.event_id, 'evt_123');
    assert.equal(value.occurred_at, 1_760_000_123_000);
    assert.equal(value.received_at, 1_760_000_124_500);
    assert.equal(value.api_version, '2025-03-31.basil');
    assert.equal(value.object_type, 'invoice');
    assert.equal(value.object_id, 'in_X');
    assert.equal(value.customer_id, 'cus_X');
  });

  it('rejects JSON that is not an event, naming each missing field', () => {
    assert.throws(
      () => parseStripeEvent({ id: 'ch_1', created: 'yesterday', data: {} }),
      (err: unknown) => isEventlineError(err, 'bad_request') && (err.detail as string[]).length === 4,
    );
    assert.throws(() => parseStripeEvent([1, 2]), (err: unknown) => isEventlineError(err, 'bad_request'));
  });

  it('finds no customer on objects that have none', () => {
    assert.equal(stripeCustomerId({ object: 'price', id: 'price_1' }), null);
    assert.equal(stripeCustomerId({ object: 'invoice', customer: '' }), null);
  });
});
