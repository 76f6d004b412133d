/**
 * The fold, pure: which entities a batch of facts touches, and each entity after them. Used by the
 * live adapter (after each decision) and by the rebuild (over the topics) alike.
 */
import { refId, type AnyEntityKind, type EntityRef, type Timer } from './types.ts';

/** The entities the facts touch, each once, in first-touch order. */
export function refsOf<F>(kinds: readonly AnyEntityKind<F>[], facts: readonly F[]): EntityRef[] {
  const seen = new Map<string, EntityRef>();
  for (const fact of facts) {
    for (const kind of kinds) {
      for (const key of kind.keys(fact)) {
        const ref = { kind: kind.name, key };
        const id = refId(ref);
        if (!seen.has(id)) seen.set(id, ref);
      }
    }
  }
  return [...seen.values()];
}

/** Folds the facts into `states` (by ref id; a missing entity starts from its kind's initial state). */
export function foldInto<F>(kinds: readonly AnyEntityKind<F>[], states: Map<string, unknown>, facts: readonly F[]): void {
  for (const fact of facts) {
    for (const kind of kinds) {
      for (const key of kind.keys(fact)) {
        const id = `${kind.name}:${key}`;
        const before = states.has(id) ? states.get(id) : kind.initial;
        states.set(id, kind.evolve(before, fact, key));
      }
    }
  }
}

/** One entity's state after the facts, from `initial` (for tests and single-entity views). */
export function foldEntity<F, S>(kind: { readonly initial: S; keys(f: F): readonly string[]; evolve(s: S, f: F, key: string): S }, key: string, facts: readonly F[], from: S = kind.initial): S {
  let state = from;
  for (const fact of facts) if (kind.keys(fact).includes(key)) state = kind.evolve(state, fact, key);
  return state;
}

export function timersOf<F>(kind: AnyEntityKind<F>, state: unknown, key: string): readonly Timer[] {
  return kind.timers ? kind.timers(state, key) : [];
}

/** Plain-data equality for states (they are JSON documents). */
export function sameState(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
