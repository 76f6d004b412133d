/**
 * What every processor's adapter does with a decision: append its events (acks=all), then fold the
 * input and the events into the stored state under the live fence. A crash in between re-decides
 * the same events (deterministic ids; consumers dedupe) because the state has not moved.
 */
import type { Kafka, OutgoingGroup } from '../kafka/index.ts';
import type { Fence, Loaded, StateWriter } from './store.ts';
import type { Output } from './types.ts';

export function groupByTopic(outputs: readonly Output[]): OutgoingGroup[] {
  const byTopic = new Map<string, { key: string; record: string; value: unknown; headers?: Readonly<Record<string, string>> }[]>();
  for (const o of outputs) {
    const list = byTopic.get(o.topic) ?? [];
    list.push({ key: o.key, record: o.record, value: o.value, ...(o.headers ? { headers: o.headers } : {}) });
    byTopic.set(o.topic, list);
  }
  return [...byTopic].map(([topic, records]) => ({ topic, records }) as unknown as OutgoingGroup);
}

/** `known`: the entities as the decision read them (their versions are compared; the others are read). */
export async function commitDecision<F>(kafka: Kafka, writer: StateWriter<F>, fence: Fence, inputFacts: readonly F[], events: readonly Output[], asFact: (o: Output) => F | null, known?: ReadonlyMap<string, Loaded | null>): Promise<Map<string, unknown>> {
  if (events.length > 0) await (await kafka.appender()).appendMany(groupByTopic(events));
  const facts = [...inputFacts, ...events.flatMap((e) => {
    const f = asFact(e);
    return f === null ? [] : [f];
  })];
  return facts.length > 0 ? writer.apply(facts, fence, known) : new Map();
}
