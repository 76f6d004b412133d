/**
 * A local OTLP/HTTP trace receiver (POST /v1/traces, JSON encoding) standing in for a collector at
 * the edge, as the fake providers stand in for SendGrid and Twilio: the real exporter sends to it,
 * and a test reads the spans it received. Protobuf bodies are refused with 415, so an exporter
 * that ignored OTEL_EXPORTER_OTLP_PROTOCOL would show.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  readonly status: number;
}

type KeyValue = { key: string; value: Record<string, unknown> };

/** OTLP/JSON ids are hex; accept base64 too (the protobuf JSON mapping's bytes). */
function hexId(v: unknown): string | null {
  if (typeof v !== 'string' || v === '') return null;
  if (/^[0-9a-f]+$/i.test(v) && (v.length === 32 || v.length === 16)) return v.toLowerCase();
  return Buffer.from(v, 'base64').toString('hex');
}

function attributes(list: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of (Array.isArray(list) ? list : []) as KeyValue[]) {
    const v = kv.value ?? {};
    const value = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[kv.key] = value;
  }
  return out;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests refused (wrong path, method or encoding). */
  refused = 0;
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          this.refused++;
          res.writeHead(404).end();
          return;
        }
        if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
          this.refused++;
          res.writeHead(415, { 'content-type': 'application/json' }).end('{"error":"this receiver takes OTLP/JSON"}');
          return;
        }
        try {
          this.ingest(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          this.refused++;
          res.writeHead(400).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private ingest(body: { resourceSpans?: { resource?: { attributes?: unknown }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[] }): void {
    for (const rs of body.resourceSpans ?? []) {
      const resource = attributes(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: hexId(s.traceId) ?? '',
            spanId: hexId(s.spanId) ?? '',
            parentSpanId: hexId(s.parentSpanId),
            name: String(s.name),
            kind: Number(s.kind),
            attributes: attributes(s.attributes),
            resource,
            status: Number((s.status as { code?: number } | undefined)?.code ?? 0),
          });
        }
      }
    }
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
