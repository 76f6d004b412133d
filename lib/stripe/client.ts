/** The stripe SDK client Eventline calls Stripe's API with (backfill, price tiers, dunning's end actions). */
import Stripe from 'stripe';

/** The stripe SDK client for the configured key, pointed at STRIPE_API_URL when set (stripe-mock, tests). */
export function stripeClient(apiKey: string, apiUrl: string | null): Stripe {
  const config: Stripe.StripeConfig = { maxNetworkRetries: 4, timeout: 30_000, appInfo: { name: 'Eventline' } };
  if (apiUrl) {
    const url = new URL(apiUrl);
    Object.assign(config, { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)), protocol: url.protocol.replace(':', '') as 'http' | 'https' });
  }
  return new Stripe(apiKey, config);
}
