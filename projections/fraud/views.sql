CREATE VIEW analytics.fraud_scores AS
SELECT occurred_at, customer_id, payment_id, source_event_type, amount AS amount_cents, currency, score, action,
       (SELECT array_agg(f ->> 'name' ORDER BY (f ->> 'weight')::numeric DESC) FROM jsonb_array_elements(factors) AS f) AS factor_names,
       factors, source_event_id, model_version
FROM {{schema}}.scores;
COMMENT ON VIEW analytics.fraud_scores IS 'The fraud score of every scored payment event, with its factors and the action taken.';
COMMENT ON COLUMN analytics.fraud_scores.occurred_at IS 'The payment event''s time.';
COMMENT ON COLUMN analytics.fraud_scores.customer_id IS 'Stripe customer id.';
COMMENT ON COLUMN analytics.fraud_scores.payment_id IS 'Charge id.';
COMMENT ON COLUMN analytics.fraud_scores.source_event_type IS 'charge.succeeded, charge.failed or charge.pending.';
COMMENT ON COLUMN analytics.fraud_scores.amount_cents IS 'Amount in minor units.';
COMMENT ON COLUMN analytics.fraud_scores.currency IS 'Lowercase ISO 4217 currency.';
COMMENT ON COLUMN analytics.fraud_scores.score IS 'Risk score 0..1: the sum of the factor weights, capped at 1.';
COMMENT ON COLUMN analytics.fraud_scores.action IS 'allow (< 0.3), review (< 0.5), require_3ds (< 0.85) or block.';
COMMENT ON COLUMN analytics.fraud_scores.factor_names IS 'Names of the factors that contributed, heaviest first.';
COMMENT ON COLUMN analytics.fraud_scores.factors IS 'Each factor with its weight and a human-readable detail (JSON).';
COMMENT ON COLUMN analytics.fraud_scores.source_event_id IS 'The Stripe event scored.';
COMMENT ON COLUMN analytics.fraud_scores.model_version IS 'Version of the scoring rules.';
