/**
 * The delivery projection: dispatch requests, dispatch outcomes and provider delivery events →
 * notifications with their timelines, unique messages per channel, and the analytics views
 * notifications, delivery_metrics_daily, messaging_costs, provider_health and template_experiments.
 * Safe to replay; order-independent.
 */
import { readFileSync } from 'node:fs';
import type { VersionedProjection } from '../../lib/projection.ts';
import { applyNotificationRecords, finishDelivery, loadNotificationRecords, type DeliveryTopic } from './store.ts';

const template = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
const tablesSql = template('./tables.sql');
const viewsSql = template('./views.sql');
const indexesSql = template('./indexes.sql');
const topics: readonly DeliveryTopic[] = ['notify.dispatch-requests.v1', 'notify.dispatches.v1', 'notify.delivery-events.v1'];

export const deliveryProjection: VersionedProjection<DeliveryTopic> = {
  name: 'delivery',
  // 2: running sums behind delivery_metrics_daily (the view read every message), and a bulk
  // rebuild; a running deployment rebuilds into a new version, in bulk, and switches.
  // 3: sends (provider, destination country, price, route) behind messaging_costs and provider_health.
  // 4: sends keep the template version, experiment and variant, behind template_experiments.
  revision: 4,
  topics,
  tables: (schema) => tablesSql.replaceAll('{{schema}}', schema),
  views: (schema) => viewsSql.replaceAll('{{schema}}', schema),
  indexes: (schema) => indexesSql.replaceAll('{{schema}}', schema),
  viewNames: ['notifications', 'delivery_metrics_daily', 'messaging_costs', 'provider_health', 'template_experiments'],
  forSchema: (schema) => ({
    name: 'delivery',
    topics,
    apply: (client, records) => applyNotificationRecords(client, schema, records),
  }),
  bulk: (schema) => ({
    load: (client, records) => loadNotificationRecords(client, schema, records),
    finish: (client, log) => finishDelivery(client, schema, log),
  }),
};
