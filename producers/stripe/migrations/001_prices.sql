-- Prices fetched through Stripe's API with their tiers (webhooks leave tiers out), for the
-- processor.stripe-prices consumer: each price once (prices are immutable); `price` NULL when
-- Stripe answered 404.
CREATE TABLE IF NOT EXISTS public.stripe_prices (
  price_id text PRIMARY KEY,
  price jsonb,
  fetched_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.stripe_prices IS 'Stripe prices fetched with expand[]=tiers (NULL price: Stripe has no such price).';

-- Which customers already had a price appended for them to stripe.events.v1 (eventline.price_fetched).
CREATE TABLE IF NOT EXISTS public.stripe_price_fetches (
  customer_id text NOT NULL,
  price_id text NOT NULL,
  event_id text NOT NULL,
  appended_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, price_id)
);
COMMENT ON TABLE public.stripe_price_fetches IS 'Prices appended per customer as eventline.price_fetched records (deterministic event ids).';
