import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isEventlineError } from '../lib/errors.ts';
import { assignVariant, experimentPosition, variantProblems, type VariantWeight } from './experiments.ts';

const users = Array.from({ length: 2000 }, (_, i) => `user_${i}`);

function shares(experimentId: string, variants: readonly VariantWeight[]): Map<string, number> {
  const counts = new Map<string, number>(variants.map((v) => [v.name, 0]));
  for (const u of users) {
    const v = assignVariant(experimentId, u, variants);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return new Map([...counts].map(([k, n]) => [k, (100 * n) / users.length]));
}

describe('template experiments: variant assignment', () => {
  it('given 2,000 users over 50/50 and 70/30, then each variant gets its weight within 3 percentage points', () => {
    for (const [experiment, variants] of [
      ['exp_subject_line', [{ name: 'control', weight: 50 }, { name: 'short', weight: 50 }]],
      ['exp_cta', [{ name: 'control', weight: 70 }, { name: 'button', weight: 30 }]],
      ['exp_cta_fractions', [{ name: 'control', weight: 0.7 }, { name: 'button', weight: 0.3 }]],
    ] as const) {
      const total = variants.reduce((s, v) => s + v.weight, 0);
      const got = shares(experiment, variants);
      for (const v of variants) {
        const expected = (100 * v.weight) / total;
        const share = got.get(v.name) ?? 0;
        assert.ok(Math.abs(share - expected) <= 3, `${experiment} ${v.name}: ${share.toFixed(2)}% for a weight of ${expected}%`);
      }
    }
  });

  it('given the same user and experiment, then the same variant every time, whatever else was assigned in between', () => {
    const variants = [{ name: 'control', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 2 }];
    const first = users.map((u) => assignVariant('exp_1', u, variants));
    const again = [...users].reverse().map((u) => assignVariant('exp_1', u, variants)).reverse();
    assert.deepEqual(again, first);
    assert.deepEqual(new Set(first), new Set(['control', 'b', 'c']));
  });

  it('given another experiment id, then users are reshuffled (not the same assignment), with the same split', () => {
    const variants = [{ name: 'control', weight: 50 }, { name: 'short', weight: 50 }];
    const a = users.map((u) => assignVariant('exp_a', u, variants));
    const b = users.map((u) => assignVariant('exp_b', u, variants));
    const same = a.filter((v, i) => v === b[i]).length;
    // Independent hashes: about half the users keep their variant by chance, not all of them.
    assert.ok(same > 800 && same < 1200, `${same} of 2000 users kept their variant`);
  });

  it('given a user, then the position is sha256(experiment + NUL + user), first 8 bytes big-endian over 2^64, in [0, 1)', () => {
    const digest = createHash('sha256').update('exp_a\u0000user_1').digest();
    const expected = Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53;
    assert.equal(experimentPosition('exp_a', 'user_1'), expected);
    // The NUL separates the parts: ("ab", "c") and ("a", "bc") are different users of different experiments.
    assert.notEqual(experimentPosition('ab', 'c'), experimentPosition('a', 'bc'));
    for (const u of users) {
      const p = experimentPosition('exp_a', u);
      assert.ok(p >= 0 && p < 1, `${u}: ${p}`);
    }
  });

  it('given weights in declaration order, then positions map over the cumulative weights: [0, w1) is the first variant', () => {
    const variants = [{ name: 'first', weight: 1 }, { name: 'second', weight: 3 }];
    for (const u of users.slice(0, 200)) {
      const p = experimentPosition('exp_order', u);
      assert.equal(assignVariant('exp_order', u, variants), p < 0.25 ? 'first' : 'second', `${u} at ${p}`);
    }
  });

  it('given bad declarations, then each problem is named', () => {
    assert.deepEqual(variantProblems([{ name: 'control', weight: 1 }, { name: 'b', weight: 2 }]), []);
    assert.deepEqual(variantProblems([{ name: 'control', weight: 1 }]), ['an experiment has 2 to 10 variants, not 1']);
    assert.deepEqual(variantProblems([]), ['an experiment has 2 to 10 variants, not 0']);
    assert.deepEqual(variantProblems(Array.from({ length: 11 }, (_, i) => ({ name: `v${i}`, weight: 1 }))), ['an experiment has 2 to 10 variants, not 11']);
    assert.deepEqual(
      variantProblems([
        { name: 'control', weight: 1 },
        { name: 'control', weight: 1 },
        { name: 'Short', weight: 1 },
        { name: '1st', weight: 1 },
        { name: `a${'b'.repeat(32)}`, weight: 1 },
        { name: 'zero', weight: 0 },
        { name: 'negative', weight: -1 },
        { name: 'infinite', weight: Number.POSITIVE_INFINITY },
        { name: 'nan', weight: Number.NaN },
      ]),
      [
        'variants[1].name "control": declared twice',
        'variants[2].name "Short": lowercase letters, digits and _, starting with a letter, at most 32 characters',
        'variants[3].name "1st": lowercase letters, digits and _, starting with a letter, at most 32 characters',
        `variants[4].name "a${'b'.repeat(32)}": lowercase letters, digits and _, starting with a letter, at most 32 characters`,
        'variants[5].weight 0: a positive finite number',
        'variants[6].weight -1: a positive finite number',
        'variants[7].weight Infinity: a positive finite number',
        'variants[8].weight NaN: a positive finite number',
      ],
    );
  });

  it('given an invalid declaration, when assigning, then it throws unprocessable naming the problems', () => {
    assert.throws(
      () => assignVariant('exp_bad', 'user_1', [{ name: 'control', weight: 1 }]),
      (err: unknown) => isEventlineError(err, 'unprocessable') && /exp_bad: an experiment has 2 to 10 variants, not 1/.test(err.message),
    );
  });
});
