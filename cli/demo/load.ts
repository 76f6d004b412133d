/**
 * The demo dataset `npm start` loads once into an empty Eventline: a year and a half of a
 * subscription business's Stripe events, delivered through the real signed webhook endpoint.
 */
import Stripe from 'stripe';
import { EventlineError } from '../../lib/errors.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { charge, customer, event } from './stripe-objects.ts';
import { stripeHistory } from './stripe-history.ts';

/** Two card-testing bursts in the last day: new accounts, disposable emails, many small charges. */
function cardTesting(now: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [n, start] of [[1, now - 20 * 3600], [2, now - 3 * 3600]] as const) {
    const id = `cus_demo_tester${n}`;
    out.push(event('2025-09-30.clover', { id: `evt_demo_tester${n}`, type: 'customer.created', created: start, object: customer({ id, email: `buyer${n}@mailinator.com`, created: start, country: 'US' }) }));
    for (let i = 0; i < 7; i++) {
      const at = start + 120 + i * 45;
      const failed = i % 3 !== 0;
      out.push(
        event('2025-09-30.clover', {
          id: `evt_demo_tester${n}_${i}`,
          type: failed ? 'charge.failed' : 'charge.succeeded',
          created: at,
          object: charge({ id: `ch_demo_tester${n}_${i}`, customer: id, amount: 100 + i, created: at, status: failed ? 'failed' : 'succeeded', cardCountry: 'BR', billingCountry: 'US', fingerprint: `fpDemo${n}`, email: `buyer${n}@mailinator.com` }),
        }),
      );
    }
  }
  return out;
}

export interface DemoResult {
  readonly loaded: boolean;
  readonly stripeEvents: number;
  readonly reason?: string;
}

export async function loadDemo(rt: Runtime, options: { customers?: number; now?: number } = {}): Promise<DemoResult> {
  if ((await rt.kafka.recordCount('stripe.events.v1')) > 0) return { loaded: false, stripeEvents: 0, reason: 'stripe.events.v1 already has events' };
  const secret = rt.config.stripe.webhookSecret;
  if (!secret) throw new EventlineError('not_configured', 'the demo posts signed Stripe webhooks and needs STRIPE_WEBHOOK_SECRET');
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const history = [...stripeHistory({ customers: options.customers ?? 600, seed: 2026, from: now - 540 * 86_400, to: now - 3600 }), ...cardTesting(now)];
  const url = `http://127.0.0.1:${rt.config.http.port}/webhooks/stripe`;
  let next = 0;
  const failures: string[] = [];
  // 16 at a time; one customer's events are far apart in the history, so they still arrive in order.
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < history.length) {
        const payload = JSON.stringify(history[next++]);
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) }, body: payload });
          if (res.ok) break;
          if (res.status < 500 || attempt === 5) {
            failures.push(`${res.status} ${await res.text()}`);
            break;
          }
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    }),
  );
  if (failures.length > 0) throw new EventlineError('internal', `${failures.length} demo events were refused, e.g. ${failures[0]}`);
  return { loaded: true, stripeEvents: history.length };
}
