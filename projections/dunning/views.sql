CREATE VIEW analytics.dunning_cases AS
SELECT case_id AS invoice_id, customer_id, subscription_id, opened_at, status, closed_at,
       amount_due AS amount_due_cents, currency, attempt_count, churn_risk, reminders_sent, last_reminder_at,
       decline_code, decline_class, mrr_cents, last_step, end_action, end_action_outcome
FROM {{schema}}.cases;
COMMENT ON VIEW analytics.dunning_cases IS 'One row per failed invoice handled by dunning: when it opened, how it ended (recovered, lost, exhausted) or that it is still open, and the reminders sent. The hosted invoice URL is left out: it is a bearer link that pays or shows the invoice.';
COMMENT ON COLUMN analytics.dunning_cases.invoice_id IS 'The Stripe invoice whose payment failed (the case id).';
COMMENT ON COLUMN analytics.dunning_cases.customer_id IS 'Stripe customer id.';
COMMENT ON COLUMN analytics.dunning_cases.subscription_id IS 'The invoice''s subscription.';
COMMENT ON COLUMN analytics.dunning_cases.opened_at IS 'Time of the first payment failure.';
COMMENT ON COLUMN analytics.dunning_cases.status IS 'open, recovered (invoice paid), lost (subscription canceled or unpaid) or exhausted (every reminder sent, still unpaid).';
COMMENT ON COLUMN analytics.dunning_cases.closed_at IS 'When the case closed.';
COMMENT ON COLUMN analytics.dunning_cases.amount_due_cents IS 'Amount due in minor units.';
COMMENT ON COLUMN analytics.dunning_cases.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.dunning_cases.attempt_count IS 'Payment attempts when the case opened.';
COMMENT ON COLUMN analytics.dunning_cases.churn_risk IS 'Churn-risk score 0..1 at the failure (above 0.7 alerts the retention team).';
COMMENT ON COLUMN analytics.dunning_cases.reminders_sent IS 'Reminder steps whose time came (day 0, 3, 7, 14) while the case was open.';
COMMENT ON COLUMN analytics.dunning_cases.last_reminder_at IS 'When the latest reminder step fired.';
COMMENT ON COLUMN analytics.dunning_cases.decline_code IS 'The issuer''s decline code of the failure that opened the case (last_payment_error.decline_code), when Stripe gave one.';
COMMENT ON COLUMN analytics.dunning_cases.decline_class IS 'hard (lost, stolen, expired card…: a new payment method is asked for at once), authentication (3D Secure to complete), soft (retries may succeed), unknown (cases opened before the class was recorded).';
COMMENT ON COLUMN analytics.dunning_cases.mrr_cents IS 'The subscription''s list MRR when the case opened (Σ unit amount × quantity per month, no discounts or tiers); null when unknown.';
COMMENT ON COLUMN analytics.dunning_cases.last_step IS 'The last reminder step (day_0, day_3, day_7, day_14) that fired before the case closed, or so far; null when none did.';
COMMENT ON COLUMN analytics.dunning_cases.end_action IS 'The end step''s action decided when the case opened: mark_exhausted (record only), cancel_subscription or mark_uncollectible.';
COMMENT ON COLUMN analytics.dunning_cases.end_action_outcome IS 'What Stripe answered to the end action: done, refused, skipped; null when none ran.';

CREATE VIEW analytics.dunning_recovery AS
SELECT (date_trunc('month', opened_at AT TIME ZONE 'UTC'))::date AS month,
       currency,
       decline_class,
       COALESCE(last_step, 'none') AS step,
       count(*) AS cases,
       count(*) FILTER (WHERE status = 'recovered') AS recovered,
       round(count(*) FILTER (WHERE status = 'recovered')::numeric / count(*), 4) AS recovery_rate,
       COALESCE(sum(amount_due) FILTER (WHERE status = 'recovered'), 0) AS recovered_amount_cents,
       COALESCE(sum(mrr_cents) FILTER (WHERE status = 'recovered'), 0) AS recovered_mrr_cents,
       count(*) FILTER (WHERE status = 'recovered' AND mrr_cents IS NULL) AS recovered_without_mrr,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - opened_at) / 86400) FILTER (WHERE status = 'recovered') AS median_days_to_recover
FROM {{schema}}.cases
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW analytics.dunning_recovery IS 'Dunning recovery by the month a case opened (UTC), currency, decline class and the last reminder step that fired before the case closed (or so far): how many cases, how many recovered (the invoice paid), the amount and the list MRR they brought back, and the median days from the failure to the payment.';
COMMENT ON COLUMN analytics.dunning_recovery.step IS 'day_0, day_3, day_7, day_14: the last reminder that went out before the case closed (a case recovered after the day-3 reminder and before day 7 counts under day_3); none when it closed before any.';
COMMENT ON COLUMN analytics.dunning_recovery.recovery_rate IS 'recovered / cases, 4 decimals.';
COMMENT ON COLUMN analytics.dunning_recovery.recovered_amount_cents IS 'Σ amount due of the recovered cases (minor units of currency).';
COMMENT ON COLUMN analytics.dunning_recovery.recovered_mrr_cents IS 'Σ list MRR of the recovered cases'' subscriptions when they opened; recovered_without_mrr counts those whose MRR is unknown (left out of the sum).';
COMMENT ON COLUMN analytics.dunning_recovery.median_days_to_recover IS 'Median of (closed_at - opened_at) in days over the recovered cases (continuous percentile); null when none recovered.';
COMMENT ON COLUMN analytics.dunning_recovery.month IS 'The first day of the month (UTC) the cases opened in.';
COMMENT ON COLUMN analytics.dunning_recovery.currency IS 'Lowercase ISO 4217 currency of the invoices.';
COMMENT ON COLUMN analytics.dunning_recovery.decline_class IS 'hard, authentication, soft, or unknown (cases opened before the class was recorded).';
COMMENT ON COLUMN analytics.dunning_recovery.cases IS 'Cases in the group.';
COMMENT ON COLUMN analytics.dunning_recovery.recovered IS 'Cases of the group whose invoice was paid (status recovered).';
COMMENT ON COLUMN analytics.dunning_recovery.recovered_without_mrr IS 'Recovered cases whose subscription''s MRR is unknown, left out of recovered_mrr_cents.';
