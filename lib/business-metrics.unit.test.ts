import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { countsBySymbol, foldCurrencies, inVocabulary, MAX_CURRENCIES, OTHER_CURRENCY, rate, ratesByChannel, byChannelAndCategory, UNKNOWN, type DeliveryRow } from './business-metrics.ts';

const row = (channel: string | null, category: string | null, sent: number, recent: [sent: number, delivered: number, bounced: number] = [0, 0, 0], failed = 0): DeliveryRow => ({
  channel,
  category,
  sent,
  failed,
  recentSent: recent[0],
  recentDelivered: recent[1],
  recentBounced: recent[2],
});

describe('business metrics: folding currencies', () => {
  it('given 20 currencies or fewer, then each keeps its own series and there is no "other"', () => {
    const rows = Array.from({ length: MAX_CURRENCIES }, (_, i) => ({ currency: `c${String(i).padStart(2, '0')}`, cents: 100 * (i + 1) }));
    const folded = foldCurrencies(rows);
    assert.equal(folded.length, MAX_CURRENCIES);
    assert.ok(!folded.some((r) => r.currency === OTHER_CURRENCY));
  });

  it('given 25 currencies, then the 20 with the most MRR stay and the other 5 are summed into "other"', () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ currency: `c${String(i).padStart(2, '0')}`, cents: 1000 * (i + 1) }));
    const folded = foldCurrencies(rows);
    assert.equal(folded.length, MAX_CURRENCIES + 1);
    assert.deepEqual(folded.slice(0, 2), [{ currency: 'c24', cents: 25000 }, { currency: 'c23', cents: 24000 }]);
    assert.deepEqual(folded.at(-1), { currency: OTHER_CURRENCY, cents: 1000 + 2000 + 3000 + 4000 + 5000 });
  });

  it('breaks ties by currency code, so every instance folds the same currencies', () => {
    const rows = [{ currency: 'usd', cents: 5 }, { currency: 'eur', cents: 5 }, { currency: 'gbp', cents: 5 }];
    assert.deepEqual(foldCurrencies(rows, 2), [{ currency: 'eur', cents: 5 }, { currency: 'gbp', cents: 5 }, { currency: OTHER_CURRENCY, cents: 5 }]);
    assert.deepEqual(foldCurrencies([...rows].reverse(), 2), foldCurrencies(rows, 2));
  });

  it('for any MRR per currency, keeps the total, gives at most 21 series and never drops a currency with more MRR than one kept', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ currency: fc.stringMatching(/^[a-z]{3}$/), cents: fc.integer({ min: 0, max: 1e9 }) }), { selector: (r) => r.currency, maxLength: 60 }), (rows) => {
        const folded = foldCurrencies(rows);
        assert.ok(folded.length <= MAX_CURRENCIES + 1);
        assert.equal(folded.reduce((s, r) => s + r.cents, 0), rows.reduce((s, r) => s + r.cents, 0));
        const kept = folded.filter((r) => r.currency !== OTHER_CURRENCY);
        const dropped = rows.filter((r) => !kept.some((k) => k.currency === r.currency));
        const smallestKept = Math.min(...kept.map((k) => k.cents));
        assert.ok(dropped.every((d) => d.cents <= smallestKept));
      }),
    );
  });
});

describe('business metrics: closed vocabularies', () => {
  it('keeps a value the vocabulary has and reads anything else, null included, as unknown', () => {
    assert.equal(inVocabulary('email', ['email', 'sms']), 'email');
    assert.equal(inVocabulary('carrier_pigeon', ['email', 'sms']), UNKNOWN);
    assert.equal(inVocabulary(null, ['email', 'sms']), UNKNOWN);
  });

  it('counts every symbol (0 when none) and sums values outside the vocabulary under unknown', () => {
    const counts = countsBySymbol([{ key: 'open', n: 3 }, { key: 'recovered', n: 2 }, { key: 'weird', n: 1 }, { key: null, n: 1 }], ['open', 'recovered', 'lost', 'unknown']);
    assert.deepEqual(Object.fromEntries(counts), { open: 3, recovered: 2, lost: 0, unknown: 2 });
  });

  it('folds channel and category of sent and failed messages, summing what lands on the same pair', () => {
    const counts = byChannelAndCategory(
      [row('email', 'payment', 4), row('email', 'marketing', 2, undefined, 1), row('email', null, 1, undefined, 2), row('fax', 'payment', 3), row('sms', 'payment', 5, undefined, 1)],
      ['payment', 'billing', UNKNOWN],
    );
    assert.deepEqual(
      counts.sort((a, b) => `${a.channel}/${a.category}`.localeCompare(`${b.channel}/${b.category}`)),
      [
        { channel: 'email', category: 'payment', sent: 4, failed: 0 },
        { channel: 'email', category: UNKNOWN, sent: 3, failed: 3 },
        { channel: 'sms', category: 'payment', sent: 5, failed: 1 },
        { channel: UNKNOWN, category: 'payment', sent: 3, failed: 0 },
      ],
    );
  });
});

describe('business metrics: rates', () => {
  it('divides, and a rate of nothing sent is no rate rather than 0', () => {
    assert.equal(rate(1, 4), 0.25);
    assert.equal(rate(0, 4), 0);
    assert.equal(rate(0, 0), null);
  });

  it('computes a channel rate from summed counts, so a busy category weighs more than a quiet one', () => {
    // payment: 90 of 100 delivered; billing: 0 of 1. Averaging the two rates would say 0.45.
    const rates = ratesByChannel([row('email', 'payment', 500, [100, 90, 5]), row('email', 'billing', 7, [1, 0, 1]), row('sms', 'payment', 3, [0, 0, 0])]);
    assert.deepEqual(rates.find((r) => r.channel === 'email'), { channel: 'email', delivery: 90 / 101, bounce: 6 / 101 });
    assert.deepEqual(rates.find((r) => r.channel === 'sms'), { channel: 'sms', delivery: null, bounce: null }, 'sent long ago, nothing in the window');
  });
});
