/**
 * Prometheus metrics for one process, served at GET /metrics. Every metric Eventline records is
 * declared here, so names and labels stay consistent.
 */
import client from 'prom-client';

export const metricsRegistry = new client.Registry();
client.collectDefaultMetrics({ register: metricsRegistry, prefix: 'eventline_process_' });

export const metrics = {
  httpRequests: new client.Counter({
    name: 'eventline_http_requests_total',
    help: 'HTTP requests by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [metricsRegistry],
  }),
  httpDuration: new client.Histogram({
    name: 'eventline_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [metricsRegistry],
  }),
  appends: new client.Counter({
    name: 'eventline_appends_total',
    help: 'Records appended to Kafka by logical topic and result: acked, failed, or acked_late (reported as failed, acknowledged afterwards).',
    labelNames: ['topic', 'result'] as const,
    registers: [metricsRegistry],
  }),
  appendDuration: new client.Histogram({
    name: 'eventline_append_duration_seconds',
    help: 'Time from append to broker acknowledgement (acks=all).',
    labelNames: ['topic'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10],
    registers: [metricsRegistry],
  }),
  ingestRejections: new client.Counter({
    name: 'eventline_ingest_rejections_total',
    help: 'Requests rejected before anything was appended, by route and reason.',
    labelNames: ['route', 'reason'] as const,
    registers: [metricsRegistry],
  }),
  consumed: new client.Counter({
    name: 'eventline_consumed_records_total',
    help: 'Records consumed by consumer group and logical topic.',
    labelNames: ['group', 'topic'] as const,
    registers: [metricsRegistry],
  }),
  consumerLag: new client.Gauge({
    name: 'eventline_consumer_lag',
    help: 'Records between a consumer group position and the partition end, as of its last batch.',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [metricsRegistry],
  }),
  batchDuration: new client.Histogram({
    name: 'eventline_batch_duration_seconds',
    help: 'Time to process one fetched batch, by consumer group.',
    labelNames: ['group'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metricsRegistry],
  }),
  deadLetters: new client.Counter({
    name: 'eventline_dead_letters_total',
    help: 'Records sent to a dead-letter topic, by consumer group and reason.',
    labelNames: ['group', 'topic', 'reason'] as const,
    registers: [metricsRegistry],
  }),
  processorPaused: new client.Gauge({
    name: 'eventline_processor_paused',
    help: '1 while a processor is paused because its state is being rebuilt from the topics.',
    labelNames: ['processor'] as const,
    registers: [metricsRegistry],
  }),
  rebuilds: new client.Counter({
    name: 'eventline_processor_rebuilds_total',
    help: 'Rebuilds of a processor state from the topics completed by this process.',
    labelNames: ['processor'] as const,
    registers: [metricsRegistry],
  }),
  unknownSymbols: new client.Counter({
    name: 'eventline_unknown_symbols_total',
    help: "Closed-vocabulary values this version does not know (a newer producer's), read as the field's default symbol; by logical topic, record and field.",
    labelNames: ['topic', 'record', 'field'] as const,
    registers: [metricsRegistry],
  }),
  skipped: new client.Counter({
    name: 'eventline_skipped_records_total',
    help: 'Records skipped by a consumer (record types this version does not know).',
    labelNames: ['group', 'topic', 'reason'] as const,
    registers: [metricsRegistry],
  }),
};
