/**
 * The Eventline producer SDK for in-process publishers: the same validation, acknowledgement and
 * idempotency as POST /v1/events, without HTTP. Known event types are typed; others (registered by
 * another team) go through `publishAny`.
 *
 *   const events = await EventlinePublisher.connect({ producer: 'auth-service' });
 *   await events.publish('SecurityAlertRaised', 'user_42', { user_id: 'user_42', alert: 'new_device_login', ip: null, device: null });
 *   await events.close();
 */
import type { Config } from '../../lib/config.ts';
import { Runtime } from '../../lib/runtime.ts';
import type { TopicRecords } from '../../lib/topics.ts';
import { RecentlySeen } from '../http/recently-seen.ts';
import { DomainPublisher, type Published } from '../domain/publisher.ts';

type DomainRecords = TopicRecords['domain.events.v1'];
export type DomainEventType = keyof DomainRecords;
export type DomainEventData<T extends DomainEventType> = DomainRecords[T]['data'];

export interface PublishOptions {
  /** Idempotency: the same id is appended once. Default: a new id. */
  readonly eventId?: string;
  /** Event time (default: now). */
  readonly occurredAt?: Date;
}

export class EventlinePublisher {
  private readonly rt: Runtime;
  private readonly publisher: DomainPublisher;
  private readonly producer: string;

  private constructor(rt: Runtime, producer: string) {
    this.rt = rt;
    this.producer = producer;
    this.publisher = new DomainPublisher(rt.kafka, new RecentlySeen(rt.redis, 'domain:seen'));
  }

  /** Connects with configuration from the environment (or `config`); `producer` names the publisher in every event. */
  static async connect(options: { producer: string; config?: Config }): Promise<EventlinePublisher> {
    const rt = options.config ? new Runtime(options.config) : Runtime.fromEnv('eventline-sdk');
    const publisher = new EventlinePublisher(rt, `sdk:${options.producer}`);
    await rt.kafka.appender();
    return publisher;
  }

  publish<T extends DomainEventType>(type: T, key: string, data: DomainEventData<T>, options: PublishOptions = {}): Promise<Published> {
    return this.publishAny(type, key, data as unknown as Record<string, unknown>, options);
  }

  /** For event types registered in the schema registry by other services. */
  publishAny(type: string, key: string, data: Record<string, unknown>, options: PublishOptions = {}): Promise<Published> {
    return this.publisher.publishInput(
      {
        type,
        key,
        data,
        ...(options.eventId !== undefined ? { event_id: options.eventId } : {}),
        ...(options.occurredAt !== undefined ? { occurred_at: options.occurredAt.getTime() } : {}),
      },
      this.producer,
    );
  }

  close(): Promise<void> {
    return this.rt.close();
  }
}
