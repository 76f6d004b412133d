/**
 * A processor's adapter loop on a Map instead of Redis, for property tests of the pure parts:
 * decide from the folded state, fold the input and its events, record the topics. The fold is the
 * real one (lib/decider foldInto over the processor's entity kinds).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { foldInto, timersOf, type AnyEntityKind, type Output, type Timer } from '../../lib/decider/index.ts';

export class MemoryState<F> {
  readonly states = new Map<string, unknown>();
  /** Every record the topics hold, inputs and outputs, in append order. */
  readonly topics: F[] = [];
  readonly events: Output[] = [];
  private readonly kinds: readonly AnyEntityKind<F>[];

  constructor(kinds: readonly AnyEntityKind<F>[]) {
    this.kinds = kinds;
  }

  get<S>(kind: string, key: string): Promise<S | null> {
    return Promise.resolve((this.states.get(`${kind}:${key}`) as S | undefined) ?? null);
  }

  /** Records and folds an input and the events decided for it. */
  commit(input: F, events: readonly Output[]): void {
    this.record([input, ...(events as unknown as readonly F[])], events);
  }

  /** Records and folds facts that reached the topics; `events` are those of them decided. */
  record(facts: readonly F[], events: readonly Output[] = []): void {
    this.events.push(...events);
    this.topics.push(...facts);
    foldInto(this.kinds, this.states, facts);
  }

  timers(): Timer[] {
    const out: Timer[] = [];
    for (const kind of this.kinds) {
      for (const [id, state] of this.states) if (id.startsWith(`${kind.name}:`)) out.push(...timersOf(kind, state, id.slice(kind.name.length + 1)));
    }
    return out.sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : 1));
  }
}

/** The state folded from the topics in a shuffled order (seeded), as a sorted plain object. */
export function rebuiltShuffled<F>(kinds: readonly AnyEntityKind<F>[], topics: readonly F[], seeds: Iterator<number>): Record<string, unknown> {
  const shuffled = [...topics];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = (seeds.next().value as number) % (i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as F, shuffled[i] as F];
  }
  const states = new Map<string, unknown>();
  foldInto(kinds, states, shuffled);
  return sortedStates(states);
}

export function sortedStates(states: ReadonlyMap<string, unknown>): Record<string, unknown> {
  return Object.fromEntries([...states].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Property: for any history, the state folded from its topics in a shuffled order equals the live state. */
export function rebuildEqualsLive<C, F>(history: fc.Arbitrary<C>, kinds: readonly AnyEntityKind<F>[], live: (c: C) => Promise<MemoryState<F>>): fc.IAsyncPropertyWithHooks<[C, fc.Stream<number>]> {
  return fc.asyncProperty(history, fc.infiniteStream(fc.nat()), async (c, seeds) => {
    const m = await live(c);
    assert.deepEqual(rebuiltShuffled(kinds, m.topics, seeds), sortedStates(m.states));
  });
}

/** Property: the same inputs played twice on fresh state decide the same events; `more` checks the first run further. */
export function replayIsIdentical<C, I, F>(history: fc.Arbitrary<C>, inputsOf: (c: C) => I, play: (inputs: I) => Promise<MemoryState<F>>, more: (first: MemoryState<F>, inputs: I) => Promise<void> | void = () => undefined): fc.IAsyncPropertyWithHooks<[C]> {
  return fc.asyncProperty(history, async (c) => {
    const inputs = inputsOf(c);
    const first = await play(inputs);
    const again = await play(inputs);
    assert.deepEqual(again.events, first.events);
    await more(first, inputs);
  });
}
