/**
 * The fraud projection: risk.fraud-scores.v1 → analytics.fraud_scores. One row per scored event
 * (duplicates are no-ops). Safe to replay.
 */
import { readFileSync } from 'node:fs';
import type { VersionedProjection } from '../../lib/projection.ts';

const template = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
const tablesSql = template('./tables.sql');
const viewsSql = template('./views.sql');

export const fraudProjection: VersionedProjection<'risk.fraud-scores.v1'> = {
  name: 'fraud',
  revision: 1,
  topics: ['risk.fraud-scores.v1'],
  tables: (schema) => tablesSql.replaceAll('{{schema}}', schema),
  views: (schema) => viewsSql.replaceAll('{{schema}}', schema),
  viewNames: ['fraud_scores'],
  forSchema: (schema) => ({
    name: 'fraud',
    topics: ['risk.fraud-scores.v1'],
    async apply(client, records) {
      // CardFlagged records feed the fraud processor's state; the scores table holds scores only.
      const rows = [...new Map(records.flatMap((r) => (r.record === 'FraudScored' ? [[r.value.event_id, r.value] as const] : []))).values()];
      if (rows.length === 0) return;
      await client.query(
        `INSERT INTO ${schema}.scores (event_id, occurred_at, customer_id, source_event_id, source_event_type, payment_id, amount, currency, score, action, factors, model_version)
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::numeric[], $10::text[], $11::jsonb[], $12::text[])
         ON CONFLICT DO NOTHING`,
        [
          rows.map((r) => r.event_id),
          rows.map((r) => new Date(r.occurred_at)),
          rows.map((r) => r.customer_id),
          rows.map((r) => r.source_event_id),
          rows.map((r) => r.source_event_type),
          rows.map((r) => r.payment_id),
          rows.map((r) => r.amount),
          rows.map((r) => r.currency),
          rows.map((r) => r.score),
          rows.map((r) => r.action),
          rows.map((r) => JSON.stringify(r.factors)),
          rows.map((r) => r.model_version),
        ],
      );
    },
  }),
};
