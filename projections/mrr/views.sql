-- Analytics views over MRR projection version {{schema}}. Created when the version is activated.

CREATE VIEW analytics.mrr_movements AS
SELECT occurred_at, customer_id, currency, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id
FROM {{schema}}.movements;
COMMENT ON VIEW analytics.mrr_movements IS 'Every change of a customer''s MRR, one row per change, at the Stripe event''s created time. Money in minor units.';
COMMENT ON COLUMN analytics.mrr_movements.occurred_at IS 'When the change happened: the created time of the Stripe event that caused it.';
COMMENT ON COLUMN analytics.mrr_movements.customer_id IS 'Stripe customer id.';
COMMENT ON COLUMN analytics.mrr_movements.currency IS 'Lowercase ISO 4217 currency; MRR is never converted between currencies.';
COMMENT ON COLUMN analytics.mrr_movements.movement IS 'new (0 → >0, first time), reactivation (0 → >0 again), expansion (up), contraction (down), churn (>0 → 0).';
COMMENT ON COLUMN analytics.mrr_movements.delta_cents IS 'mrr_after_cents − mrr_before_cents: positive for new, reactivation, expansion; negative for contraction, churn.';
COMMENT ON COLUMN analytics.mrr_movements.mrr_before_cents IS 'The customer''s MRR in this currency just before the change.';
COMMENT ON COLUMN analytics.mrr_movements.mrr_after_cents IS 'The customer''s MRR in this currency just after the change.';
COMMENT ON COLUMN analytics.mrr_movements.stripe_event_id IS 'The Stripe event (evt_...) at which the change happened.';

CREATE VIEW analytics.mrr_lineage AS
SELECT l.customer_id, l.currency, l.occurred_at, l.movement, l.subscription_after_cents - l.subscription_before_cents AS delta_cents, l.stripe_event_id,
       l.subscription_id, l.subscription_before_cents AS subscription_mrr_before_cents, l.subscription_after_cents AS subscription_mrr_after_cents
FROM {{schema}}.lineage l;
COMMENT ON VIEW analytics.mrr_lineage IS 'Every movement of mrr_movements broken down by the subscriptions whose MRR changed at its Stripe event: the parts of a movement add up to its delta.';
COMMENT ON COLUMN analytics.mrr_lineage.customer_id IS 'Stripe customer id.';
COMMENT ON COLUMN analytics.mrr_lineage.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.mrr_lineage.occurred_at IS 'The movement''s time: its Stripe event''s created time.';
COMMENT ON COLUMN analytics.mrr_lineage.movement IS 'The movement this part belongs to: new, expansion, contraction, churn or reactivation.';
COMMENT ON COLUMN analytics.mrr_lineage.subscription_id IS 'The Stripe subscription whose MRR changed at the event.';
COMMENT ON COLUMN analytics.mrr_lineage.delta_cents IS 'This subscription''s part of the movement (after − before); the parts of one movement sum to its delta_cents in mrr_movements.';
COMMENT ON COLUMN analytics.mrr_lineage.stripe_event_id IS 'The Stripe event behind the movement (a subscription version, or a discount or coupon change).';
COMMENT ON COLUMN analytics.mrr_lineage.subscription_mrr_before_cents IS 'The subscription''s MRR just before the event.';
COMMENT ON COLUMN analytics.mrr_lineage.subscription_mrr_after_cents IS 'The subscription''s MRR after it.';

CREATE VIEW analytics.subscriptions AS
SELECT subscription_id, customer_id, status, currency, items, mrr_cents, trial_end, cancel_at_period_end, cancel_at, canceled_at, updated_at, last_event_id,
       trial_started_at, converted_at
FROM {{schema}}.subscriptions;
COMMENT ON VIEW analytics.subscriptions IS 'Every Stripe subscription as it stands: its latest version (by Stripe created time, then event id) and its MRR now under the MRR policy.';
COMMENT ON COLUMN analytics.subscriptions.subscription_id IS 'Stripe subscription id.';
COMMENT ON COLUMN analytics.subscriptions.customer_id IS 'Stripe customer id.';
COMMENT ON COLUMN analytics.subscriptions.status IS 'Stripe status of its latest version (active, past_due, trialing, canceled, unpaid, …).';
COMMENT ON COLUMN analytics.subscriptions.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.subscriptions.trial_end IS 'trial_end of its latest version.';
COMMENT ON COLUMN analytics.subscriptions.cancel_at_period_end IS 'cancel_at_period_end of its latest version: set to end at the period''s end.';
COMMENT ON COLUMN analytics.subscriptions.cancel_at IS 'cancel_at of its latest version: set to end at that time.';
COMMENT ON COLUMN analytics.subscriptions.canceled_at IS 'canceled_at of its latest version (null when the payload had none).';
COMMENT ON COLUMN analytics.subscriptions.items IS 'The items: price_id, unit_amount (minor units, decimal text), currency, interval, interval_count, quantity, metered.';
COMMENT ON COLUMN analytics.subscriptions.mrr_cents IS 'Its MRR now (0 unless active or past_due), discounts applied; the customer''s customer_mrr is the sum per currency.';
COMMENT ON COLUMN analytics.subscriptions.updated_at IS 'Stripe created time of the event of its latest version.';
COMMENT ON COLUMN analytics.subscriptions.last_event_id IS 'The Stripe event of its latest version.';
COMMENT ON COLUMN analytics.subscriptions.trial_started_at IS 'Stripe created time of its first trialing version (null: never on trial).';
COMMENT ON COLUMN analytics.subscriptions.converted_at IS 'Stripe created time of its first version after the trial that counts for MRR (active or past_due): the trial''s conversion to paid.';

CREATE VIEW analytics.trials_monthly AS
SELECT date_trunc('month', trial_started_at AT TIME ZONE 'UTC')::date AS month, currency,
       count(*)::bigint AS trials_started,
       (count(*) FILTER (WHERE converted_at IS NOT NULL))::bigint AS converted,
       (count(*) FILTER (WHERE converted_at IS NULL AND status = 'trialing'))::bigint AS still_trialing,
       round((count(*) FILTER (WHERE converted_at IS NOT NULL))::numeric / count(*), 4) AS conversion_rate,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY converted_at - trial_started_at) FILTER (WHERE converted_at IS NOT NULL) AS median_time_to_convert
FROM {{schema}}.subscriptions
WHERE trial_started_at IS NOT NULL
GROUP BY 1, 2;
COMMENT ON VIEW analytics.trials_monthly IS 'Trials by the UTC month they started, per currency: how many converted to paid (ever, so far), how many are still trialing, and the conversion rate.';
COMMENT ON COLUMN analytics.trials_monthly.month IS 'First day of the UTC month the trials started in.';
COMMENT ON COLUMN analytics.trials_monthly.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.trials_monthly.trials_started IS 'Subscriptions whose first trialing version is in the month.';
COMMENT ON COLUMN analytics.trials_monthly.converted IS 'Trials whose subscription later counted for MRR (active or past_due).';
COMMENT ON COLUMN analytics.trials_monthly.still_trialing IS 'Trials not converted whose subscription is trialing now.';
COMMENT ON COLUMN analytics.trials_monthly.conversion_rate IS 'converted / trials_started, 4 decimals (rounded half away from zero).';
COMMENT ON COLUMN analytics.trials_monthly.median_time_to_convert IS 'Median time from the trial''s start to its conversion, over the converted ones.';

CREATE VIEW analytics.invoices AS
SELECT invoice_id, customer_id, subscription_id, status, amount_due_cents, amount_paid_cents, currency, attempt_count, last_decline_code, updated_at, last_event_id
FROM {{schema}}.invoices;
COMMENT ON VIEW analytics.invoices IS 'Every Stripe invoice as it stands: its latest version (by Stripe created time, then event id). The hosted invoice URL, a bearer link to pay it, is not kept.';
COMMENT ON COLUMN analytics.invoices.invoice_id IS 'Stripe invoice id.';
COMMENT ON COLUMN analytics.invoices.customer_id IS 'Stripe customer id.';
COMMENT ON COLUMN analytics.invoices.subscription_id IS 'The subscription it bills, if any.';
COMMENT ON COLUMN analytics.invoices.status IS 'Status of its latest version (draft, open, paid, uncollectible, void; deleted after invoice.deleted).';
COMMENT ON COLUMN analytics.invoices.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.invoices.last_event_id IS 'The Stripe event of its latest version.';

CREATE VIEW analytics.usage_revenue_monthly AS
SELECT date_trunc('month', l.period_start AT TIME ZONE 'UTC')::date AS month, COALESCE(l.currency, i.currency) AS currency,
       (COALESCE(sum(l.amount_cents) FILTER (WHERE i.status = 'paid'), 0))::bigint AS usage_paid_cents,
       sum(l.amount_cents)::bigint AS usage_invoiced_cents,
       count(DISTINCT i.invoice_id)::bigint AS invoices,
       count(DISTINCT i.customer_id)::bigint AS customers
FROM {{schema}}.invoices i
JOIN {{schema}}.invoice_lines l ON l.invoice_id = i.invoice_id AND l.event_id = i.last_event_id
WHERE i.status IN ('open', 'paid')
  AND l.period_start IS NOT NULL
  AND (l.metered OR (l.metered IS NULL AND EXISTS (SELECT 1 FROM {{schema}}.metered_prices m WHERE m.customer_id = l.customer_id AND m.price_id = l.price_id)))
GROUP BY 1, 2;
COMMENT ON VIEW analytics.usage_revenue_monthly IS 'Metered usage billed on invoices, by the UTC month of the usage period each line charges for, per currency: revenue that stays out of MRR (as in Stripe and ChartMogul). From the lines of each invoice as it stands (its latest version), open or paid; a line is usage when its price is metered (the line says so, or some subscription of the customer bills that price as metered).';
COMMENT ON COLUMN analytics.usage_revenue_monthly.month IS 'First day of the UTC month the usage period of the line starts in.';
COMMENT ON COLUMN analytics.usage_revenue_monthly.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.usage_revenue_monthly.usage_paid_cents IS 'Usage lines of paid invoices, minor units before tax.';
COMMENT ON COLUMN analytics.usage_revenue_monthly.usage_invoiced_cents IS 'Usage lines of open and paid invoices (billed, not void or uncollectible), minor units before tax.';
COMMENT ON COLUMN analytics.usage_revenue_monthly.invoices IS 'Invoices with at least one usage line in the month.';
COMMENT ON COLUMN analytics.usage_revenue_monthly.customers IS 'Customers billed for usage in the month.';
COMMENT ON COLUMN analytics.invoices.amount_due_cents IS 'amount_due of the latest version, in minor units.';
COMMENT ON COLUMN analytics.invoices.amount_paid_cents IS 'amount_paid of the latest version, in minor units.';
COMMENT ON COLUMN analytics.invoices.attempt_count IS 'Payment attempts so far (Stripe''s attempt_count).';
COMMENT ON COLUMN analytics.invoices.last_decline_code IS 'The decline code of the latest version that carried one (last_finalization_error, or the payment intent''s last_payment_error when expanded).';
COMMENT ON COLUMN analytics.invoices.updated_at IS 'Stripe created time of the event of its latest version.';

CREATE VIEW analytics.customer_mrr AS
SELECT customer_id, currency, mrr_cents, first_paid_at, last_movement_at
FROM {{schema}}.customer_mrr;
COMMENT ON VIEW analytics.customer_mrr IS 'Each customer''s MRR now, per currency (0 for churned customers).';
COMMENT ON COLUMN analytics.customer_mrr.customer_id IS 'Stripe customer id.';
COMMENT ON COLUMN analytics.customer_mrr.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.customer_mrr.mrr_cents IS 'Monthly recurring revenue now, in minor units, after discounts, before tax.';
COMMENT ON COLUMN analytics.customer_mrr.first_paid_at IS 'Time of the customer''s first new movement in this currency (its cohort).';
COMMENT ON COLUMN analytics.customer_mrr.last_movement_at IS 'Time of its latest movement.';

CREATE VIEW analytics.mrr_daily AS
WITH bounds AS (
  SELECT currency, min(day) AS first_day FROM {{schema}}.daily_sums WHERE movements > 0 GROUP BY currency
), days AS (
  SELECT b.currency, d::date AS day
  FROM bounds b, generate_series(b.first_day, (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
)
SELECT d.day, d.currency,
       (sum(COALESCE(p.delta_cents, 0)) OVER w)::bigint AS mrr_cents,
       (sum(COALESCE(p.delta_customers, 0)) OVER w)::bigint AS paying_customers
FROM days d LEFT JOIN {{schema}}.daily_sums p ON p.currency = d.currency AND p.day = d.day
WINDOW w AS (PARTITION BY d.currency ORDER BY d.day);
COMMENT ON VIEW analytics.mrr_daily IS 'MRR at the end of every UTC day, per currency, from the first movement to today (no gaps).';
COMMENT ON COLUMN analytics.mrr_daily.day IS 'UTC calendar day.';
COMMENT ON COLUMN analytics.mrr_daily.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.mrr_daily.mrr_cents IS 'Total MRR at the end of the day, in minor units.';
COMMENT ON COLUMN analytics.mrr_daily.paying_customers IS 'Customers with MRR > 0 at the end of the day.';

-- The end-of-day MRR split of ARCHITECTURE §6: active + past due = mrr_daily's MRR, and the part
-- set to cancel (cancel_at_period_end, or cancel_at) that still counts.
CREATE VIEW analytics.mrr_status_daily AS
WITH bounds AS (
  SELECT currency, min(day) AS first_day FROM {{schema}}.daily_sums WHERE movements > 0 GROUP BY currency
), days AS (
  SELECT b.currency, d::date AS day
  FROM bounds b, generate_series(b.first_day, (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
), running AS (
  SELECT d.day, d.currency,
         sum(COALESCE(p.delta_cents, 0)) OVER w AS mrr,
         sum(COALESCE(p.delta_past_due_cents, 0)) OVER w AS past_due,
         sum(COALESCE(p.delta_scheduled_churn_cents, 0)) OVER w AS scheduled
  FROM days d LEFT JOIN {{schema}}.daily_sums p ON p.currency = d.currency AND p.day = d.day
  WINDOW w AS (PARTITION BY d.currency ORDER BY d.day)
)
SELECT day, currency, mrr::bigint AS mrr_cents, (mrr - past_due)::bigint AS active_mrr_cents, past_due::bigint AS past_due_mrr_cents, scheduled::bigint AS scheduled_churn_mrr_cents
FROM running;
COMMENT ON VIEW analytics.mrr_status_daily IS 'MRR at the end of every UTC day split by subscription status: active + past_due = mrr_cents (as in mrr_daily); scheduled_churn: the part set to cancel that still counts.';
COMMENT ON COLUMN analytics.mrr_status_daily.day IS 'UTC calendar day.';
COMMENT ON COLUMN analytics.mrr_status_daily.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.mrr_status_daily.mrr_cents IS 'Total MRR at the end of the day (mrr_daily.mrr_cents).';
COMMENT ON COLUMN analytics.mrr_status_daily.active_mrr_cents IS 'MRR of subscriptions whose status is active.';
COMMENT ON COLUMN analytics.mrr_status_daily.past_due_mrr_cents IS 'MRR of subscriptions whose status is past_due (delinquent, still counted).';
COMMENT ON COLUMN analytics.mrr_status_daily.scheduled_churn_mrr_cents IS 'MRR of subscriptions set to cancel (cancel_at_period_end, or cancel_at set) that still counts: churn already scheduled.';

CREATE VIEW analytics.mrr_monthly AS
WITH bounds AS (
  SELECT currency, min(month) AS first_month FROM {{schema}}.monthly_sums WHERE movements > 0 GROUP BY currency
), months AS (
  SELECT b.currency, m::date AS month
  FROM bounds b, generate_series(b.first_month, date_trunc('month', now() AT TIME ZONE 'UTC')::date, interval '1 month') AS m
), per_month AS (
  SELECT currency, month, new_cents, expansion_cents, contraction_cents, churn_cents, reactivation_cents,
         new_cents + expansion_cents + contraction_cents + churn_cents + reactivation_cents AS net_cents
  FROM {{schema}}.monthly_sums
)
SELECT m.month, m.currency,
       (COALESCE(sum(p.net_cents) OVER w, 0) - COALESCE(p.net_cents, 0))::bigint AS opening_mrr_cents,
       COALESCE(p.new_cents, 0)::bigint AS new_cents,
       COALESCE(p.expansion_cents, 0)::bigint AS expansion_cents,
       COALESCE(p.contraction_cents, 0)::bigint AS contraction_cents,
       COALESCE(p.churn_cents, 0)::bigint AS churn_cents,
       COALESCE(p.reactivation_cents, 0)::bigint AS reactivation_cents,
       COALESCE(sum(p.net_cents) OVER w, 0)::bigint AS closing_mrr_cents
FROM months m LEFT JOIN per_month p ON p.currency = m.currency AND p.month = m.month
WINDOW w AS (PARTITION BY m.currency ORDER BY m.month);
COMMENT ON VIEW analytics.mrr_monthly IS 'MRR bridge per UTC month and currency: opening + new + expansion + contraction + churn + reactivation = closing (contraction and churn are negative).';
COMMENT ON COLUMN analytics.mrr_monthly.month IS 'First day of the UTC month.';
COMMENT ON COLUMN analytics.mrr_monthly.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.mrr_monthly.opening_mrr_cents IS 'MRR at the start of the month (= previous month''s closing).';
COMMENT ON COLUMN analytics.mrr_monthly.new_cents IS 'Sum of new movements (customers paying for the first time).';
COMMENT ON COLUMN analytics.mrr_monthly.expansion_cents IS 'Sum of expansions (positive).';
COMMENT ON COLUMN analytics.mrr_monthly.contraction_cents IS 'Sum of contractions (negative).';
COMMENT ON COLUMN analytics.mrr_monthly.churn_cents IS 'Sum of churn (negative).';
COMMENT ON COLUMN analytics.mrr_monthly.reactivation_cents IS 'Sum of reactivations (returning customers, positive).';
COMMENT ON COLUMN analytics.mrr_monthly.closing_mrr_cents IS 'MRR at the end of the month.';

CREATE VIEW analytics.cohort_retention AS
WITH cohorts AS (
  SELECT cohort_month, currency, sum(members) AS members, sum(new_cents) AS new_cents
  FROM {{schema}}.cohort_changes GROUP BY cohort_month, currency HAVING sum(members) > 0
), grid AS (
  SELECT c.*, k.k AS months_since_start, (c.cohort_month + k.k * interval '1 month')::date AS month
  FROM cohorts c,
       generate_series(0, ((extract(year FROM now() AT TIME ZONE 'UTC') * 12 + extract(month FROM now() AT TIME ZONE 'UTC'))
                          - (extract(year FROM c.cohort_month) * 12 + extract(month FROM c.cohort_month)))::int) AS k(k)
)
SELECT g.cohort_month, g.currency, g.months_since_start,
       g.members::bigint AS cohort_customers,
       (sum(COALESCE(ch.retained, 0)) OVER w)::bigint AS retained_customers,
       g.new_cents::bigint AS cohort_mrr_cents,
       (sum(COALESCE(ch.retained_mrr_cents, 0)) OVER w)::bigint AS retained_mrr_cents
FROM grid g LEFT JOIN {{schema}}.cohort_changes ch ON ch.cohort_month = g.cohort_month AND ch.currency = g.currency AND ch.month = g.month
WINDOW w AS (PARTITION BY g.cohort_month, g.currency ORDER BY g.months_since_start);
COMMENT ON VIEW analytics.cohort_retention IS 'Revenue cohorts: customers grouped by the UTC month of their first new movement (returning customers stay in it), and how many are still paying k months later.';
COMMENT ON COLUMN analytics.cohort_retention.cohort_month IS 'First day of the UTC month of the members'' first new movement.';
COMMENT ON COLUMN analytics.cohort_retention.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.cohort_retention.months_since_start IS 'k: retention is measured at the end of month cohort_month + k (0 = the cohort month itself).';
COMMENT ON COLUMN analytics.cohort_retention.cohort_customers IS 'Customers in the cohort.';
COMMENT ON COLUMN analytics.cohort_retention.retained_customers IS 'Members with MRR > 0 at the end of month cohort_month + k.';
COMMENT ON COLUMN analytics.cohort_retention.cohort_mrr_cents IS 'Sum of the members'' new movements (their starting MRR).';
COMMENT ON COLUMN analytics.cohort_retention.retained_mrr_cents IS 'Sum of the retained members'' MRR at the end of month cohort_month + k.';

-- The SaaS metrics of ARCHITECTURE §6, one row per row of mrr_monthly: every column from the exact
-- integers of the month's bridge and customer counts, rounded once (numeric round: half away from
-- zero), NULL where a denominator is 0. LTV is NULL too when the logo churn rate it divides by is
-- undefined (no customers at the month's start).
CREATE VIEW analytics.saas_metrics_monthly AS
WITH bounds AS (
  SELECT currency, min(month) AS first_month FROM {{schema}}.monthly_sums WHERE movements > 0 GROUP BY currency
), months AS (
  SELECT b.currency, m::date AS month
  FROM bounds b, generate_series(b.first_month, date_trunc('month', now() AT TIME ZONE 'UTC')::date, interval '1 month') AS m
), bridge AS (
  SELECT m.month, m.currency,
         (COALESCE(sum(p.new_cents + p.expansion_cents + p.contraction_cents + p.churn_cents + p.reactivation_cents) OVER w, 0)
          - COALESCE(p.new_cents + p.expansion_cents + p.contraction_cents + p.churn_cents + p.reactivation_cents, 0))::bigint AS o,
         COALESCE(sum(p.new_cents + p.expansion_cents + p.contraction_cents + p.churn_cents + p.reactivation_cents) OVER w, 0)::bigint AS closing,
         COALESCE(p.new_cents, 0)::bigint AS n, COALESCE(p.expansion_cents, 0)::bigint AS e, COALESCE(p.reactivation_cents, 0)::bigint AS r,
         COALESCE(p.contraction_cents, 0)::bigint AS c, COALESCE(p.churn_cents, 0)::bigint AS x,
         (COALESCE(sum(p.delta_customers) OVER w, 0) - COALESCE(p.delta_customers, 0))::bigint AS customers_opening,
         COALESCE(sum(p.delta_customers) OVER w, 0)::bigint AS customers_closing,
         COALESCE(p.new_count, 0)::bigint AS new_customers,
         COALESCE(p.churn_count, 0)::bigint AS churned_customers,
         COALESCE(p.reactivation_count, 0)::bigint AS reactivated_customers
  FROM months m LEFT JOIN {{schema}}.monthly_sums p ON p.currency = m.currency AND p.month = m.month
  WINDOW w AS (PARTITION BY m.currency ORDER BY m.month)
)
SELECT month, currency,
       o AS opening_mrr_cents,
       closing AS closing_mrr_cents,
       closing * 12 AS arr_cents,
       n + e + r + c + x AS net_new_mrr_cents,
       customers_opening, customers_closing, new_customers, churned_customers, reactivated_customers,
       CASE WHEN c + x = 0 THEN NULL ELSE round((n + e + r)::numeric / abs(c + x), 4) END AS quick_ratio,
       CASE WHEN o = 0 THEN NULL ELSE round(abs(c + x)::numeric / o, 4) END AS gross_mrr_churn_rate,
       CASE WHEN o = 0 THEN NULL ELSE round((abs(c + x) - e - r)::numeric / o, 4) END AS net_mrr_churn_rate,
       CASE WHEN o = 0 THEN NULL ELSE round((o - abs(c + x))::numeric / o, 4) END AS grr,
       CASE WHEN o = 0 THEN NULL ELSE round((o - abs(c + x) + e + r)::numeric / o, 4) END AS nrr,
       CASE WHEN customers_opening = 0 THEN NULL ELSE round(churned_customers::numeric / customers_opening, 4) END AS logo_churn_rate,
       CASE WHEN customers_closing = 0 THEN NULL ELSE round(closing::numeric / customers_closing)::bigint END AS arpa_cents,
       CASE WHEN customers_opening = 0 OR customers_closing = 0 OR churned_customers = 0 THEN NULL
            ELSE round(closing::numeric * customers_opening / (customers_closing * churned_customers))::bigint END AS ltv_cents
FROM bridge;
COMMENT ON VIEW analytics.saas_metrics_monthly IS 'SaaS metrics per UTC month and currency, one row per row of mrr_monthly (ARCHITECTURE §6 formulas): exact integers, rounded once; NULL where a denominator is 0.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.month IS 'First day of the UTC month.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.opening_mrr_cents IS 'O: MRR at the start of the month.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.closing_mrr_cents IS 'MRR at the end of the month.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.arr_cents IS 'closing × 12.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.net_new_mrr_cents IS 'N + E + R + C + X (C and X negative).';
COMMENT ON COLUMN analytics.saas_metrics_monthly.customers_opening IS 'Customers with MRR > 0 at the start of the month, in this currency.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.customers_closing IS 'Customers with MRR > 0 at the end of the month, in this currency.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.new_customers IS 'New movements in the month.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.churned_customers IS 'Churn movements in the month.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.reactivated_customers IS 'Reactivation movements in the month.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.quick_ratio IS '(N + E + R) / |C + X|, 4 decimals; NULL without contraction or churn.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.gross_mrr_churn_rate IS '|C + X| / O, 4 decimals; NULL when O = 0.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.net_mrr_churn_rate IS '(|C + X| − E − R) / O, 4 decimals (negative: net expansion); NULL when O = 0.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.grr IS 'Gross revenue retention, 1 − gross_mrr_churn_rate, 4 decimals.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.nrr IS 'Net revenue retention, 1 − net_mrr_churn_rate, 4 decimals.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.logo_churn_rate IS 'churned_customers / customers_opening, 4 decimals.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.arpa_cents IS 'Average revenue per account: closing / customers_closing, to the cent.';
COMMENT ON COLUMN analytics.saas_metrics_monthly.ltv_cents IS 'arpa / logo_churn_rate = closing × customers_opening / (customers_closing × churned_customers), to the cent; NULL without churn or customers.';

-- MRR in a reporting currency (rates from `eventline fx load`, public.fx_rates): each currency's
-- day-end MRR and movements converted at the day's rate (the latest loaded at or before it), and
-- the change of standing MRR's value when a rate moves as the FX line, never a movement. In whole
-- cents, mrr = previous mrr + movements + fx_impact exactly (the FX line takes the rounding).
CREATE VIEW analytics.mrr_reporting_daily AS
WITH bounds AS (
  SELECT min(day) AS first_day FROM {{schema}}.daily_sums WHERE movements > 0
), days AS (
  SELECT d::date AS day FROM bounds b, generate_series(b.first_day, (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d WHERE b.first_day IS NOT NULL
), currencies AS (
  SELECT DISTINCT currency FROM {{schema}}.daily_sums
), per_currency AS (
  SELECT d.day, c.currency, sum(COALESCE(p.delta_cents, 0)) OVER w AS mrr, COALESCE(p.delta_cents, 0) AS delta
  FROM days d CROSS JOIN currencies c LEFT JOIN {{schema}}.daily_sums p ON p.currency = c.currency AND p.day = d.day
  WINDOW w AS (PARTITION BY c.currency ORDER BY d.day)
), converted AS (
  SELECT pc.day, r.reporting_currency, pc.currency, pc.mrr, pc.delta,
         CASE WHEN pc.currency = r.reporting_currency THEN 1::numeric
              ELSE (SELECT f.rate FROM public.fx_rates f WHERE f.reporting_currency = r.reporting_currency AND f.currency = pc.currency AND f.day <= pc.day ORDER BY f.day DESC LIMIT 1) END AS rate
  FROM per_currency pc CROSS JOIN (SELECT DISTINCT reporting_currency FROM public.fx_rates) r
), per_day AS (
  SELECT day, reporting_currency,
         bool_and(rate IS NOT NULL OR (mrr = 0 AND delta = 0)) AS complete,
         round(sum(mrr * COALESCE(rate, 0))) AS mrr_cents,
         round(sum(delta * COALESCE(rate, 0))) AS movements_cents
  FROM converted GROUP BY day, reporting_currency
), with_previous AS (
  SELECT *, lag(mrr_cents) OVER w AS previous_cents, lag(complete) OVER w AS previous_complete, row_number() OVER w AS n
  FROM per_day WINDOW w AS (PARTITION BY reporting_currency ORDER BY day)
)
SELECT day, reporting_currency,
       CASE WHEN complete THEN mrr_cents::bigint END AS mrr_cents,
       CASE WHEN complete THEN movements_cents::bigint END AS movements_cents,
       CASE WHEN complete AND n = 1 THEN (mrr_cents - movements_cents)::bigint
            WHEN complete AND previous_complete THEN (mrr_cents - previous_cents - movements_cents)::bigint END AS fx_impact_cents,
       complete AS rates_complete
FROM with_previous;
COMMENT ON VIEW analytics.mrr_reporting_daily IS 'Day-end MRR converted into each reporting currency with loaded rates (eventline fx load): movements at the day''s rate, and the rate change of standing MRR as a separate FX line: mrr = previous mrr + movements + fx_impact.';
COMMENT ON COLUMN analytics.mrr_reporting_daily.day IS 'UTC calendar day.';
COMMENT ON COLUMN analytics.mrr_reporting_daily.reporting_currency IS 'The currency the rates convert into (EVENTLINE_REPORTING_CURRENCY when they were loaded).';
COMMENT ON COLUMN analytics.mrr_reporting_daily.mrr_cents IS 'Sum over currencies of day-end MRR × the day''s rate, in reporting minor units; NULL without a rate for a currency that has MRR.';
COMMENT ON COLUMN analytics.mrr_reporting_daily.movements_cents IS 'The day''s movements (all kinds), each currency''s at the day''s rate.';
COMMENT ON COLUMN analytics.mrr_reporting_daily.fx_impact_cents IS 'The change of standing MRR''s value from rate changes (and the cent of rounding): mrr − previous mrr − movements.';
COMMENT ON COLUMN analytics.mrr_reporting_daily.rates_complete IS 'Whether every currency with MRR or movements that day had a rate at or before it.';
