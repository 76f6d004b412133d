/**
 * Dunning's end actions at Stripe, through the stripe SDK: cancel the subscription, or mark the
 * invoice uncollectible. Each call carries the effect's Idempotency-Key (from the case and the
 * action), so a retry — the SDK's own after a lost response, or the whole decision again after a
 * crash — is the same request, and Stripe applies it once.
 *
 * Stripe refusing for good (4xx other than 409 and 429: no such subscription, already canceled, an
 * invoice not open) is an answer, recorded as `refused` with Stripe's words; anything else (network,
 * 5xx, 429, 409 a concurrent request with the same key) throws, so the batch is decided again.
 */
import Stripe from 'stripe';
import type { EndActionEffect, EndActionResult } from './decide.ts';

export type EndActionRunner = (effect: EndActionEffect) => Promise<EndActionResult>;

export function stripeEndActions(stripe: Stripe): EndActionRunner {
  return async (effect) => {
    const options = { idempotencyKey: effect.idempotencyKey };
    try {
      if (effect.action === 'cancel_subscription') {
        if (!effect.subscriptionId) return { outcome: 'skipped', detail: `invoice ${effect.caseId} has no subscription to cancel` };
        const sub = await stripe.subscriptions.cancel(effect.subscriptionId, {}, options);
        return { outcome: 'done', detail: `subscription ${sub.id} ${sub.status} (request ${sub.lastResponse.requestId})` };
      }
      const invoice = await stripe.invoices.markUncollectible(effect.caseId, {}, options);
      return { outcome: 'done', detail: `invoice ${invoice.id} ${invoice.status ?? 'uncollectible'} (request ${invoice.lastResponse.requestId})` };
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError && err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 409 && err.statusCode !== 429) {
        return { outcome: 'refused', detail: `${err.code ?? err.type}: ${err.message} (request ${err.requestId ?? 'unknown'})` };
      }
      throw err;
    }
  };
}
