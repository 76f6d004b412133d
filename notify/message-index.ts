/**
 * Message SID -> notification id, recorded when an SMS is sent, so a status callback without our
 * query parameter still finds its notification. A cache: the delivery projection also joins on
 * the SID recorded in notify.dispatches.v1, so a Redis flush loses nothing.
 */
import type { Redis } from '../lib/redis.ts';

const TTL_SECONDS = 30 * 86_400;

export class TwilioMessageIndex {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  async record(messageSid: string, notificationId: string): Promise<void> {
    await this.redis.set(`twilio:sid:${messageSid}`, notificationId, 'EX', TTL_SECONDS);
  }

  /** The notification id, or null when unknown or when Redis does not answer within 250 ms. */
  async lookup(messageSid: string): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.redis.get(`twilio:sid:${messageSid}`),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 250))),
      ]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
