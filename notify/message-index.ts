/**
 * Provider message id -> notification id, recorded when an SMS is sent, so a delivery callback
 * finds its notification without trusting what else the request carries. A cache: the delivery
 * projection also joins on the message id recorded in notify.dispatches.v1, so a Redis flush loses
 * nothing.
 *
 * One index per provider, each under its own key prefix: a Twilio SID and a Vonage message-id are
 * different namespaces, and a callback signed by one provider looks up only that provider's ids.
 */
import { answerWithin, type Redis } from '../lib/redis.ts';

const TTL_SECONDS = 30 * 86_400;

class MessageIndex {
  private readonly redis: Redis;
  private readonly prefix: string;

  protected constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  async record(messageId: string, notificationId: string): Promise<void> {
    await this.redis.set(`${this.prefix}:${messageId}`, notificationId, 'EX', TTL_SECONDS);
  }

  /** The notification id, or null when unknown or when Redis does not answer within 250 ms. */
  async lookup(messageId: string): Promise<string | null> {
    return answerWithin(this.redis.get(`${this.prefix}:${messageId}`), 250, null);
  }
}

/** Twilio MessageSid -> notification id. */
export class TwilioMessageIndex extends MessageIndex {
  readonly provider = 'twilio';
  constructor(redis: Redis) {
    super(redis, 'twilio:sid');
  }
}

/** Vonage SMS API message-id -> notification id (the first part's id, which VonageSms returns). */
export class VonageMessageIndex extends MessageIndex {
  readonly provider = 'vonage';
  constructor(redis: Redis) {
    super(redis, 'vonage:msg');
  }
}
