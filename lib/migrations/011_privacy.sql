-- Crypto-shredding (ADR 0018, lib/privacy): the per-subject data keys that seal personal data in
-- Kafka records and read models, wrapped by EVENTLINE_MASTER_KEY; which user each Stripe customer
-- belongs to; and the erasures asked for. Nothing here is readable by the analyst role.
CREATE SCHEMA IF NOT EXISTS privacy;

-- One row: a box sealed with the master key, so a process started with another key stops at once.
CREATE TABLE IF NOT EXISTS privacy.master_key (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  fingerprint text NOT NULL,
  check_box bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A subject is user:<user id> or customer:<Stripe customer id>. wrapped_key is NULL once destroyed:
-- the row stays as a tombstone, so the subject is never given a new key by a late record.
CREATE TABLE IF NOT EXISTS privacy.subject_keys (
  subject text PRIMARY KEY,
  wrapped_key bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz,
  erasure_id text,
  CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

-- A Stripe customer and the user it belongs to (its metadata.user_id, or a UserSignedUp's
-- stripe_customer_id): erasing the user erases the customer's key too.
CREATE TABLE IF NOT EXISTS privacy.subject_links (
  subject text PRIMARY KEY,
  user_id text NOT NULL,
  linked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS subject_links_user ON privacy.subject_links (user_id);

-- One erasure per user (asking again returns the same one); steps records what each step did, so a
-- restarted erasure continues where it stopped.
CREATE TABLE IF NOT EXISTS privacy.erasures (
  erasure_id text PRIMARY KEY,
  user_id text NOT NULL UNIQUE,
  requested_by text NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
  subjects text[] NOT NULL DEFAULT '{}',
  steps jsonb NOT NULL DEFAULT '{}',
  completed_at timestamptz
);
