/**
 * The shapes every processor (a decider) is built from. A processor's state is a set of entities
 * (a notification, a dunning case, a customer's payment window ...). Each entity kind says which
 * records fold into which of its entities, and how (`evolve`, pure). The state of an entity is
 * nothing but that fold over the processor's inputs and its own output events, so a rebuild after
 * Redis lost the state is the same fold again, never a second implementation.
 *
 * Folds are written to be order-insensitive (sets, maxima, "latest by sequence"), so an entity
 * rebuilt by reading its topics one after the other equals the live one, and a concurrent writer's
 * facts merge instead of racing. The property tests of each processor check exactly this.
 */
import type { Envelope, TopicName } from '../topics.ts';

/** A record of a topic, as a decider folds it: which topic, which record type, its value. */
export type Fact<T extends TopicName = TopicName> = T extends TopicName ? Envelope<T> & { readonly topic: T } : never;

/**
 * An output event: a fact with its partitioning key, and the trace context of the decision that
 * made it when there is one (record headers; lib/tracing.ts). Headers never reach the state.
 */
export type Output<T extends TopicName = TopicName> = T extends TopicName
  ? Envelope<T> & { readonly topic: T; readonly key: string; readonly headers?: Readonly<Record<string, string>> }
  : never;

/** A timer an entity wants: when it is due, the record appended then (the scheduler's payload). */
export interface Timer {
  readonly id: string;
  readonly dueAt: number;
  readonly output: Output;
}

export interface EntityKind<F, S> {
  /** Redis key prefix of the kind, e.g. `dispatch:ntf`. */
  readonly name: string;
  readonly initial: S;
  /** The entities (keys within this kind) a fact folds into; none for facts the kind ignores. */
  keys(fact: F): readonly string[];
  /** Pure: the entity after the fact. Must ignore a fact it has already absorbed (idempotent). */
  evolve(state: S, fact: F, key: string): S;
  /** The timers the entity wants now, derived from its state (pure). */
  timers?(state: S, key: string): readonly Timer[];
  /**
   * An entity not changed for this long is forgotten (Redis TTL); null: kept. A kind whose facts a
   * rebuild reads further back than this would resurrect what live state forgot: keep the two
   * consistent (the rebuild horizon of its topics at most the TTL, or no TTL).
   */
  readonly ttlSeconds: number | null;
}

/** An entity kind with its state type erased, to keep kinds of one processor in one list. */
export type AnyEntityKind<F> = EntityKind<F, unknown>;

export function entityKind<F, S>(kind: EntityKind<F, S>): AnyEntityKind<F> {
  return kind as unknown as AnyEntityKind<F>;
}

/** Which entity: kind name and key. */
export interface EntityRef {
  readonly kind: string;
  readonly key: string;
}

export const refId = (r: EntityRef): string => `${r.kind}:${r.key}`;

/** What a decision produces: events to append (in order) and effects to execute afterwards. */
export interface Decision<Fx> {
  readonly events: readonly Output[];
  readonly effects: readonly Fx[];
}

export const nothing: Decision<never> = { events: [], effects: [] };

/** The topics a processor folds into its state, and how far back a rebuild reads each. */
export interface FoldedTopic {
  readonly topic: TopicName;
  /** Facts older than this (by the topics' timestamp index) cannot matter any more; null: all. */
  readonly horizonMs: number | null;
}
