/**
 * Topic and schema operations over the whole catalogue (schemas/ via the generated module):
 * create topics, register every schema, check every schema against the registry.
 */
import { EventlineError } from './errors.ts';
import type { Kafka, TopicCreation } from './kafka/index.ts';
import type { CompatibilityResult } from './registry.ts';
import { recordSchemas, recordsOfTopic, topicNames, topicSpecs, type AnyTopicName, type RecordName, type TopicName } from './topics.ts';

/** Parses "stripe.events.v1=12,notify.dispatches.v1=3" into partition overrides. */
export function parsePartitionOverrides(text: string): Partial<Record<TopicName, number>> {
  const out: Partial<Record<TopicName, number>> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, count] = part.split('=');
    if (!name || !count || !/^\d+$/.test(count) || Number(count) < 1 || Number(count) > 1000) {
      throw new EventlineError('bad_request', `"${part}" is not <topic>=<partitions 1..1000>`);
    }
    if (!(topicNames as string[]).includes(name)) throw new EventlineError('bad_request', `unknown topic ${name}; topics: ${topicNames.join(', ')}`);
    out[name as TopicName] = Number(count);
  }
  return out;
}

/** Creates every topic of the catalogue that is missing (partition counts: overrides, else topic.json). */
export async function createTopics(kafka: Kafka, overrides: Partial<Record<TopicName, number>> = {}): Promise<TopicCreation[]> {
  return kafka.ensureTopics(
    topicNames.map((topic) => ({ topic, partitions: overrides[topic] ?? topicSpecs[topic].partitions, config: topicSpecs[topic].config })),
  );
}

/** Registers every record schema under its subject. DLQ subjects are registered per group on first use. */
export async function registerSchemas(kafka: Kafka, topics: readonly AnyTopicName[] = topicNames): Promise<{ subject: string; id: number }[]> {
  const out: { subject: string; id: number }[] = [];
  for (const topic of topics) out.push(...(await kafka.serde.register(topic)));
  return out;
}

/**
 * Checks every local schema against the latest registered version of its subject under the
 * registry's rule (BACKWARD). `schemas` lets a caller check a changed set before it is committed.
 */
export async function checkSchemas(
  kafka: Kafka,
  schemas: Readonly<Record<RecordName, { schema: object }>> = recordSchemas,
  topics: readonly TopicName[] = topicNames,
): Promise<CompatibilityResult[]> {
  const out: CompatibilityResult[] = [];
  for (const topic of topics) {
    for (const record of recordsOfTopic(topic)) {
      out.push(await kafka.registry.check(kafka.names.subject(topic, record), schemas[record].schema));
    }
  }
  return out;
}
