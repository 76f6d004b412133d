import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countryOf, idealOrder, priceOf, readPriceTable, reasonFor, routeOrder, SHIPPED_SMS_PRICES, type Candidate } from './routing.ts';

const c = (provider: string, price: number | null, successRate: number | null = null, circuit: Candidate['circuit'] = 'closed'): Candidate => ({ provider, price, successRate, circuit });

describe('SMS routing order', () => {
  it('given healthy providers, then the cheapest first, equal prices in the configured order', () => {
    assert.deepEqual(routeOrder([c('twilio', 8300), c('vonage', 8000)]).map((x) => x.provider), ['vonage', 'twilio']);
    assert.deepEqual(routeOrder([c('twilio', 8000), c('vonage', 8000)]).map((x) => x.provider), ['twilio', 'vonage']);
    assert.deepEqual(routeOrder([c('twilio', null), c('vonage', 9000)]).map((x) => x.provider), ['vonage', 'twilio'], 'an unpriced provider goes after priced ones');
  });

  it('given an open circuit, then that provider is left out; a half-open one stays', () => {
    assert.deepEqual(routeOrder([c('twilio', 1, null, 'open'), c('vonage', 9)]).map((x) => x.provider), ['vonage']);
    assert.deepEqual(routeOrder([c('twilio', 1, null, 'half_open'), c('vonage', 9)]).map((x) => x.provider), ['twilio', 'vonage']);
    assert.deepEqual(routeOrder([c('twilio', 1, null, 'open'), c('vonage', 9, null, 'open')]), []);
  });

  it('given a cheap provider delivering below the threshold, then the healthy one first, the poor one still last', () => {
    const order = routeOrder([c('twilio', 100, 0.5), c('vonage', 900, 0.97)], { minSuccessRate: 0.9 });
    assert.deepEqual(order.map((x) => x.provider), ['vonage', 'twilio']);
    assert.equal(reasonFor(order[0]!, order, { minSuccessRate: 0.9 }), 'cheapest_healthy');
    assert.equal(reasonFor(order[1]!, order, { minSuccessRate: 0.9 }), 'failover');
    const poorOnly = routeOrder([c('twilio', 100, 0.5), c('vonage', 900, 0.6)], { minSuccessRate: 0.9 });
    assert.deepEqual(poorOnly.map((x) => x.provider), ['vonage', 'twilio'], 'the better success rate first when none is healthy');
    assert.equal(reasonFor(poorOnly[0]!, poorOnly, { minSuccessRate: 0.9 }), 'below_success_threshold');
    assert.equal(reasonFor(poorOnly[0]!, poorOnly, { minSuccessRate: 0.9 }, true), 'probe');
    assert.equal(reasonFor(c('twilio', 1), [c('twilio', 1)]), 'only');
  });

  it('given the cheaper provider open, then the other one sends it as a failover, though it is first of those left', () => {
    const candidates = [c('twilio', 100, null, 'open'), c('vonage', 900)];
    const order = routeOrder(candidates);
    assert.deepEqual(order.map((x) => x.provider), ['vonage']);
    assert.equal(reasonFor(order[0]!, idealOrder(candidates)), 'failover');
  });

  it('given phone numbers and the shipped table, then the country and price per segment come from them, with * for other countries', () => {
    assert.equal(countryOf('+14155550100'), 'US');
    assert.equal(countryOf('+4915112345678'), 'DE');
    assert.equal(countryOf('not a number'), null);
    const table = readPriceTable(SHIPPED_SMS_PRICES);
    assert.equal(priceOf(table, 'vonage', 'DE'), table.providers.vonage?.DE);
    assert.equal(priceOf(table, 'twilio', 'ZW'), table.providers.twilio?.['*']);
    assert.equal(priceOf(table, 'messagebird', 'US'), null);
  });
});
