/**
 * Evidence that a provider accepted a message: any callback for it (SendGrid event, Twilio status).
 * Written by the webhook routes as soon as the provider calls back — independent of how far the
 * dispatch processor has consumed — and by the processor when it reads the delivery events (for
 * replays). A send whose outcome was lost in a crash is resent only when no evidence arrived within
 * the reconcile window.
 */
import { answerWithin, type Redis } from '../lib/redis.ts';

const TTL_SECONDS = 60 * 86_400;

export class SendEvidence {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  async record(notificationId: string, channel: string, providerMessageId: string | null): Promise<void> {
    await this.redis.set(`dispatch:evidence:${notificationId}:${channel}`, providerMessageId ?? '', 'EX', TTL_SECONDS);
  }

  /** Records evidence for provider events, giving up after `timeoutMs` (the webhook must not wait on Redis). */
  async recordAll(events: readonly { notificationId: string | null; channel: string; providerMessageId: string | null }[], timeoutMs = 250): Promise<void> {
    const known = events.filter((e): e is { notificationId: string; channel: string; providerMessageId: string | null } => e.notificationId !== null);
    if (known.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const e of known) pipeline.set(`dispatch:evidence:${e.notificationId}:${e.channel}`, e.providerMessageId ?? '', 'EX', TTL_SECONDS);
    await answerWithin(pipeline.exec(), timeoutMs, null);
  }

  async get(notificationId: string, channel: string): Promise<string | null> {
    return this.redis.get(`dispatch:evidence:${notificationId}:${channel}`);
  }
}
