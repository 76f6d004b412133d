/**
 * Logical topic names, record envelopes and the namespace that turns them into physical names.
 * EVENTLINE_NAMESPACE prefixes every topic, consumer group, schema subject and Redis key, so several
 * environments or test runs can share one cluster. Nothing outside lib/ sees a physical name.
 */
import {
  dlqSpec,
  recordSchemas,
  topicSpecs,
  type DlqRecords,
  type DlqTopicName,
  type RecordName,
  type TopicRecords,
} from './generated/events.ts';

export type { DlqTopicName, RecordName, TopicRecords } from './generated/events.ts';
export * from './generated/events.ts';

export type TopicName = keyof TopicRecords;
export type AnyTopicName = TopicName | DlqTopicName;
export type RecordsOf<T extends AnyTopicName> = T extends TopicName ? TopicRecords[T] : DlqRecords;

/**
 * A record as the application sees it: which record type, and its value. Distributes over a union
 * of topics, so a consumer of several topics gets a union it can narrow by `record`.
 */
export type Envelope<T extends AnyTopicName> = T extends AnyTopicName
  ? { [R in keyof RecordsOf<T> & string]: { readonly record: R; readonly value: RecordsOf<T>[R] } }[keyof RecordsOf<T> & string]
  : never;

/**
 * domain.events.v1 is open: other services register record types of their own on it (producers/domain)
 * without an Eventline release. A bare type name means this namespace.
 */
export const DOMAIN_NAMESPACE = 'eventline.domain';

/** The record full name of a domain event type as publishers and rules name it: `UserSignedUp` → `eventline.domain.UserSignedUp`. */
export function domainTypeName(type: string): string {
  return type.includes('.') ? type : `${DOMAIN_NAMESPACE}.${type}`;
}

/** The fields every domain event has, whoever declared its type (the value POST /v1/events builds). */
export interface DomainEventFields {
  readonly event_id: string;
  readonly occurred_at: number;
  readonly received_at: number;
  readonly key: string;
  readonly producer: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * A domain event of a type this version does not declare (another service registered it), decoded
 * with its writer's schema and its envelope fields checked. Only consumers that ask for such
 * records receive them (ConsumerOptions.externalRecords); the others skip them.
 */
export interface ExternalDomainEvent {
  readonly record: 'external';
  /** The writer's record full name, e.g. com.acme.OrderShipped. */
  readonly fullName: string;
  readonly value: DomainEventFields;
}

export const topicNames = Object.keys(topicSpecs) as TopicName[];

export function isTopicName(name: string): name is TopicName {
  return Object.hasOwn(topicSpecs, name);
}

export function dlqTopicFor(group: string): DlqTopicName {
  return `dlq.${group}.v1`;
}

export function isDlqTopic(name: string): name is DlqTopicName {
  return /^dlq\..+\.v1$/.test(name);
}

/** The record names a topic may carry. */
export function recordsOfTopic(topic: AnyTopicName): readonly RecordName[] {
  return (isDlqTopic(topic) ? dlqSpec.records : topicSpecs[topic].records) as readonly RecordName[];
}

export function recordFullName(record: RecordName): string {
  return recordSchemas[record].fullName;
}

/** Applies EVENTLINE_NAMESPACE. */
export class Names {
  readonly namespace: string | null;
  private readonly prefix: string;

  constructor(namespace: string | null) {
    this.namespace = namespace;
    this.prefix = namespace ? `${namespace}.` : '';
  }

  topic(logical: AnyTopicName): string {
    return `${this.prefix}${logical}`;
  }

  /** The logical name of a physical topic, or null when it is not one of ours in this namespace. */
  logicalTopic(physical: string): AnyTopicName | null {
    if (!physical.startsWith(this.prefix)) return null;
    const logical = physical.slice(this.prefix.length);
    return isTopicName(logical) || isDlqTopic(logical) ? logical : null;
  }

  group(logical: string): string {
    return `${this.prefix}${logical}`;
  }

  /** Schema subject under TopicRecordNameStrategy: <topic>-<record full name>. */
  subject(topic: AnyTopicName, record: RecordName): string {
    return `${this.topic(topic)}-${recordFullName(record)}`;
  }

  redisKey(...parts: string[]): string {
    return [this.namespace ?? 'eventline', ...parts].join(':');
  }
}
