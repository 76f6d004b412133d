-- MRR projection tables, created per version in schema {{schema}} (see lib/projection-versions.ts).
-- Their secondary indexes are in indexes.sql: a rebuild creates them after its bulk load.

-- Every subscription version received: (subscription, created, event) → normalized state.
-- Inserting the same event twice is a no-op; a customer's MRR is recomputed from these.
CREATE TABLE {{schema}}.subscription_versions (
  subscription_id text NOT NULL,
  created_at timestamptz NOT NULL,
  event_id text NOT NULL,
  customer_id text NOT NULL,
  state jsonb NOT NULL,
  -- Where the event is on stripe.events.v1 (the first copy applied): the dashboard reads it there.
  kafka_partition int,
  kafka_offset bigint,
  PRIMARY KEY (subscription_id, created_at, event_id)
);

-- Discount definitions (customer.discount.*), for subscriptions that reference discounts by id.
CREATE TABLE {{schema}}.discount_versions (
  discount_id text NOT NULL,
  created_at timestamptz NOT NULL,
  event_id text NOT NULL,
  customer_id text,
  coupon_id text,
  terms jsonb NOT NULL,
  PRIMARY KEY (discount_id, created_at, event_id)
);

-- The lines of invoice versions that may be usage (metered, or a price the line does not describe);
-- analytics.usage_revenue_monthly reads those of each invoice's latest version.
CREATE TABLE {{schema}}.invoice_lines (
  invoice_id text NOT NULL,
  event_id text NOT NULL,
  line_id text NOT NULL,
  customer_id text,
  price_id text,
  metered boolean,
  amount_cents bigint NOT NULL,
  currency text,
  period_start timestamptz,
  PRIMARY KEY (invoice_id, event_id, line_id)
);

-- Prices some subscription of the customer bills as metered usage (a set: versions only add to it).
CREATE TABLE {{schema}}.metered_prices (
  customer_id text NOT NULL,
  price_id text NOT NULL,
  PRIMARY KEY (customer_id, price_id)
);

-- Tiers of tiered prices that webhooks sent without them, fetched through Stripe's API and kept on
-- stripe.events.v1 (eventline.price_fetched records, one per customer using the price).
CREATE TABLE {{schema}}.price_tiers (
  customer_id text NOT NULL,
  price_id text NOT NULL,
  event_id text NOT NULL,
  tiers jsonb NOT NULL,
  PRIMARY KEY (customer_id, price_id)
);

-- Coupon definitions (coupon.*), for discounts that reference their coupon by id (clover+).
CREATE TABLE {{schema}}.coupon_versions (
  coupon_id text NOT NULL,
  created_at timestamptz NOT NULL,
  event_id text NOT NULL,
  terms jsonb,
  PRIMARY KEY (coupon_id, created_at, event_id)
);

-- Every version of every invoice (analytics.invoices derives each invoice from them).
CREATE TABLE {{schema}}.invoice_versions (
  invoice_id text NOT NULL,
  created_at timestamptz NOT NULL,
  event_id text NOT NULL,
  customer_id text,
  subscription_id text,
  status text,
  amount_due_cents bigint,
  amount_paid_cents bigint,
  currency text,
  attempt_count int,
  decline_code text,
  PRIMARY KEY (invoice_id, created_at, event_id)
);

-- Each invoice as it stands: its latest version, and the decline code of the latest that had one.
CREATE TABLE {{schema}}.invoices (
  invoice_id text NOT NULL,
  customer_id text,
  subscription_id text,
  status text,
  amount_due_cents bigint,
  amount_paid_cents bigint,
  currency text,
  attempt_count int,
  last_decline_code text,
  updated_at timestamptz NOT NULL,
  last_event_id text NOT NULL
);

-- Each change of a customer's MRR per currency; replaced whole when the customer is recomputed.
CREATE TABLE {{schema}}.movements (
  customer_id text NOT NULL,
  seq int NOT NULL,
  currency text NOT NULL,
  occurred_at timestamptz NOT NULL,
  movement text NOT NULL CHECK (movement IN ('new', 'expansion', 'contraction', 'churn', 'reactivation')),
  delta_cents bigint NOT NULL,
  mrr_before_cents bigint NOT NULL,
  mrr_after_cents bigint NOT NULL,
  stripe_event_id text NOT NULL
);

-- Each change of how a customer's MRR per currency splits: past due, and set to cancel while it
-- still counts (mrr_status_daily); replaced whole with the movements.
CREATE TABLE {{schema}}.status_changes (
  customer_id text NOT NULL,
  seq int NOT NULL,
  currency text NOT NULL,
  occurred_at timestamptz NOT NULL,
  past_due_before_cents bigint NOT NULL,
  past_due_after_cents bigint NOT NULL,
  scheduled_before_cents bigint NOT NULL,
  scheduled_after_cents bigint NOT NULL,
  stripe_event_id text NOT NULL
);

-- Each movement broken down by the subscriptions whose MRR changed at its event (mrr_lineage);
-- replaced whole with the movements. seq: the movement's.
CREATE TABLE {{schema}}.lineage (
  customer_id text NOT NULL,
  seq int NOT NULL,
  currency text NOT NULL,
  occurred_at timestamptz NOT NULL,
  movement text NOT NULL,
  subscription_id text NOT NULL,
  subscription_before_cents bigint NOT NULL,
  subscription_after_cents bigint NOT NULL,
  stripe_event_id text NOT NULL
);

-- Each subscription as it stands: its latest version and its MRR now (analytics.subscriptions);
-- replaced with the customer's movements.
CREATE TABLE {{schema}}.subscriptions (
  subscription_id text NOT NULL,
  customer_id text NOT NULL,
  status text NOT NULL,
  currency text NOT NULL,
  items jsonb NOT NULL,
  mrr_cents bigint NOT NULL,
  trial_end timestamptz,
  cancel_at_period_end boolean NOT NULL,
  cancel_at timestamptz,
  canceled_at timestamptz,
  updated_at timestamptz NOT NULL,
  last_event_id text NOT NULL,
  trial_started_at timestamptz,
  converted_at timestamptz
);

CREATE TABLE {{schema}}.customer_mrr (
  customer_id text NOT NULL,
  currency text NOT NULL,
  mrr_cents bigint NOT NULL,
  first_paid_at timestamptz,
  last_movement_at timestamptz NOT NULL
);

-- Running sums the daily, monthly and cohort views add up (projections/mrr/aggregates.ts). A
-- customer's recompute subtracts its old movements' contributions and adds the new ones in the
-- same transaction, so these always equal what `movements` gives; `movements` counts the rows
-- behind each sum (0: nothing happened then any more).
CREATE TABLE {{schema}}.daily_sums (
  currency text NOT NULL,
  day date NOT NULL,
  movements int NOT NULL,
  delta_cents bigint NOT NULL,
  delta_customers int NOT NULL,
  delta_past_due_cents bigint NOT NULL,
  delta_scheduled_churn_cents bigint NOT NULL,
  PRIMARY KEY (currency, day)
);

CREATE TABLE {{schema}}.monthly_sums (
  currency text NOT NULL,
  month date NOT NULL,
  movements int NOT NULL,
  new_cents bigint NOT NULL,
  expansion_cents bigint NOT NULL,
  contraction_cents bigint NOT NULL,
  churn_cents bigint NOT NULL,
  reactivation_cents bigint NOT NULL,
  new_count int NOT NULL,
  expansion_count int NOT NULL,
  contraction_count int NOT NULL,
  churn_count int NOT NULL,
  reactivation_count int NOT NULL,
  delta_customers int NOT NULL,
  PRIMARY KEY (currency, month)
);

-- Per cohort (UTC month of a customer's first new movement) and month: members joining (at the
-- cohort month), their new MRR, and the change of retained customers and MRR at that month's end.
CREATE TABLE {{schema}}.cohort_changes (
  cohort_month date NOT NULL,
  currency text NOT NULL,
  month date NOT NULL,
  members int NOT NULL,
  new_cents bigint NOT NULL,
  retained int NOT NULL,
  retained_mrr_cents bigint NOT NULL,
  PRIMARY KEY (cohort_month, currency, month)
);
