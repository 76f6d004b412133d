import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from '../lib/errors.ts';
import { MAX_MONTHS, monthRange, monthsIn } from './range.ts';

const NOW = new Date('2026-12-06T06:00:00Z');

function refused(from: unknown, to: unknown, detail: RegExp): void {
  assert.throws(
    () => monthRange(from, to, NOW),
    (err: unknown) => isEventlineError(err, 'bad_request') && detail.test(err.message),
    `from=${String(from)} to=${String(to)}`,
  );
}

describe('the dashboard range of months', () => {
  it('given no from and no to, then the twelve months ending with the current UTC month', () => {
    assert.deepEqual(monthRange(undefined, undefined, NOW), { from: '2026-01', to: '2026-12' });
    assert.deepEqual(monthRange('', '', new Date('2027-01-01T00:00:00Z')), { from: '2026-02', to: '2027-01' }, 'a blank field is no field');
    assert.deepEqual(monthRange(undefined, undefined, new Date('2026-12-31T23:59:59Z')), { from: '2026-01', to: '2026-12' });
  });

  it('given one end, then the other is filled in: to is the current month (or from, if later), from twelve months before to', () => {
    assert.deepEqual(monthRange('2026-03', undefined, NOW), { from: '2026-03', to: '2026-12' });
    assert.deepEqual(monthRange('2027-05', undefined, NOW), { from: '2027-05', to: '2027-05' });
    assert.deepEqual(monthRange(undefined, '2025-02', NOW), { from: '2024-03', to: '2025-02' });
    assert.deepEqual(monthRange(undefined, '0001-05', NOW), { from: '0001-01', to: '0001-05' }, 'never before year 1');
  });

  it('given both ends, then exactly them, one month to ten years', () => {
    assert.deepEqual(monthRange('2026-04', '2026-04', NOW), { from: '2026-04', to: '2026-04' });
    assert.deepEqual(monthRange('2017-01', '2026-12', NOW), { from: '2017-01', to: '2026-12' });
    assert.equal(monthsIn({ from: '2017-01', to: '2026-12' }), MAX_MONTHS);
    assert.equal(monthsIn({ from: '2025-12', to: '2026-01' }), 2);
    assert.deepEqual(monthRange('0099-11', '0100-02', NOW), { from: '0099-11', to: '0100-02' }, 'years below 100 are years, not 19xx');
  });

  it('given a month that is not YYYY-MM, then bad_request naming the parameter', () => {
    for (const bad of ['2026-13', '2026-00', '2026-1', '26-01', '2026-01-01', 'november', '0000-01', ' 2026-01', '2026-01\n', ['2026-01', '2026-02'], 202601]) refused(bad, '2026-12', /^from must be a month as YYYY-MM/);
    refused('2026-01', '2026-13', /^to must be a month/);
  });

  it('given from after to or more than ten years, then bad_request saying so', () => {
    refused('2026-02', '2026-01', /from \(2026-02\) must not be after to \(2026-01\)/);
    refused('2016-12', '2026-12', /spans 121 months; at most 120/);
    refused('2000-01', undefined, /spans 324 months; at most 120 \(10 years\) \(to defaults to the current month\)/);
    refused('0001-01', '9999-12', /at most 120/);
  });
});
