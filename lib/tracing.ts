/**
 * Tracing with OpenTelemetry: one webhook is one trace, through its append, the processors that
 * decide on it, the dispatch and the provider call, across processes, because the trace context
 * travels in each Kafka record's headers (W3C `traceparent` / `tracestate`).
 *
 * Off unless an OTLP endpoint is set (config.tracing): the API's no-op tracer then answers every
 * call, no header is written, and the SDK is never loaded. On, the Node SDK is configured from the
 * standard OTEL_* variables (protocol, headers, sampler, resource attributes; it reads them from the
 * process environment itself), with traces only: metrics stay on /metrics, logs on stdout, where
 * each line written inside a span carries its trace_id and span_id (lib/log.ts).
 *
 * Spans never carry personal data: ids, topics, partitions, offsets, record types, statuses.
 */
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type SpanKind, type Context, type Span } from '@opentelemetry/api';
import type { Config } from './config.ts';
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

export { SpanKind, SpanStatusCode } from '@opentelemetry/api';

/** The headers of a record that carry its trace context. */
export type TraceHeaders = Readonly<Record<string, string>>;
const TRACE_HEADER_NAMES = ['traceparent', 'tracestate'] as const;

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is buffered and stops the exporter. */
  shutdown(): Promise<void>;
}

const off: Tracing = { enabled: false, shutdown: async () => undefined };
let started: Tracing | null = null;

/**
 * Starts the SDK once per process when config.tracing has an endpoint; otherwise returns a tracing
 * that is off. Spans begun before it starts are no-ops.
 */
export async function startTracing(config: Pick<Config, 'tracing'>, log: Logger): Promise<Tracing> {
  if (started) return started;
  const { endpoint, serviceName } = config.tracing;
  if (endpoint === null) return off;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    serviceName,
    // Traces only, exported as OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_* say (default OTLP http/protobuf).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  log.info({ endpoint, serviceName }, 'tracing: exporting spans by OTLP');
  started = {
    enabled: true,
    shutdown: () => sdk.shutdown().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'tracing: final export failed')),
  };
  return started;
}

/** Whether this process exports spans (startTracing found an endpoint). */
export function tracingOn(): boolean {
  return started !== null;
}

function tracer() {
  return trace.getTracer('eventline');
}

/** The trace context of `ctx` (default: the active one) as record headers; empty when tracing is off or no span is active. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** Only the trace headers among a record's headers (undefined when it has none). */
export function traceHeadersOf(headers: Readonly<Record<string, string>> | undefined): TraceHeaders | undefined {
  if (!headers?.traceparent) return undefined;
  const out: Record<string, string> = {};
  for (const name of TRACE_HEADER_NAMES) if (headers[name] !== undefined) out[name] = headers[name];
  return out;
}

/** The context a record's (or a request's) headers carry, for the span that handles it. */
export function contextFrom(headers: Readonly<Record<string, string | string[] | undefined>> | undefined): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers) : ROOT_CONTEXT;
}

/** Whether a span is active here (e.g. an append made while handling a request or a record). */
export function inTrace(): boolean {
  const span = trace.getSpan(context.active());
  return span !== undefined && trace.isSpanContextValid(span.spanContext());
}

export interface SpanOptions {
  readonly kind: SpanKind;
  readonly attributes?: Attributes;
  /** The parent: a record's or request's context; default the active context. */
  readonly parent?: Context;
}

/** Starts a span (not made active); the caller ends it. */
export function beginSpan(name: string, options: SpanOptions): { span: Span; context: Context } {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind, ...(options.attributes ? { attributes: options.attributes } : {}) }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Marks a span failed with the error's message (never its data). */
export function failSpan(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
  if (err instanceof Error) span.recordException({ name: err.name, message: err.message });
}

/** Runs `fn` in a new active span, ended when `fn` settles, marked failed when it throws. */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const { span, context: ctx } = beginSpan(name, options);
  try {
    return await context.with(ctx, () => fn(span));
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Runs `fn` with `ctx` active. */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** The attributes of a consumed or produced record (OpenTelemetry's messaging conventions). */
export function messagingAttributes(topic: string, extra: { partition?: number; offset?: string; group?: string; operation: 'send' | 'process'; count?: number }): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.destination.name': topic,
    'messaging.operation.type': extra.operation,
    ...(extra.partition !== undefined ? { 'messaging.destination.partition.id': String(extra.partition) } : {}),
    ...(extra.offset !== undefined ? { 'messaging.kafka.offset': Number(extra.offset) } : {}),
    ...(extra.group !== undefined ? { 'messaging.consumer.group.name': extra.group } : {}),
    ...(extra.count !== undefined && extra.count !== 1 ? { 'messaging.batch.message_count': extra.count } : {}),
  };
}

/** The active span's ids for a log line, or nothing outside a span. */
export function logCorrelation(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const c = span.spanContext();
  return trace.isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
}
