import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MASK, maskPersonal, type Json } from './mask.ts';

describe('personal data masking in the JSON the dashboard shows', () => {
  it('given a Stripe customer, then its email, name, phone and address are masked and the rest shows', () => {
    const customer: Json = {
      id: 'cus_000001',
      object: 'customer',
      email: 'ana.lopez@example.com',
      name: 'Ana Lopez',
      phone: '+14155550123',
      address: { city: 'Lyon', country: 'FR', line1: '1 rue X', postal_code: '69001' },
      balance: 0,
      delinquent: false,
      preferred_locales: ['fr'],
    };
    assert.deepEqual(maskPersonal(customer), {
      id: 'cus_000001',
      object: 'customer',
      email: MASK,
      name: MASK,
      phone: MASK,
      address: MASK,
      balance: 0,
      delinquent: false,
      preferred_locales: ['fr'],
    });
  });

  it('given personal fields by other names and at any depth, then they are masked there too', () => {
    const charge: Json = {
      receipt_email: 'ben@acme.io',
      billing_details: { name: 'Ben', email: 'ben@acme.io', phone: null, address: { country: 'US' } },
      shipping: { first_name: 'Ben', 'last-name': 'Stone', customerEmail: 'b@acme.io', ip_address: '203.0.113.9' },
      items: [{ price_id: 'price_pro_m', customer_name: 'Ben' }],
    };
    assert.deepEqual(maskPersonal(charge), {
      receipt_email: MASK,
      billing_details: { name: MASK, email: MASK, phone: null, address: MASK },
      shipping: { first_name: MASK, 'last-name': MASK, customerEmail: MASK, ip_address: MASK },
      items: [{ price_id: 'price_pro_m', customer_name: MASK }],
    });
  });

  it('given a null personal field, then it stays null (nothing to hide, and it shows the field was empty)', () => {
    assert.deepEqual(maskPersonal({ email: null, phone: null }), { email: null, phone: null });
  });

  it('given metadata, then values that look like an email or a phone number are masked whatever their key, and ids stay', () => {
    const subscription: Json = {
      id: 'sub_1',
      metadata: { user_id: 'user_42', contact: 'ana@example.com', mobile: '+33 6 12 34 56 78', landline: '(415) 555-0123', seats: '12', plan: 'pro' },
    };
    assert.deepEqual(maskPersonal(subscription), {
      id: 'sub_1',
      metadata: { user_id: 'user_42', contact: MASK, mobile: MASK, landline: MASK, seats: '12', plan: 'pro' },
    });
  });

  it('given an email address inside free text outside metadata, then the whole text is masked', () => {
    assert.deepEqual(maskPersonal({ description: 'Moved from ana@example.com on request', status: 'active' }), { description: MASK, status: 'active' });
  });

  it('given names that only contain a personal word, then they are not masked (no word boundary)', () => {
    const state: Json = { nickname: 'Gold', filename: 'x.pdf', unit_amount: '4900', namespace: 'live', emailed: true };
    assert.deepEqual(maskPersonal(state), state);
  });

  it('given a subscription version as the MRR projection keeps it, then it comes back unchanged (nothing personal in it)', () => {
    const state: Json = {
      subscription_id: 'sub_1',
      customer_id: 'cus_1',
      currency: 'usd',
      status: 'active',
      cancel_at_period_end: false,
      cancel_at: null,
      items: [{ price_id: 'price_pro_m', unit_amount: '4900', tiers: null, interval: 'month', interval_count: 1, metered: false, currency: 'usd', quantity: 2 }],
      embedded_coupons: [],
      discount_ids: [],
    };
    assert.deepEqual(maskPersonal(state), state);
  });

  it('given a key named __proto__, then it stays a plain key of the copy and the input is not changed', () => {
    const input = JSON.parse('{"__proto__": {"email": "x@example.com"}, "a": [1, true, null]}') as Json;
    const before = JSON.stringify(input);
    const out = maskPersonal(input);
    assert.equal(JSON.stringify(out), '{"__proto__":{"email":"•••"},"a":[1,true,null]}');
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(JSON.stringify(input), before);
  });

  it('given scalars, then they pass through (a bare string only when it holds no email address)', () => {
    for (const v of [null, true, 0, 4900, 'active']) assert.equal(maskPersonal(v), v);
    assert.equal(maskPersonal('ana@example.com'), MASK);
  });
});
