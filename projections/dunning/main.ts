/**
 * The dunning projection: billing.dunning-steps.v1 → analytics.dunning_cases. Decisions and fired
 * timers are kept once each (by event id); each case is derived from its facts in the same
 * transaction (store.ts). Safe to replay; order-independent.
 * The hosted invoice URL of a decision is not kept: it is a bearer link to pay or view the invoice,
 * and the read model has no use for it.
 */
import { readFileSync } from 'node:fs';
import type { VersionedProjection } from '../../lib/projection.ts';
import { applyDunningRecords, finishDunning, loadDunningFacts, type DunningTopic } from './store.ts';

const template = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
const tablesSql = template('./tables.sql');
const viewsSql = template('./views.sql');
const topics: readonly DunningTopic[] = ['billing.dunning-steps.v1'];

export const dunningProjection: VersionedProjection<DunningTopic> = {
  name: 'dunning',
  // 2: analytics.dunning_cases no longer shows hosted_invoice_url (a bearer link). Views are made
  // when a version is activated, so a running deployment gets the new view by a rebuild into a new
  // version; migrations/001 withdraws the old view from analysts until then.
  // 3: the cases are a table kept by the projection (the view derived every case at query time),
  // and a bulk rebuild; a running deployment rebuilds into a new version and switches.
  // 4: decline code and class, list MRR, the last reminder before the close and the end action's
  // outcome on every case, and analytics.dunning_recovery.
  revision: 4,
  topics,
  tables: (schema) => tablesSql.replaceAll('{{schema}}', schema),
  views: (schema) => viewsSql.replaceAll('{{schema}}', schema),
  viewNames: ['dunning_cases', 'dunning_recovery'],
  forSchema: (schema) => ({
    name: 'dunning',
    topics,
    apply: (client, records) => applyDunningRecords(client, schema, records),
  }),
  bulk: (schema) => ({
    load: async (client, records) => {
      await loadDunningFacts(client, schema, records);
    },
    finish: (client) => finishDunning(client, schema),
  }),
};
