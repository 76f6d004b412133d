/**
 * Deciding a run of inputs as one unit: what the live adapters of fraud and dunning do with each
 * batch a partition delivers, in place of one load, append and compare-and-set per record.
 *
 *   1. the entities the inputs fold into, and those the processor says its decisions read, are read
 *      in one fenced MULTI (`BatchState.prefetch`); anything else a decision reads is read once,
 *      fenced, when first asked for. Decisions read everything through this state — the customer
 *      directory included, which the processor's kinds fold too — so a customer created earlier in
 *      the run is known to the payment after it;
 *   2. each input is decided, in order, on the state folded so far (the entities as Redis held them
 *      plus the inputs and decisions before it in the run), and folded with its decisions;
 *   3. every decision of the run is appended at once (acks=all);
 *   4. the inputs and decisions are folded into the stored entities with one compare-and-set,
 *      against the versions read in step 1 (`StateWriter.apply`; a conflict reloads and folds again).
 *
 * The crash argument of ADR 0009 holds at the granularity of the run: until step 4 the stored state
 * has not moved, so a run retried after a crash (or a failed append) decides the same events again,
 * with the same deterministic ids, and consumers deduplicate them. Each decision sees exactly the
 * state it would have seen had the inputs before it been committed one by one.
 */
import { refsOf } from './fold.ts';
import type { EntityStore, Fence, Loaded, StateWriter } from './store.ts';
import { refId, type AnyEntityKind, type EntityRef, type Output } from './types.ts';
import { groupByTopic } from './adapter.ts';
import type { Incoming, Kafka } from '../kafka/index.ts';
import type { AnyTopicName } from '../topics.ts';
import { beginSpan, contextFrom, failSpan, messagingAttributes, SpanKind, traceHeaders, withContext } from '../tracing.ts';
import type { Span } from '@opentelemetry/api';

/** The largest decision record a unit appends (decisions are a few KB; the broker takes about 1 MB). */
export const DECISION_RECORD_BYTES = 512 * 1024;

/**
 * The state a run decides on: the stored entities, read once, with the run's folds on top. A fold
 * into an entity not read yet does not read it: its facts wait, in order, until a decision asks
 * for the entity (read then, the facts folded on it) or the write reads every such entity in one
 * round trip (`StateWriter.apply` folds the whole run again on what it reads). Each entity's fold
 * depends only on its own state and facts, so the order of the reads changes nothing.
 */
export class BatchState<F> {
  private readonly store: EntityStore;
  private readonly kinds: readonly AnyEntityKind<F>[];
  /** The fences reads check: the processor's own, and those of the states it reads (the directory). */
  private readonly fences: readonly Fence[];
  /** What Redis held when each entity was first read (null: absent): the versions the write compares. */
  private readonly loaded = new Map<string, Loaded | null>();
  /** Each entity read after the folds of the run so far. */
  private readonly states = new Map<string, unknown>();
  /** Facts folded into entities not read yet, in order. */
  private readonly pending = new Map<string, { readonly kind: AnyEntityKind<F>; readonly facts: F[] }>();

  constructor(store: EntityStore, kinds: readonly AnyEntityKind<F>[], fences: readonly Fence[]) {
    this.store = store;
    this.kinds = kinds;
    this.fences = fences;
  }

  /** Reads, in one fenced round trip, the entities not read yet among `refs` (folding what waited for them). */
  async prefetch(refs: readonly EntityRef[]): Promise<void> {
    const missing = [...new Map(refs.filter((r) => !this.loaded.has(refId(r))).map((r) => [refId(r), r])).values()];
    if (missing.length === 0) return;
    const got = await this.store.load(missing, this.fences);
    for (const r of missing) {
      const id = refId(r);
      // Read meanwhile by a concurrent call, which folded what waited for it: that state stands.
      if (this.loaded.has(id)) continue;
      const l = got.get(id) ?? null;
      this.loaded.set(id, l);
      if (l) this.states.set(id, l.state);
      const waiting = this.pending.get(id);
      if (!waiting) continue;
      this.pending.delete(id);
      for (const fact of waiting.facts) this.evolve(waiting.kind, id, fact, r.key);
    }
  }

  /** One entity as the run has it now, or null where neither Redis nor the run has it. */
  async get<S>(ref: EntityRef): Promise<S | null> {
    await this.prefetch([ref]);
    return (this.states.get(refId(ref)) as S | undefined) ?? null;
  }

  /** Folds facts into the run's entities: at once into those read, into the others once read. */
  fold(facts: readonly F[]): void {
    for (const fact of facts) {
      for (const kind of this.kinds) {
        for (const key of kind.keys(fact)) {
          const id = refId({ kind: kind.name, key });
          if (this.loaded.has(id)) {
            this.evolve(kind, id, fact, key);
            continue;
          }
          const waiting = this.pending.get(id) ?? { kind, facts: [] };
          waiting.facts.push(fact);
          this.pending.set(id, waiting);
        }
      }
    }
  }

  private evolve(kind: AnyEntityKind<F>, id: string, fact: F, key: string): void {
    this.states.set(id, kind.evolve(this.states.has(id) ? this.states.get(id) : kind.initial, fact, key));
  }

  /** The versions read, for the compare-and-set (the write reads the entities never read here). */
  known(): ReadonlyMap<string, Loaded | null> {
    return this.loaded;
  }
}

export interface BatchDecider<F> {
  readonly kafka: Kafka;
  readonly store: EntityStore;
  readonly writer: StateWriter<F>;
  readonly kinds: readonly AnyEntityKind<F>[];
  /** The processor's fence: reads and the write check it. */
  readonly fence: Fence;
  /** Fences of other states the decisions read through the batch (the customer directory): reads check them too. */
  readonly readFences?: readonly Fence[];
  /** The fact an output event is for the fold, or null when the state ignores it. */
  asFact(o: Output): F | null;
  /** Entities a decision on `input` reads beyond those it folds into: read with them, in the first round trip. */
  reads?(input: F): readonly EntityRef[];
}

/** Where an input came from: its record's place and trace context, for the span of its decision. */
export interface InputOrigin {
  readonly topic: AnyTopicName;
  readonly partition: number;
  readonly offset: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The facts of a batch's records (those the processor folds), each with its origin. */
export function factsOf<T extends AnyTopicName, F>(records: readonly Incoming<T>[], fact: (r: Incoming<T>) => F | null): { facts: F[]; origins: InputOrigin[] } {
  const facts: F[] = [];
  const origins: InputOrigin[] = [];
  for (const r of records) {
    const f = fact(r);
    if (f === null) continue;
    facts.push(f);
    origins.push({ topic: r.topic, partition: r.partition, offset: r.offset, headers: r.headers });
  }
  return { facts, origins };
}

/** Tracing a unit: the processor's name and each input's origin (same order as the inputs). */
export interface UnitTracing {
  readonly processor: string;
  readonly origins: readonly InputOrigin[];
}

/**
 * Decides `inputs` in order as one unit (steps 1–4 above) and returns every event decided.
 * `decide` reads only through the reader made of the run's state.
 *
 * With `tracing`, each input's decision is a span in the trace its record came with, ended once
 * the unit's events are appended and its state written; the events it decided carry that span's
 * context in their headers, so the trace goes on in whoever consumes them, input by input, though
 * the unit is appended at once.
 */
export async function decideBatch<F, R>(
  d: BatchDecider<F>,
  inputs: readonly F[],
  readerOf: (state: BatchState<F>) => R,
  decide: (input: F, read: R) => Promise<readonly Output[]>,
  tracing?: UnitTracing,
): Promise<Output[]> {
  if (inputs.length === 0) return [];
  const spans: Span[] = [];
  try {
    const state = new BatchState<F>(d.store, d.kinds, [d.fence, ...(d.readFences ?? [])]);
    await state.prefetch([...refsOf(d.kinds, inputs), ...(d.reads ? inputs.flatMap((i) => d.reads!(i)) : [])]);
    const read = readerOf(state);
    const facts: F[] = [];
    /** The trace of each fact (its input's decision span), for the timers it sets. */
    const factTraces: (Record<string, string> | undefined)[] = [];
    const events: Output[] = [];
    for (const [i, input] of inputs.entries()) {
      let headers: Record<string, string> | undefined;
      const origin = tracing?.origins[i];
      let decided: readonly Output[];
      if (tracing && origin) {
        const { span, context: ctx } = beginSpan(`${tracing.processor} decide`, {
          kind: SpanKind.CONSUMER,
          parent: contextFrom(origin.headers),
          attributes: messagingAttributes(origin.topic, { operation: 'process', partition: origin.partition, offset: origin.offset, group: `processor.${tracing.processor}` }),
        });
        spans.push(span);
        const traced = traceHeaders(ctx);
        decided = await withContext(ctx, () => decide(input, read));
        if (traced.traceparent !== undefined) {
          headers = traced;
          decided = decided.map((e) => ({ ...e, headers: traced }));
        }
      } else {
        decided = await decide(input, read);
      }
      const folded = [input];
      for (const e of decided) {
        const f = d.asFact(e);
        if (f !== null) folded.push(f);
      }
      state.fold(folded);
      facts.push(...folded);
      for (let k = 0; k < folded.length; k++) factTraces.push(headers);
      events.push(...decided);
    }
    // Sent in several requests when large: a record too large for the broker must fail the append
    // before any of it lands, or the records one by one would be decided again on another state.
    if (events.length > 0) await (await d.kafka.appender()).appendMany(groupByTopic(events), { maxRecordBytes: DECISION_RECORD_BYTES });
    await d.writer.apply(facts, d.fence, state.known(), factTraces);
    return events;
  } catch (err) {
    for (const span of spans) failSpan(span, err);
    throw err;
  } finally {
    for (const span of spans) span.end();
  }
}

