/**
 * The fraud projection: risk.fraud-scores.v1 → analytics.fraud_scores. One row per scored event
 * (duplicates are no-ops). Safe to replay.
 */
import { readFileSync } from 'node:fs';
import { recordset, recordsetParam, valuesInKeyOrder, type DbClient } from '../../lib/db.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { VersionedProjection } from '../../lib/projection.ts';

const template = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
const tablesSql = template('./tables.sql');
const viewsSql = template('./views.sql');
const indexesSql = template('./indexes.sql');
const SCORE_COLUMNS = {
  event_id: 'text', occurred_at: 'timestamptz', customer_id: 'text', source_event_id: 'text', source_event_type: 'text', payment_id: 'text',
  amount: 'bigint', currency: 'text', score: 'numeric', action: 'text', factors: 'jsonb', model_version: 'text',
};

/** One row per score (duplicates are no-ops); CardFlagged records feed the fraud processor's state, not this table. */
async function insertScores(client: DbClient, schema: string, records: readonly Incoming<'risk.fraud-scores.v1'>[]): Promise<void> {
  const rows = valuesInKeyOrder(new Map(records.flatMap((r) => (r.record === 'FraudScored' ? [[r.value.event_id, r.value] as const] : []))));
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${schema}.scores (event_id, occurred_at, customer_id, source_event_id, source_event_type, payment_id, amount, currency, score, action, factors, model_version)
     SELECT * FROM ${recordset(SCORE_COLUMNS, 1)} ON CONFLICT DO NOTHING`,
    [
      recordsetParam(
        rows.map((r) => ({
          event_id: r.event_id, occurred_at: new Date(r.occurred_at), customer_id: r.customer_id, source_event_id: r.source_event_id, source_event_type: r.source_event_type,
          payment_id: r.payment_id, amount: r.amount, currency: r.currency, score: r.score, action: r.action, factors: r.factors, model_version: r.model_version,
        })),
      ),
    ],
  );
}

export const fraudProjection: VersionedProjection<'risk.fraud-scores.v1'> = {
  name: 'fraud',
  // Still 1: a bulk rebuild builds the same secondary indexes after the load (named now), and the
  // tables and views are unchanged, so an active version has nothing to rebuild for.
  revision: 1,
  topics: ['risk.fraud-scores.v1'],
  tables: (schema) => tablesSql.replaceAll('{{schema}}', schema),
  views: (schema) => viewsSql.replaceAll('{{schema}}', schema),
  indexes: (schema) => indexesSql.replaceAll('{{schema}}', schema),
  viewNames: ['fraud_scores'],
  forSchema: (schema) => ({
    name: 'fraud',
    topics: ['risk.fraud-scores.v1'],
    apply: (client, records) => insertScores(client, schema, records),
  }),
  // Scores are facts with nothing derived: a bulk rebuild stores them without the secondary
  // indexes, built once after the load.
  bulk: (schema) => ({
    load: (client, records) => insertScores(client, schema, records),
    finish: async () => undefined,
  }),
};
