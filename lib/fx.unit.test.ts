import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from './errors.ts';
import { parseFxCsv } from './fx.ts';

describe('exchange-rate CSV', () => {
  it('reads date,currency,rate lines (header, comments and blank lines skipped; currencies lowercased; sorted)', () => {
    const text = 'date,currency,rate\n2026-03-01,EUR,1.2\n\n# a comment\n2026-01-01, eur , 1.10\r\n2026-01-01,gbp,1.27\n2026-01-01,eur,1.10\n';
    assert.deepEqual(parseFxCsv(text, 'usd'), [
      { day: '2026-01-01', currency: 'eur', rate: '1.10' },
      { day: '2026-01-01', currency: 'gbp', rate: '1.27' },
      { day: '2026-03-01', currency: 'eur', rate: '1.2' },
    ]);
  });

  it('refuses the whole file, naming every bad line: dates, codes, rates, the reporting currency, two rates for one day', () => {
    const text = ['2026-02-30,eur,1.1', '2026-01-01,euro,1.1', '2026-01-01,eur,-1', '2026-01-01,usd,1', '2026-01-02,eur,1.1,x', '2026-01-03,eur,1.1', '2026-01-03,eur,1.2', '2026-01-04,eur,abc'].join('\n');
    assert.throws(
      () => parseFxCsv(text, 'usd'),
      (err: unknown) =>
        isEventlineError(err, 'bad_request') &&
        /line 1: "2026-02-30" is not a date/.test(err.message) &&
        /line 2: "euro" is not a three-letter currency code/.test(err.message) &&
        /line 3: "-1" is not a positive decimal rate/.test(err.message) &&
        /line 4: usd is the reporting currency/.test(err.message) &&
        /line 5: expected date,currency,rate/.test(err.message) &&
        /line 7: a second, different rate for eur on 2026-01-03/.test(err.message) &&
        /line 8: "abc" is not a positive decimal rate/.test(err.message),
    );
    assert.throws(() => parseFxCsv('date,currency,rate\n', 'usd'), /holds no rates/);
  });
});
