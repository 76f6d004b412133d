/**
 * Template experiments: which variant of a template version a user gets. The assignment is a pure
 * function of (experiment id, user id) and the declared weights, so every dispatcher instance, a
 * replay and an analyst recomputing it by hand agree, and a user keeps their variant for the life of
 * the experiment. A new experiment id reshuffles users (the hash covers it), so one experiment's
 * split does not carry over into the next.
 */
import { createHash } from 'node:crypto';
import { EventlineError } from '../lib/errors.ts';

export interface VariantWeight {
  readonly name: string;
  readonly weight: number;
}

export const MIN_VARIANTS = 2;
export const MAX_VARIANTS = 10;
export const VARIANT_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/** Problems with a declaration: 2..10 variants, unique names matching /^[a-z][a-z0-9_]{0,31}$/, positive finite weights. */
export function variantProblems(variants: readonly VariantWeight[]): string[] {
  const problems: string[] = [];
  if (variants.length < MIN_VARIANTS || variants.length > MAX_VARIANTS) {
    problems.push(`an experiment has ${MIN_VARIANTS} to ${MAX_VARIANTS} variants, not ${variants.length}`);
  }
  const seen = new Set<string>();
  variants.forEach((v, i) => {
    const at = `variants[${i}]`;
    if (typeof v.name !== 'string' || !VARIANT_NAME.test(v.name)) {
      problems.push(`${at}.name ${JSON.stringify(v.name)}: lowercase letters, digits and _, starting with a letter, at most 32 characters`);
    } else if (seen.has(v.name)) {
      problems.push(`${at}.name ${JSON.stringify(v.name)}: declared twice`);
    } else {
      seen.add(v.name);
    }
    if (typeof v.weight !== 'number' || !Number.isFinite(v.weight) || v.weight <= 0) {
      problems.push(`${at}.weight ${String(v.weight)}: a positive finite number`);
    }
  });
  return problems;
}

const TWO_POW_53 = 2 ** 53;

/**
 * The position of `userId` in `experimentId`, uniform in [0, 1): sha256(experimentId + "\0" +
 * userId), its first 8 bytes read big-endian as a fraction of 2^64. Only the top 53 of those bits
 * are kept (what a double holds exactly), so the result is never rounded up to 1.
 */
export function experimentPosition(experimentId: string, userId: string): number {
  const digest = createHash('sha256').update(`${experimentId}\u0000${userId}`, 'utf8').digest();
  return Number(digest.readBigUInt64BE(0) >> 11n) / TWO_POW_53;
}

/**
 * The variant of `userId` in `experimentId`: a stable hash (sha256 of experimentId + "\0" + userId,
 * first 8 bytes as a uniform number in [0,1)) mapped over the cumulative weights in declaration
 * order. Pure. The declaration must be valid (`variantProblems` is empty: templates are checked
 * when published); an invalid one is a programming error and throws `unprocessable`.
 */
export function assignVariant(experimentId: string, userId: string, variants: readonly VariantWeight[]): string {
  const problems = variantProblems(variants);
  if (problems.length > 0) throw new EventlineError('unprocessable', `experiment ${experimentId}: ${problems.join('; ')}`, { detail: problems });
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  const target = experimentPosition(experimentId, userId) * total;
  let cumulative = 0;
  for (const v of variants) {
    cumulative += v.weight;
    if (target < cumulative) return v.name;
  }
  // Only reached when rounding makes the running sum fall short of `total` by an ulp.
  return (variants.at(-1) as VariantWeight).name;
}
