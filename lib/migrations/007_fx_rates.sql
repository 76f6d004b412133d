-- Daily exchange rates for the reporting-currency MRR series (analytics.mrr_reporting_daily), loaded
-- by `eventline fx load <csv>`: one unit of `currency` is `rate` units of `reporting_currency` on `day`.
CREATE TABLE IF NOT EXISTS public.fx_rates (
  reporting_currency text NOT NULL,
  day date NOT NULL,
  currency text NOT NULL,
  rate numeric NOT NULL CHECK (rate > 0),
  loaded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (reporting_currency, currency, day)
);
COMMENT ON TABLE public.fx_rates IS 'Daily exchange rates loaded by `eventline fx load`: 1 currency = rate reporting_currency on day (a day without a rate uses the latest before it).';
