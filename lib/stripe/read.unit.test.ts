import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { apiVersions, invoice, subscription } from '../../cli/demo/stripe-objects.ts';
import {
  idOf,
  num,
  readCharge,
  readCoupon,
  readCustomer,
  readDiscount,
  readDispute,
  readInvoice,
  readPaymentIntent,
  readStripeEvent,
  readSubscription,
  record,
  text,
  viewStripeEvent,
} from './index.ts';

// Payloads as Stripe sends them for each API version (fields MRR, fraud and dunning read, and some
// they do not). Expected values below are written out by hand.

const subscriptionUpdated20240620 = `{
  "id": "evt_1PXa2bLkdIwHu7ixSubUpd01",
  "object": "event",
  "api_version": "2024-06-20",
  "created": 1719878400,
  "data": {
    "object": {
      "id": "sub_1PXa1zLkdIwHu7ix",
      "object": "subscription",
      "cancel_at": 1722556800,
      "cancel_at_period_end": true,
      "canceled_at": 1719878400,
      "created": 1717200000,
      "currency": "usd",
      "current_period_end": 1722556800,
      "current_period_start": 1719878400,
      "customer": "cus_QOa1LkdIwHu7ix",
      "discount": {
        "id": "di_1PXa1yLkdIwHu7ix",
        "object": "discount",
        "coupon": { "id": "SPRING25", "object": "coupon", "amount_off": null, "currency": null, "duration": "forever", "percent_off": 25, "valid": true },
        "customer": "cus_QOa1LkdIwHu7ix",
        "end": null,
        "start": 1717200000,
        "subscription": "sub_1PXa1zLkdIwHu7ix"
      },
      "discounts": ["di_1PXa1yLkdIwHu7ix"],
      "items": {
        "object": "list",
        "data": [
          {
            "id": "si_QOa1",
            "object": "subscription_item",
            "plan": { "id": "price_Pro", "object": "plan", "amount": 2900, "amount_decimal": "2900", "billing_scheme": "per_unit", "currency": "usd", "interval": "month", "interval_count": 1, "nickname": "Pro (plan)", "usage_type": "licensed" },
            "price": {
              "id": "price_Pro",
              "object": "price",
              "billing_scheme": "per_unit",
              "currency": "usd",
              "nickname": "Pro",
              "recurring": { "interval": "month", "interval_count": 1, "usage_type": "licensed", "meter": null, "trial_period_days": null },
              "type": "recurring",
              "unit_amount": 2900,
              "unit_amount_decimal": "2900"
            },
            "quantity": 4
          }
        ],
        "has_more": false
      },
      "metadata": { "user_id": "user_7", "tier": "pro" },
      "status": "active",
      "trial_end": 1718409600
    },
    "previous_attributes": { "cancel_at_period_end": false, "cancel_at": null }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": { "id": "req_x1", "idempotency_key": null },
  "type": "customer.subscription.updated"
}`;

const subscriptionBasil = {
  id: 'sub_1R1basil',
  object: 'subscription',
  cancel_at: null,
  cancel_at_period_end: false,
  canceled_at: null,
  created: 1743465600,
  currency: 'EUR',
  customer: { id: 'cus_Basil', object: 'customer', email: 'b@example.com' },
  discounts: ['di_Ref1', { id: 'di_Exp1', object: 'discount', coupon: { id: 'TENOFF', object: 'coupon', amount_off: 1000, currency: 'eur', percent_off: null, duration: 'repeating' }, customer: 'cus_Basil', subscription: 'sub_1R1basil' }, '', 7],
  items: {
    object: 'list',
    data: [
      {
        id: 'si_B0',
        object: 'subscription_item',
        current_period_end: 1775001600,
        current_period_start: 1743465600,
        price: { id: 'price_Seat', object: 'price', billing_scheme: 'per_unit', currency: 'eur', nickname: null, recurring: { interval: 'year', interval_count: 1, usage_type: 'licensed' }, unit_amount: null, unit_amount_decimal: '1250.5' },
        quantity: 3,
      },
      {
        id: 'si_B1',
        object: 'subscription_item',
        price: { id: 'price_Api', object: 'price', billing_scheme: 'per_unit', currency: 'eur', recurring: { interval: 'month', usage_type: 'metered' }, unit_amount: 2, unit_amount_decimal: '2' },
      },
      {
        id: 'si_B2',
        object: 'subscription_item',
        price: { id: 'price_Tier', object: 'price', billing_scheme: 'tiered', currency: 'eur', recurring: { interval: 'week', interval_count: 2, usage_type: 'licensed' }, tiers: [{ up_to: 10, unit_amount: 500 }, { up_to: null, unit_amount: 400 }], tiers_mode: 'volume', unit_amount: null, unit_amount_decimal: null },
        quantity: 12,
      },
      'si_not_an_object',
    ],
  },
  metadata: { user_id: 'user_9', seats: 3, note: null },
  status: 'past_due',
  trial_end: null,
};

/** An item from an account whose items carry only the legacy plan, its price given by id. */
const legacyPlanItemSubscription = {
  id: 'sub_Legacy',
  object: 'subscription',
  customer: 'cus_Legacy',
  currency: 'gbp',
  status: 'active',
  items: { object: 'list', data: [{ id: 'si_L', object: 'subscription_item', price: 'price_Legacy', plan: { id: 'plan_Legacy', object: 'plan', amount: null, amount_decimal: '999.75', billing_scheme: 'per_unit', currency: 'GBP', interval: 'month', interval_count: 3, nickname: 'Quarterly', usage_type: 'licensed' }, quantity: 2 }] },
};

const discountClover = { id: 'di_Clover', object: 'discount', customer: 'cus_C', end: null, invoice: null, promotion_code: null, source: { type: 'coupon', coupon: 'Q25' }, start: 1759190400, subscription: 'sub_C', subscription_item: null };
const discountCloverExpanded = { ...discountClover, id: 'di_CloverX', customer: { id: 'cus_C', object: 'customer' }, source: { type: 'coupon', coupon: { id: 'Q25', object: 'coupon', percent_off: 33.3, amount_off: null, currency: null } } };

const invoice20240620 = {
  id: 'in_1PXaLegacy',
  object: 'invoice',
  amount_due: 4900,
  amount_paid: 0,
  attempt_count: 2,
  currency: 'usd',
  customer: 'cus_QOa1LkdIwHu7ix',
  hosted_invoice_url: 'https://invoice.stripe.com/i/acct_1Lk/test_legacy',
  next_payment_attempt: 1720137600,
  paid: false,
  payment_intent: { id: 'pi_Legacy', object: 'payment_intent', amount: 4900, currency: 'usd', customer: 'cus_QOa1LkdIwHu7ix', status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds', type: 'card_error' } },
  status: 'open',
  subscription: 'sub_1PXa1zLkdIwHu7ix',
  subscription_details: { metadata: {} },
  lines: {
    object: 'list',
    has_more: true,
    data: [
      { id: 'il_Seats', object: 'line_item', amount: 4900, currency: 'usd', period: { start: 1719792000, end: 1722470400 }, price: { id: 'price_Seats', object: 'price', recurring: { interval: 'month', usage_type: 'licensed' } }, type: 'subscription' },
      { id: 'il_Calls', object: 'line_item', amount: 125, currency: 'usd', period: { start: 1717200000, end: 1719792000 }, plan: { id: 'plan_Calls', object: 'plan', usage_type: 'metered' }, type: 'subscription' },
    ],
  },
};

const invoiceBasil = {
  id: 'in_1R1Basil',
  object: 'invoice',
  amount_due: 2500,
  amount_paid: 2500,
  attempt_count: 1,
  currency: 'EUR',
  customer: { id: 'cus_Basil', object: 'customer' },
  hosted_invoice_url: null,
  last_finalization_error: { code: 'card_declined', decline_code: 'do_not_honor', type: 'card_error' },
  next_payment_attempt: null,
  parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: {}, subscription: 'sub_1R1basil' } },
  lines: { object: 'list', has_more: false, data: [{ id: 'il_Basil', object: 'line_item', amount: 2500, currency: 'eur', period: { start: 1743465600, end: 1746057600 }, pricing: { type: 'price_details', price_details: { price: 'price_Basil', product: 'prod_1' } } }] },
  payments: {
    object: 'list',
    data: [
      { id: 'inpay_1', object: 'invoice_payment', is_default: false, payment: { type: 'payment_intent', payment_intent: 'pi_Earlier' } },
      { id: 'inpay_2', object: 'invoice_payment', is_default: true, payment: { type: 'payment_intent', payment_intent: { id: 'pi_Default', object: 'payment_intent' } } },
    ],
  },
  status: 'paid',
};

const invoiceClover = {
  id: 'in_1SCClover',
  object: 'invoice',
  amount_due: 900,
  customer: 'cus_C',
  parent: { type: 'subscription_details', subscription_details: { subscription: { id: 'sub_C', object: 'subscription' } } },
  status: 'open',
};

const charge = {
  id: 'ch_3QxFail',
  object: 'charge',
  amount: 150,
  billing_details: { address: { country: 'US', postal_code: null }, email: null, name: null, phone: null },
  currency: 'EUR',
  customer: { id: 'cus_Card', object: 'customer', email: 'x@example.com' },
  outcome: { network_status: 'declined_by_network', reason: 'generic_decline', risk_level: 'elevated', risk_score: 64, type: 'issuer_declined' },
  payment_intent: 'pi_3QxFail',
  payment_method_details: { card: { brand: 'visa', country: 'BR', fingerprint: 'fpQx1', last4: '4242' }, type: 'card' },
  receipt_email: 'buyer@mailinator.com',
  status: 'failed',
};

const customer = {
  id: 'cus_QOa1LkdIwHu7ix',
  object: 'customer',
  address: { city: 'Lyon', country: 'FR', line1: null, line2: null, postal_code: null, state: null },
  created: 1717200000,
  email: 'ana@example.com',
  metadata: { user_id: 'user_7' },
  name: 'Ana Souza',
  phone: '',
  preferred_locales: ['fr-FR', 'en'],
};

describe('lib/stripe reader: values', () => {
  it('given an expandable field, when its id is read, then an id string and an expanded object give the same id and anything else null', () => {
    assert.equal(idOf('cus_1'), 'cus_1');
    assert.equal(idOf({ id: 'cus_1', object: 'customer', email: 'a@example.com' }), 'cus_1');
    assert.equal(idOf({ id: 'cus_1', object: 'customer', deleted: true }), 'cus_1');
    for (const v of ['', { id: '' }, { id: 7 }, { object: 'customer' }, ['cus_1'], 7, null, undefined, true]) assert.equal(idOf(v), null, JSON.stringify(v));
  });

  it('given raw values, when read as text, num or record, then only the matching kind comes back', () => {
    assert.equal(text('usd'), 'usd');
    assert.deepEqual([text(''), text(1), text(null), text(['a'])], [null, null, null, null]);
    assert.deepEqual([num(0), num(-2.5), num(1719878400)], [0, -2.5, 1719878400]);
    assert.deepEqual([num(Number.NaN), num(Number.POSITIVE_INFINITY), num('12'), num(12n), num(null)], [null, null, null, null, null]);
    const plain = { a: 1 };
    const bare = Object.create(null) as Record<string, unknown>;
    assert.equal(record(plain), plain);
    assert.equal(record(bare), bare);
    assert.deepEqual([record([]), record(null), record(new Date(0)), record(new Map()), record('{}')], [null, null, null, null, null]);
  });
});

describe('lib/stripe reader: events', () => {
  it('given a 2024-06-20 event JSON, when read, then the envelope, data.object and previous_attributes come back', () => {
    const view = readStripeEvent(subscriptionUpdated20240620);
    assert.equal(view.id, 'evt_1PXa2bLkdIwHu7ixSubUpd01');
    assert.equal(view.type, 'customer.subscription.updated');
    assert.equal(view.created, 1719878400);
    assert.equal(view.apiVersion, '2024-06-20');
    assert.equal(view.object?.id, 'sub_1PXa1zLkdIwHu7ix');
    assert.deepEqual(view.previousAttributes, { cancel_at_period_end: false, cancel_at: null });
  });

  it('given an event without previous_attributes and with a string created, when read, then those are null', () => {
    const view = readStripeEvent('{"id":"evt_2","type":"invoice.paid","created":"1719878400","api_version":"2025-03-31.basil","data":{"object":{"id":"in_1","object":"invoice"}}}');
    assert.deepEqual(view, { id: 'evt_2', type: 'invoice.paid', created: null, apiVersion: '2025-03-31.basil', object: { id: 'in_1', object: 'invoice' }, previousAttributes: null });
  });

  it('given malformed or non-event JSON, when read, then every field is null and nothing throws', () => {
    const nothing = { id: null, type: null, created: null, apiVersion: null, object: null, previousAttributes: null };
    for (const payload of ['', ' ', '{', '{"id":', 'null', '[]', '["evt_1"]', '"evt_1"', '42', 'true', '{"data":[{"object":{}}]}', '{"data":{"object":"sub_1"}}', '\u0000', 'NaN', '{"id":"evt_1",}']) {
      assert.deepEqual(readStripeEvent(payload), nothing, payload);
    }
    assert.deepEqual(viewStripeEvent([{ id: 'evt_1' }]), nothing);
    assert.deepEqual(viewStripeEvent(new Map([['id', 'evt_1']])), nothing);
  });

  it('given every truncation of a real payload, when read, then each reads as all nulls and only the whole one reads', () => {
    for (let n = 0; n < subscriptionUpdated20240620.length; n++) {
      const view = readStripeEvent(subscriptionUpdated20240620.slice(0, n));
      assert.equal(view.id, null, `prefix of ${n} characters`);
      assert.equal(view.object, null, `prefix of ${n} characters`);
    }
  });
});

describe('lib/stripe reader: subscriptions', () => {
  it('given a 2024-06-20 subscription with price, legacy plan and an embedded discount, when read, then price wins and the discount keeps its coupon', () => {
    const s = readSubscription(readStripeEvent(subscriptionUpdated20240620).object);
    assert.ok(s);
    assert.equal(s.id, 'sub_1PXa1zLkdIwHu7ix');
    assert.equal(s.customerId, 'cus_QOa1LkdIwHu7ix');
    assert.equal(s.status, 'active');
    assert.equal(s.currency, 'usd');
    assert.equal(s.created, 1717200000);
    assert.equal(s.trialEndMs, 1718409600000);
    assert.equal(s.cancelAtPeriodEnd, true);
    assert.equal(s.cancelAtMs, 1722556800000);
    assert.equal(s.canceledAtMs, 1719878400000);
    assert.deepEqual(s.metadata, { user_id: 'user_7', tier: 'pro' });
    assert.deepEqual(s.items, [
      { priceId: 'price_Pro', nickname: 'Pro', unitAmount: 2900, unitAmountDecimal: '2900', currency: 'usd', interval: 'month', intervalCount: 1, quantity: 4, billingScheme: 'per_unit', tiers: null, tiersMode: null, usageType: 'licensed' },
    ]);
    assert.deepEqual(s.discount, { id: 'di_1PXa1yLkdIwHu7ix', customerId: 'cus_QOa1LkdIwHu7ix', subscriptionId: 'sub_1PXa1zLkdIwHu7ix', couponId: 'SPRING25', coupon: { id: 'SPRING25', percentOff: 25, amountOff: null, currency: null, duration: 'forever' } });
    assert.deepEqual(s.discounts, ['di_1PXa1yLkdIwHu7ix']);
  });

  it('given a basil subscription with an expanded customer, decimal, metered and tiered prices and mixed discounts, when read, then each is read as sent', () => {
    const s = readSubscription(subscriptionBasil);
    assert.ok(s);
    assert.equal(s.customerId, 'cus_Basil');
    assert.equal(s.currency, 'eur');
    assert.equal(s.status, 'past_due');
    assert.equal(s.cancelAtPeriodEnd, false);
    assert.deepEqual([s.cancelAtMs, s.canceledAtMs, s.trialEndMs], [null, null, null]);
    assert.deepEqual(s.metadata, { user_id: 'user_9' }, 'metadata values that are not strings are dropped');
    assert.equal(s.discount, null);
    assert.deepEqual(s.discounts, ['di_Ref1', { id: 'di_Exp1', customerId: 'cus_Basil', subscriptionId: 'sub_1R1basil', couponId: 'TENOFF', coupon: { id: 'TENOFF', percentOff: null, amountOff: 1000, currency: 'eur', duration: 'repeating' } }]);
    assert.equal(s.items.length, 3, 'an item that is not an object is skipped');
    assert.deepEqual(s.items[0], { priceId: 'price_Seat', nickname: null, unitAmount: null, unitAmountDecimal: '1250.5', currency: 'eur', interval: 'year', intervalCount: 1, quantity: 3, billingScheme: 'per_unit', tiers: null, tiersMode: null, usageType: 'licensed' });
    assert.deepEqual(s.items[1], { priceId: 'price_Api', nickname: null, unitAmount: 2, unitAmountDecimal: '2', currency: 'eur', interval: 'month', intervalCount: 1, quantity: 1, billingScheme: 'per_unit', tiers: null, tiersMode: null, usageType: 'metered' });
    assert.deepEqual(s.items[2], {
      priceId: 'price_Tier',
      nickname: null,
      unitAmount: null,
      unitAmountDecimal: null,
      currency: 'eur',
      interval: 'week',
      intervalCount: 2,
      quantity: 12,
      billingScheme: 'tiered',
      tiers: [
        { up_to: 10, unit_amount: 500 },
        { up_to: null, unit_amount: 400 },
      ],
      tiersMode: 'volume',
      usageType: 'licensed',
    });
  });

  it('given an item with only the legacy plan and its price as an id, when read, then the plan terms and the price id come back', () => {
    const s = readSubscription(legacyPlanItemSubscription);
    assert.deepEqual(s?.items, [{ priceId: 'price_Legacy', nickname: 'Quarterly', unitAmount: null, unitAmountDecimal: '999.75', currency: 'gbp', interval: 'month', intervalCount: 3, quantity: 2, billingScheme: 'per_unit', tiers: null, tiersMode: null, usageType: 'licensed' }]);
    assert.deepEqual(s?.metadata, {});
  });

  it('given the builders for every API version, when read, then items, price and discounts are found wherever each version puts them', () => {
    for (const v of apiVersions) {
      const basil = v >= '2025-03-31';
      const s = readSubscription(subscription(v, { id: 'sub_V', customer: 'cus_V', status: 'active', items: [{ unitAmount: 1200, quantity: 5, interval: 'year', priceId: 'price_V' }], created: 1, coupon: basil ? null : { id: 'OFF', amountOff: 300 }, discountIds: basil ? ['di_V'] : [] }));
      assert.equal(s?.items[0]?.priceId, 'price_V', v);
      assert.equal(s?.items[0]?.unitAmount, 1200, v);
      assert.equal(s?.items[0]?.interval, 'year', v);
      assert.equal(s?.items[0]?.quantity, 5, v);
      assert.equal(s?.discount?.coupon?.amountOff ?? null, basil ? null : 300, v);
      // Before basil, `discounts` lists the embedded discount's id as well.
      assert.deepEqual(s?.discounts, ['di_V'], v);
    }
  });

  it('given objects that are not subscriptions, when read as one, then null', () => {
    for (const o of [{ ...legacyPlanItemSubscription, object: 'subscription_schedule' }, { ...legacyPlanItemSubscription, object: undefined }, { ...legacyPlanItemSubscription, id: '' }, 'sub_1', null, []]) {
      assert.equal(readSubscription(o), null);
    }
  });
});

describe('lib/stripe reader: discounts and coupons', () => {
  it('given clover discounts with source.coupon as an id and expanded, when read, then the coupon id and (expanded) terms come back', () => {
    assert.deepEqual(readDiscount(discountClover), { id: 'di_Clover', customerId: 'cus_C', subscriptionId: 'sub_C', couponId: 'Q25', coupon: null });
    assert.deepEqual(readDiscount(discountCloverExpanded), { id: 'di_CloverX', customerId: 'cus_C', subscriptionId: 'sub_C', couponId: 'Q25', coupon: { id: 'Q25', percentOff: 33.3, amountOff: null, currency: null, duration: null } });
  });

  it('given coupons, when read, then amount_off keeps its lowercased currency and other objects are refused', () => {
    assert.deepEqual(readCoupon({ id: 'FIVE', object: 'coupon', amount_off: 500, currency: 'USD', percent_off: null, duration: 'once' }), { id: 'FIVE', percentOff: null, amountOff: 500, currency: 'usd', duration: 'once' });
    assert.deepEqual(readCoupon({ percent_off: 50 }), { id: null, percentOff: 50, amountOff: null, currency: null, duration: null });
    assert.equal(readCoupon({ id: 'di_1', object: 'discount' }), null);
    assert.equal(readDiscount({ id: 'di_1', object: 'coupon' }), null);
    assert.equal(readDiscount({ object: 'discount', coupon: 'Q25' }), null, 'a discount needs an id');
  });
});

describe('lib/stripe reader: invoices', () => {
  it('given a 2024-06-20 invoice, when read, then the subscription and payment intent come from the legacy fields, the decline code from the expanded intent', () => {
    assert.deepEqual(readInvoice(invoice20240620), {
      id: 'in_1PXaLegacy',
      customerId: 'cus_QOa1LkdIwHu7ix',
      subscriptionId: 'sub_1PXa1zLkdIwHu7ix',
      status: 'open',
      amountDue: 4900,
      amountPaid: 0,
      currency: 'usd',
      hostedInvoiceUrl: 'https://invoice.stripe.com/i/acct_1Lk/test_legacy',
      attemptCount: 2,
      nextPaymentAttemptMs: 1720137600000,
      declineCode: 'insufficient_funds',
      paymentIntentId: 'pi_Legacy',
      // Each line carries its price (or legacy plan) and says whether it is metered; more lines than the first page.
      lines: [
        { id: 'il_Seats', amount: 4900, currency: 'usd', priceId: 'price_Seats', usageType: 'licensed', periodStartMs: 1719792000000 },
        { id: 'il_Calls', amount: 125, currency: 'usd', priceId: 'plan_Calls', usageType: 'metered', periodStartMs: 1717200000000 },
      ],
      linesComplete: false,
    });
  });

  it('given a basil invoice, when read, then the subscription comes from parent.subscription_details and the intent from the default payment', () => {
    assert.deepEqual(readInvoice(invoiceBasil), {
      id: 'in_1R1Basil',
      customerId: 'cus_Basil',
      subscriptionId: 'sub_1R1basil',
      status: 'paid',
      amountDue: 2500,
      amountPaid: 2500,
      currency: 'eur',
      hostedInvoiceUrl: null,
      attemptCount: 1,
      nextPaymentAttemptMs: null,
      declineCode: 'do_not_honor',
      paymentIntentId: 'pi_Default',
      // From basil a line names its price only: its usage type is not in the invoice.
      lines: [{ id: 'il_Basil', amount: 2500, currency: 'eur', priceId: 'price_Basil', usageType: null, periodStartMs: 1743465600000 }],
      linesComplete: true,
    });
  });

  it('given a clover invoice with its subscription expanded and no object field on another, when read, then both read', () => {
    const clover = readInvoice(invoiceClover);
    assert.equal(clover?.subscriptionId, 'sub_C');
    assert.deepEqual([clover?.amountPaid, clover?.currency, clover?.paymentIntentId, clover?.declineCode], [null, null, null, null]);
    assert.equal(readInvoice({ id: 'in_NoObject', customer: 'cus_1', subscription: 'sub_1' })?.subscriptionId, 'sub_1');
  });

  it('given the builders for every API version, when read, then the subscription id is found in either location', () => {
    for (const v of apiVersions) {
      assert.equal(readInvoice(invoice(v, { id: 'in_V', customer: 'cus_V', subscription: 'sub_V', amountDue: 100, status: 'open', created: 1 }))?.subscriptionId, 'sub_V', v);
      assert.equal(readInvoice(invoice(v, { id: 'in_W', customer: 'cus_V', subscription: null, amountDue: 100, status: 'open', created: 1 }))?.subscriptionId, null, v);
    }
  });

  it('given objects that are not invoices, when read as one, then null', () => {
    for (const o of [{ ...invoiceClover, object: 'charge' }, { ...invoiceClover, id: null }, { object: 'invoice' }, 'in_1']) assert.equal(readInvoice(o), null);
  });
});

describe('lib/stripe reader: charges, payment intents, disputes, customers', () => {
  it('given a failed charge with an expanded customer, when read, then card, billing and risk facts come back, email falling back to receipt_email', () => {
    assert.deepEqual(readCharge(charge), {
      id: 'ch_3QxFail',
      customerId: 'cus_Card',
      amount: 150,
      currency: 'eur',
      cardCountry: 'BR',
      billingCountry: 'US',
      fingerprint: 'fpQx1',
      email: 'buyer@mailinator.com',
      paymentIntentId: 'pi_3QxFail',
      outcomeRiskScore: 64,
    });
    assert.equal(readCharge({ ...charge, billing_details: { email: 'billing@example.com' } })?.email, 'billing@example.com');
    assert.deepEqual(readCharge({ object: 'charge' }), { id: null, customerId: null, amount: null, currency: null, cardCountry: null, billingCountry: null, fingerprint: null, email: null, paymentIntentId: null, outcomeRiskScore: null });
    assert.equal(readCharge({ ...charge, object: 'payment_intent' }), null);
  });

  it('given a payment intent with a last payment error, when read, then its code and decline code come back', () => {
    const pi = { id: 'pi_1', object: 'payment_intent', amount: 4900, currency: 'USD', customer: { id: 'cus_1', object: 'customer' }, status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'stolen_card' } };
    assert.deepEqual(readPaymentIntent(pi), { id: 'pi_1', customerId: 'cus_1', amount: 4900, currency: 'usd', status: 'requires_payment_method', lastErrorCode: 'card_declined', declineCode: 'stolen_card' });
    assert.deepEqual(readPaymentIntent({ ...pi, last_payment_error: null })?.declineCode, null);
    assert.equal(readPaymentIntent({ ...pi, object: 'charge' }), null);
    assert.equal(readPaymentIntent({ ...pi, id: '' }), null);
  });

  it('given a dispute and an early fraud warning, charge as an id and expanded, when read, then the charge id and the reason or fraud type come back', () => {
    assert.deepEqual(readDispute({ id: 'dp_1', object: 'dispute', amount: 150, charge: 'ch_1', payment_intent: 'pi_1', reason: 'fraudulent', status: 'needs_response' }), { id: 'dp_1', chargeId: 'ch_1', reason: 'fraudulent', object: 'dispute', paymentIntentId: 'pi_1' });
    assert.deepEqual(readDispute({ id: 'issfr_1', object: 'radar.early_fraud_warning', actionable: true, charge: { id: 'ch_2', object: 'charge' }, fraud_type: 'made_with_stolen_card' }), {
      id: 'issfr_1',
      chargeId: 'ch_2',
      reason: 'made_with_stolen_card',
      object: 'radar.early_fraud_warning',
      paymentIntentId: null,
    });
    assert.equal(readDispute({ id: 'ch_1', object: 'charge', reason: 'fraudulent' }), null);
  });

  it('given a customer, a deleted customer and other objects, when read, then the directory fields come back, empty strings as null', () => {
    assert.deepEqual(readCustomer(customer), { id: 'cus_QOa1LkdIwHu7ix', email: 'ana@example.com', phone: null, name: 'Ana Souza', country: 'FR', locale: 'fr-FR', createdMs: 1717200000000, userId: 'user_7', deleted: false });
    assert.deepEqual(readCustomer({ id: 'cus_Gone', object: 'customer', deleted: true }), { id: 'cus_Gone', email: null, phone: null, name: null, country: null, locale: null, createdMs: null, userId: null, deleted: true });
    for (const o of [{ ...customer, object: 'account' }, { ...customer, id: '' }, { ...customer, object: undefined }, 'cus_1']) assert.equal(readCustomer(o), null);
  });
});

describe('lib/stripe reader: totality', () => {
  const objects = ['subscription', 'subscription_item', 'invoice', 'charge', 'customer', 'payment_intent', 'dispute', 'radar.early_fraud_warning', 'coupon', 'discount', 'price', 'plan', 'list'] as const;
  const keys = fc.constantFrom(
    ...['id', 'object', 'customer', 'items', 'data', 'price', 'plan', 'recurring', 'discount', 'discounts', 'coupon', 'source', 'metadata', 'parent', 'subscription_details', 'subscription'],
    ...['payments', 'payment', 'payment_intent', 'last_payment_error', 'last_finalization_error', 'billing_details', 'address', 'payment_method_details', 'card', 'outcome', 'charge', 'preferred_locales', 'tiers', 'quantity', 'unit_amount_decimal'],
  );
  const leaf = fc.oneof(fc.constantFrom(...objects), fc.anything({ withNullPrototype: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withBigInt: true, withBoxedValues: true }));
  const shaped = fc.letrec<{ node: unknown }>((tie) => ({ node: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(keys, tie('node'), { maxKeys: 8 }), fc.array(tie('node'), { maxLength: 3 })) })).node;
  const readers = [readSubscription, readInvoice, readCharge, readCustomer, readPaymentIntent, readDispute, readCoupon, readDiscount, idOf, text, num, record, viewStripeEvent];

  it('given any value shaped like a Stripe object, when every reader reads it, then none throws', () => {
    fc.assert(
      fc.property(shaped, (v) => {
        for (const read of readers) read(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('given any string, JSON or not, when read as an event, then it never throws and anything but a JSON object reads as all nulls', () => {
    const nothing = { id: null, type: null, created: null, apiVersion: null, object: null, previousAttributes: null };
    const isJsonObject = (payload: string): boolean => {
      try {
        const v: unknown = JSON.parse(payload);
        return typeof v === 'object' && v !== null && !Array.isArray(v);
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ data: { object: v } }))), (payload) => {
        const view = readStripeEvent(payload);
        if (!isJsonObject(payload)) assert.deepEqual(view, nothing);
      }),
      { numRuns: 2000 },
    );
  });
});
