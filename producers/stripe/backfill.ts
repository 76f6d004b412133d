/**
 * Backfill from Stripe's events API: page through the events created since a date (Stripe keeps
 * about 30 days), and append to stripe.events.v1 the ones the topic does not hold yet — after an
 * outage longer than Stripe's webhook retries, a misconfigured endpoint, or a new deployment.
 *
 * Which events the topic holds is read from the topic itself, from the first record appended at or
 * after `since` (an event is always appended after it was created; an hour of margin covers clock
 * skew). Missing events are appended oldest first, through the same mapping as the webhook, marked
 * source = backfill, and remembered as seen so a late webhook delivery of the same event is not
 * appended again. Downstream consumers deduplicate by event id anyway, so a backfill racing a
 * webhook is harmless.
 */
import Stripe from 'stripe';
import { EventlineError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { RecentlySeen } from '../http/recently-seen.ts';
import { STRIPE_SEEN_PREFIX } from './route.ts';
import { parseStripeEvent, toStripeEventReceived } from './to-event.ts';

export const STRIPE_EVENT_RETENTION_DAYS = 30;
const CLOCK_SKEW_MS = 3_600_000;
const PAGE = 100;

export interface BackfillReport {
  readonly since: Date;
  readonly listed: number;
  readonly present: number;
  readonly appended: number;
  readonly skippedMalformed: readonly string[];
}

export interface BackfillOptions {
  readonly since: Date;
  readonly dryRun?: boolean;
  readonly onProgress?: (listed: number) => void;
}

/** One page of events, waiting out rate limits (429) the SDK does not retry on its own. */
async function listPage(stripe: Stripe, params: Stripe.EventListParams, log: Logger): Promise<Stripe.ApiList<Stripe.Event>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await stripe.events.list(params);
    } catch (err) {
      if (err instanceof Stripe.errors.StripeRateLimitError && attempt < 8) {
        const waitMs = Math.min(30_000, 500 * 2 ** (attempt - 1));
        log.warn({ attempt, waitMs }, 'Stripe rate limit: waiting before the next page');
        await new Promise((r) => setTimeout(r, waitMs));
        continue;
      }
      if (err instanceof Stripe.errors.StripeAuthenticationError || err instanceof Stripe.errors.StripePermissionError) {
        throw new EventlineError('not_configured', `Stripe refused STRIPE_API_KEY: ${err.message}`, { cause: err });
      }
      if (err instanceof Stripe.errors.StripeInvalidRequestError) throw new EventlineError('bad_request', `Stripe rejected the events request: ${err.message}`, { cause: err });
      throw new EventlineError('provider_failed', `Stripe's events API did not answer: ${errorMessage(err)}`, { cause: err });
    }
  }
}

export async function backfillStripe(rt: Runtime, stripe: Stripe, options: BackfillOptions): Promise<BackfillReport> {
  const log = rt.log.child({ component: 'backfill.stripe' });
  const since = options.since;
  const gte = Math.floor(since.getTime() / 1000);

  const known = new Set<string>();
  await rt.kafka.readToEnd(
    'stripe.events.v1',
    (r) => {
      if (r.value.occurred_at >= gte * 1000) known.add(r.value.event_id);
    },
    { fromTimestamp: since.getTime() - CLOCK_SKEW_MS },
  );

  const listed = new Map<string, Stripe.Event>();
  let startingAfter: string | undefined;
  for (;;) {
    const page = await listPage(stripe, { created: { gte }, limit: PAGE, ...(startingAfter ? { starting_after: startingAfter } : {}) }, log);
    for (const e of page.data) listed.set(e.id, e);
    options.onProgress?.(listed.size);
    const last = page.data.at(-1);
    if (!page.has_more || !last) break;
    startingAfter = last.id;
  }

  const skippedMalformed: string[] = [];
  const missing = [...listed.values()]
    .filter((e) => !known.has(e.id))
    .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1))
    .flatMap((e) => {
      const raw = JSON.stringify(e);
      try {
        return [toStripeEventReceived(raw, parseStripeEvent(JSON.parse(raw)), Date.now(), 'backfill')];
      } catch (err) {
        log.warn({ event_id: e.id, err: errorMessage(err) }, 'Stripe listed an event without the fields every event has; not appended');
        skippedMalformed.push(e.id);
        return [];
      }
    });
  const report = { since, listed: listed.size, present: listed.size - missing.length - skippedMalformed.length, appended: options.dryRun ? 0 : missing.length, skippedMalformed };
  if (options.dryRun || missing.length === 0) return { ...report, appended: 0 };

  const appender = await rt.kafka.appender();
  const seen = new RecentlySeen(rt.redis, STRIPE_SEEN_PREFIX);
  for (let i = 0; i < missing.length; i += 500) {
    const chunk = missing.slice(i, i + 500);
    await appender.append('stripe.events.v1', chunk.map((m) => ({ key: m.key, record: 'StripeEventReceived' as const, value: m.value })));
    await seen.mark(chunk.map((m) => m.value.event_id));
  }
  log.info({ listed: report.listed, appended: missing.length }, 'Stripe backfill appended the missing events');
  return report;
}
