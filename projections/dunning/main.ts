/**
 * The dunning projection: billing.dunning-steps.v1 → analytics.dunning_cases. Decisions and fired
 * timers are kept once each (by event id); the case view derives from them. Safe to replay.
 * The hosted invoice URL of a decision is not kept: it is a bearer link to pay or view the invoice,
 * and the read model has no use for it.
 */
import { readFileSync } from 'node:fs';
import type { VersionedProjection } from '../../lib/projection.ts';
import type { DunningStepDecided, DunningStepDue } from '../../lib/topics.ts';

const template = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
const tablesSql = template('./tables.sql');
const viewsSql = template('./views.sql');

export const dunningProjection: VersionedProjection<'billing.dunning-steps.v1'> = {
  name: 'dunning',
  // 2: analytics.dunning_cases no longer shows hosted_invoice_url (a bearer link). Views are made
  // when a version is activated, so a running deployment gets the new view by a rebuild into a new
  // version; migrations/001 withdraws the old view from analysts until then.
  revision: 2,
  topics: ['billing.dunning-steps.v1'],
  tables: (schema) => tablesSql.replaceAll('{{schema}}', schema),
  views: (schema) => viewsSql.replaceAll('{{schema}}', schema),
  viewNames: ['dunning_cases'],
  forSchema: (schema) => ({
    name: 'dunning',
    topics: ['billing.dunning-steps.v1'],
    async apply(client, records) {
      const decided = new Map<string, DunningStepDecided>();
      const fired = new Map<string, DunningStepDue>();
      for (const r of records) {
        if (r.record === 'DunningStepDecided') decided.set(r.value.event_id, r.value);
        else fired.set(r.value.event_id, r.value);
      }
      const d = [...decided.values()];
      if (d.length > 0) {
        await client.query(
          `INSERT INTO ${schema}.decisions (event_id, case_id, customer_id, subscription_id, step, action, due_at, decided_at, case_status, amount_due, currency, attempt_count, churn_risk)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::bigint[], $11::text[], $12::int[], $13::numeric[])
           ON CONFLICT DO NOTHING`,
          [
            d.map((x) => x.event_id),
            d.map((x) => x.case_id),
            d.map((x) => x.customer_id),
            d.map((x) => x.subscription_id),
            d.map((x) => x.step),
            d.map((x) => x.action),
            d.map((x) => new Date(x.due_at)),
            d.map((x) => new Date(x.occurred_at)),
            d.map((x) => x.case_status),
            d.map((x) => x.amount_due),
            d.map((x) => x.currency),
            d.map((x) => x.attempt_count),
            d.map((x) => x.churn_risk),
          ],
        );
      }
      const f = [...fired.values()];
      if (f.length > 0) {
        await client.query(
          `INSERT INTO ${schema}.fired (event_id, case_id, step, fired_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
          [f.map((x) => x.event_id), f.map((x) => x.case_id), f.map((x) => x.step), f.map((x) => new Date(x.occurred_at))],
        );
      }
    },
  }),
};
