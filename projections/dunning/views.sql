CREATE VIEW analytics.dunning_cases AS
SELECT case_id AS invoice_id, customer_id, subscription_id, opened_at, status, closed_at,
       amount_due AS amount_due_cents, currency, attempt_count, churn_risk, reminders_sent, last_reminder_at
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
