-- Dunning projection tables, per version in schema {{schema}}.
CREATE TABLE {{schema}}.decisions (
  event_id text PRIMARY KEY,
  case_id text NOT NULL,
  customer_id text NOT NULL,
  subscription_id text,
  step text NOT NULL,
  action text NOT NULL,
  due_at timestamptz NOT NULL,
  decided_at timestamptz NOT NULL,
  case_status text NOT NULL,
  amount_due bigint NOT NULL,
  currency text NOT NULL,
  attempt_count int NOT NULL,
  churn_risk numeric(4, 2),
  -- Revision 4: the decline code and its class, the subscription's list MRR, and what Stripe answered to an end action.
  decline_code text,
  decline_class text,
  mrr_cents bigint,
  outcome text
);
CREATE INDEX ON {{schema}}.decisions (case_id);

-- Steps whose time came (the scheduler's timers fired).
CREATE TABLE {{schema}}.fired (
  event_id text PRIMARY KEY,
  case_id text NOT NULL,
  step text NOT NULL,
  fired_at timestamptz NOT NULL
);
CREATE INDEX ON {{schema}}.fired (case_id);

-- One row per failed invoice, derived from its decisions and fired steps (store.ts deriveCases) in
-- the transaction that stores them: analytics.dunning_cases reads it without deriving at query time.
CREATE TABLE {{schema}}.cases (
  case_id text PRIMARY KEY,
  customer_id text NOT NULL,
  subscription_id text,
  opened_at timestamptz NOT NULL,
  status text NOT NULL,
  closed_at timestamptz,
  amount_due bigint NOT NULL,
  currency text NOT NULL,
  attempt_count int NOT NULL,
  churn_risk numeric(4, 2),
  reminders_sent int NOT NULL,
  last_reminder_at timestamptz,
  -- Revision 4.
  decline_code text,
  decline_class text NOT NULL DEFAULT 'unknown',
  mrr_cents bigint,
  -- The last reminder step that fired before the case closed (or so far): where a recovery happened.
  last_step text,
  end_action text,
  end_action_outcome text
);
-- Newest first: the dashboard's latest cases.
CREATE INDEX ON {{schema}}.cases (opened_at DESC);
