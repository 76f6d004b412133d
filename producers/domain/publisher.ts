/**
 * Publishing a domain event (POST /v1/events and the SDK): validate the request, validate the
 * event against the schema registered for its type on domain.events.v1, append, and answer after
 * Kafka's ack. Idempotent on event_id: a repeat within the dedupe window is not appended again, and
 * consumers dedupe by event_id beyond it.
 */
import { inputProblems } from '../../lib/http/body.ts';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EventlineError } from '../../lib/errors.ts';
import type { Kafka } from '../../lib/kafka/index.ts';
import { domainTypeName } from '../../lib/topics.ts';
import type { RecentlySeen } from '../http/recently-seen.ts';

export const domainEventInput = z
  .object({
    type: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'an Avro record name, e.g. UserSignedUp or com.acme.OrderShipped'),
    key: z.string().min(1).max(256),
    data: z.record(z.string(), z.unknown()),
    occurred_at: z.union([z.iso.datetime({ offset: true }), z.number().int().min(946_684_800_000).max(32_503_680_000_000)]).optional(),
    event_id: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/, '1..200 letters, digits or _.:-').optional(),
  })
  .strict();

export type DomainEventInput = z.infer<typeof domainEventInput>;

export interface Published {
  readonly event_id: string;
  readonly type: string;
  readonly duplicate: boolean;
}

export class DomainPublisher {
  private readonly kafka: Kafka;
  private readonly seen: RecentlySeen | null;

  constructor(kafka: Kafka, seen: RecentlySeen | null) {
    this.kafka = kafka;
    this.seen = seen;
  }

  /** Validates raw input (422 with every problem) and publishes it. */
  async publishInput(body: unknown, producer: string, now = Date.now()): Promise<Published> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new EventlineError('unprocessable', 'the body must be a JSON object {type, key, data}');
    const parsed = domainEventInput.safeParse(body);
    if (!parsed.success) {
      throw new EventlineError('unprocessable', 'invalid event', { detail: inputProblems(parsed.error) });
    }
    return this.publish(parsed.data, producer, now);
  }

  async publish(input: DomainEventInput, producer: string, now = Date.now()): Promise<Published> {
    const type = domainTypeName(input.type);
    const eventId = input.event_id ?? `dom_${randomUUID()}`;
    const occurredAt = input.occurred_at === undefined ? now : typeof input.occurred_at === 'number' ? input.occurred_at : Date.parse(input.occurred_at);
    const value = { event_id: eventId, occurred_at: occurredAt, received_at: now, key: input.key, producer, data: input.data };
    const encoded = await this.kafka.serde.encodeWithLatest('domain.events.v1', type, value);
    if (!encoded.ok) {
      if (encoded.reason === 'unknown_subject') {
        throw new EventlineError('unprocessable', `unknown event type ${type}: no schema is registered for it on domain.events.v1`, { detail: { type } });
      }
      throw new EventlineError('unprocessable', `the event does not match the registered schema of ${type}`, { detail: encoded.problems });
    }
    if (input.event_id !== undefined && this.seen && (await this.seen.seen([eventId])).size > 0) {
      return { event_id: eventId, type, duplicate: true };
    }
    const appender = await this.kafka.appender();
    await appender.appendRaw('domain.events.v1', [{ key: input.key, value: encoded.bytes }], { lateAck: () => this.seen?.mark([eventId]) });
    if (this.seen) await this.seen.mark([eventId]);
    return { event_id: eventId, type, duplicate: false };
  }
}
