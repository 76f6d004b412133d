/**
 * The inbox projection: dispatch requests, in_app `sent` outcomes and in_app state changes → each
 * user's in-app feed (items with seen, read and archived times) behind GET /v1/users/:userId/inbox,
 * and the analytics view inbox_items. Safe to replay; order-independent (README.md).
 */
import { readFileSync } from 'node:fs';
import type { VersionedProjection } from '../../lib/projection.ts';
import { applyInboxRecords, type InboxTopic } from './store.ts';

const template = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
const tablesSql = template('./tables.sql');
const viewsSql = template('./views.sql');
const indexesSql = template('./indexes.sql');
const topics: readonly InboxTopic[] = ['notify.dispatch-requests.v1', 'notify.dispatches.v1', 'notify.delivery-events.v1'];

export const inboxProjection: VersionedProjection<InboxTopic> = {
  name: 'inbox',
  revision: 1,
  topics,
  tables: (schema) => tablesSql.replaceAll('{{schema}}', schema),
  views: (schema) => viewsSql.replaceAll('{{schema}}', schema),
  indexes: (schema) => indexesSql.replaceAll('{{schema}}', schema),
  viewNames: ['inbox_items'],
  forSchema: (schema) => ({
    name: 'inbox',
    topics,
    apply: (client, records) => applyInboxRecords(client, schema, records),
  }),
};
