/**
 * Local HTTP servers that answer like SendGrid's, Twilio's and Stripe's APIs, for the real SDKs to
 * talk to (SENDGRID_API_URL / TWILIO_API_URL / STRIPE_API_URL). They record every call, can be told to fail the next
 * requests (429, 5xx, 4xx), and the SendGrid one can post signed "processed" events back to
 * Eventline's webhook, as SendGrid's event webhook does.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendgridHeaders } from './providers.ts';

export interface SentEmail {
  readonly to: string;
  readonly subject: string;
  readonly customArgs: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly messageId: string;
  readonly text: string;
  readonly html: string;
}

export interface SentSms {
  readonly to: string;
  readonly from: string;
  readonly body: string;
  readonly statusCallback: string;
  readonly sid: string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** A local HTTP server on a free port of 127.0.0.1. */
abstract class FakeServer {
  url = '';
  protected abstract readonly server: Server;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

export class FakeSendGrid extends FakeServer {
  readonly sent: SentEmail[] = [];
  /** When each message was accepted (ms). */
  readonly acceptedAt: number[] = [];
  readonly attempts: { status: number }[] = [];
  /** Statuses to answer to the next requests (then 202). */
  failNext: number[] = [];
  /** When set, each accepted message is followed by a signed "processed" event to this webhook URL. */
  webhookUrl: string | null = null;
  /** Delay before answering an accepted message (the message is recorded at once, like a provider that accepted it). */
  delayMs = 0;
  protected readonly server: Server;

  constructor() {
    super();
    this.server = createServer(async (req, res) => {
      const body = await readBody(req);
      if (req.method !== 'POST' || req.url !== '/v3/mail/send') {
        res.writeHead(404).end();
        return;
      }
      if (!/^Bearer SG\./.test(req.headers.authorization ?? '')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"message":"The provided authorization grant is invalid"}]}');
        return;
      }
      const fail = this.failNext.shift();
      if (fail !== undefined) {
        this.attempts.push({ status: fail });
        res.writeHead(fail, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: `fake failure ${fail}` }] }));
        return;
      }
      const mail = JSON.parse(body) as {
        personalizations: { to: { email: string }[] }[];
        subject: string;
        custom_args?: Record<string, string>;
        headers?: Record<string, string>;
        content: { type: string; value: string }[];
      };
      const messageId = randomBytes(11).toString('base64url');
      const email: SentEmail = {
        to: mail.personalizations[0]?.to[0]?.email ?? '',
        subject: mail.subject,
        customArgs: mail.custom_args ?? {},
        headers: mail.headers ?? {},
        messageId,
        text: mail.content.find((c) => c.type === 'text/plain')?.value ?? '',
        html: mail.content.find((c) => c.type === 'text/html')?.value ?? '',
      };
      this.sent.push(email);
      this.acceptedAt.push(Date.now());
      this.attempts.push({ status: 202 });
      if (this.webhookUrl) void this.postEvent(email, 'processed').catch(() => undefined);
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (!res.destroyed) res.writeHead(202, { 'x-message-id': messageId }).end();
    });
  }

  /** Posts a signed event-webhook event for a message to Eventline, as SendGrid would. */
  async postEvent(email: SentEmail, event: string, extra: Record<string, unknown> = {}, webhookUrl = this.webhookUrl): Promise<number> {
    if (!webhookUrl) throw new Error('no webhook URL');
    const body = JSON.stringify([
      {
        email: email.to,
        timestamp: Math.floor(Date.now() / 1000),
        event,
        sg_event_id: randomBytes(12).toString('base64url'),
        sg_message_id: `${email.messageId}.filterdrecv-5f6d7c4b9-abcde-1-0`,
        ...email.customArgs,
        ...extra,
      },
    ]);
    const res = await fetch(webhookUrl, { method: 'POST', headers: sendgridHeaders(body), body });
    return res.status;
  }

  byNotification(id: string): SentEmail[] {
    return this.sent.filter((m) => m.customArgs.notification_id === id);
  }
}

export class FakeTwilio extends FakeServer {
  readonly sent: SentSms[] = [];
  failNext: number[] = [];
  /** Every send answers this status (e.g. 503: Twilio down) until set back to null. */
  failAll: number | null = null;
  /** Sends refused while failAll was set. */
  refused = 0;
  /** Numbers Twilio refuses with 400 and error 21610 ("unsubscribed recipient": the number replied STOP at the carrier). */
  readonly unsubscribed = new Set<string>();
  protected readonly server: Server;

  constructor() {
    super();
    this.server = createServer(async (req, res) => {
      const body = await readBody(req);
      const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json$/.exec(req.url ?? '');
      const to = new URLSearchParams(body).get('To') ?? '';
      if (m && this.unsubscribed.has(to)) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 21610, message: 'Attempt to send to unsubscribed recipient', more_info: 'https://www.twilio.com/docs/errors/21610', status: 400 }));
        return;
      }
      if (req.method !== 'POST' || !m) {
        res.writeHead(404).end();
        return;
      }
      if (this.failAll !== null) this.refused++;
      const fail = this.failAll ?? this.failNext.shift();
      if (fail !== undefined) {
        res.writeHead(fail, { 'content-type': 'application/json' }).end(JSON.stringify({ code: fail === 400 ? 21211 : 20500, message: `fake failure ${fail}`, status: fail }));
        return;
      }
      const form = new URLSearchParams(body);
      const sid = `SM${randomBytes(16).toString('hex')}`;
      this.sent.push({ to: form.get('To') ?? '', from: form.get('From') ?? '', body: form.get('Body') ?? '', statusCallback: form.get('StatusCallback') ?? '', sid });
      res.writeHead(201, { 'content-type': 'application/json' }).end(
        JSON.stringify({ sid, account_sid: m[1], to: form.get('To'), from: form.get('From'), body: form.get('Body'), status: 'queued', num_segments: '1', direction: 'outbound-api', api_version: '2010-04-01', date_created: new Date().toUTCString(), uri: `/2010-04-01/Accounts/${m[1]}/Messages/${sid}.json` }),
      );
    });
  }
}

/**
 * Stripe's events and subscriptions APIs (GET /v1/events, GET /v1/subscriptions): newest first,
 * `created[gte]` (events), `limit`, `starting_after` pagination, Stripe's error bodies (401 for
 * another key, 429, 5xx on demand). GET /v1/prices/:id answers a price as Stripe does: its
 * `tiers` only with `expand[]=tiers`, 404 resource_missing for an unknown id.
 */
export class FakeStripe extends FakeServer {
  readonly events: Record<string, unknown>[] = [];
  /** Subscriptions as they stand, for GET /v1/subscriptions (every status, as `status=all` asks). */
  readonly subscriptions: Record<string, unknown>[] = [];
  /** Prices by id, with their tiers (GET /v1/prices/:id). */
  readonly prices = new Map<string, Record<string, unknown>>();
  readonly requests: { path: string; query: URLSearchParams; status: number }[] = [];
  failNext: number[] = [];
  /** Invoices that can be marked uncollectible, by id, with their status. */
  readonly invoices = new Map<string, Record<string, unknown>>();
  /** Writes Stripe applied (a repeated Idempotency-Key is answered from the first, not applied again). */
  readonly applied: { method: string; path: string; idempotencyKey: string | null }[] = [];
  /** Write requests received, retries included, with their Idempotency-Key. */
  readonly writes: { method: string; path: string; idempotencyKey: string | null }[] = [];
  /** Drop the connection after applying the next N writes (the response is lost; the client retries). */
  dropAfterApplying = 0;
  private readonly idempotent = new Map<string, { status: number; body: unknown }>();
  protected readonly server: Server;

  /** A write as Stripe does it: once per Idempotency-Key, the saved answer for a key seen before. */
  private write(req: IncomingMessage, res: ServerResponse, answer: (status: number, body: unknown) => void, cancelId: string | undefined, uncollectibleId: string | undefined): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    this.writes.push({ method: req.method ?? '', path, idempotencyKey: key });
    const saved = key ? this.idempotent.get(key) : undefined;
    if (saved) return answer(saved.status, saved.body);
    let result: { status: number; body: unknown };
    if (cancelId !== undefined) {
      const sub = this.subscriptions.find((x) => x.id === decodeURIComponent(cancelId));
      if (!sub) result = { status: 404, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: `No such subscription: '${cancelId}'` } } };
      else if (sub.status === 'canceled') result = { status: 400, body: { error: { type: 'invalid_request_error', message: `The subscription ${cancelId} is already canceled.` } } };
      else {
        sub.status = 'canceled';
        sub.canceled_at = Math.floor(Date.now() / 1000);
        result = { status: 200, body: { ...sub, object: 'subscription' } };
      }
    } else {
      const invoice = this.invoices.get(decodeURIComponent(uncollectibleId ?? ''));
      if (!invoice) result = { status: 404, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'invoice', message: `No such invoice: '${uncollectibleId}'` } } };
      else if (invoice.status !== 'open') result = { status: 400, body: { error: { type: 'invalid_request_error', code: 'invoice_not_open', message: `You can only mark an open invoice as uncollectible; this one is ${String(invoice.status)}.` } } };
      else {
        invoice.status = 'uncollectible';
        result = { status: 200, body: { ...invoice, object: 'invoice' } };
      }
    }
    if (result.status === 200) this.applied.push({ method: req.method ?? '', path, idempotencyKey: key });
    if (key) this.idempotent.set(key, result);
    if (result.status === 200 && this.dropAfterApplying > 0) {
      this.dropAfterApplying--;
      res.socket?.destroy();
      return;
    }
    answer(result.status, result.body);
  }

  constructor(readonly apiKey = 'sk_test_eventline') {
    super();
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const answer = (status: number, body: unknown) => {
        this.requests.push({ path: url.pathname, query: url.searchParams, status });
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(7).toString('hex')}` }).end(JSON.stringify(body));
      };
      // Writes (dunning's end actions): DELETE /v1/subscriptions/:id, POST /v1/invoices/:id/mark_uncollectible.
      const cancelId = /^\/v1\/subscriptions\/([^/]+)$/.exec(url.pathname)?.[1];
      const uncollectibleId = /^\/v1\/invoices\/([^/]+)\/mark_uncollectible$/.exec(url.pathname)?.[1];
      if ((req.method === 'DELETE' && cancelId !== undefined) || (req.method === 'POST' && uncollectibleId !== undefined)) {
        if (req.headers.authorization !== `Bearer ${this.apiKey}`) return answer(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****' } });
        req.resume();
        return req.on('end', () => this.write(req, res, answer, cancelId, uncollectibleId));
      }
      const priceId = /^\/v1\/prices\/([^/]+)$/.exec(url.pathname)?.[1];
      const resource = url.pathname === '/v1/events' ? this.events : url.pathname === '/v1/subscriptions' ? this.subscriptions : null;
      if (req.method === 'GET' && priceId !== undefined) {
        if (req.headers.authorization !== `Bearer ${this.apiKey}`) return answer(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****' } });
        const fail = this.failNext.shift();
        if (fail !== undefined) return answer(fail, { error: { type: 'api_error', message: `fake failure ${fail}` } });
        const price = this.prices.get(decodeURIComponent(priceId));
        if (!price) return answer(404, { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'price', message: `No such price: '${priceId}'` } });
        const { tiers, ...unexpanded } = price;
        // The SDK writes arrays with indexes (expand[0]=tiers); Stripe reads expand[]=tiers too.
        const expand = [...url.searchParams].filter(([k]) => /^expand\[\d*\]$/.test(k)).map(([, value]) => value);
        return answer(200, expand.includes('tiers') ? { ...unexpanded, tiers } : unexpanded);
      }
      if (req.method !== 'GET' || resource === null) return answer(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname})` } });
      if (req.headers.authorization !== `Bearer ${this.apiKey}`) return answer(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****' } });
      const fail = this.failNext.shift();
      if (fail === 429) return answer(429, { error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly.' } });
      if (fail !== undefined) return answer(fail, { error: { type: 'api_error', message: `fake failure ${fail}` } });
      const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 10));
      const gte = Number(url.searchParams.get('created[gte]') ?? 0);
      const newestFirst = resource
        .filter((e) => (e.created as number) >= gte)
        .sort((a, b) => (b.created as number) - (a.created as number) || ((b.id as string) < (a.id as string) ? -1 : 1));
      const after = url.searchParams.get('starting_after');
      const start = after ? newestFirst.findIndex((e) => e.id === after) + 1 : 0;
      if (after && start === 0) return answer(400, { error: { type: 'invalid_request_error', message: `No such object: '${after}'`, param: 'starting_after' } });
      const data = newestFirst.slice(start, start + limit);
      answer(200, { object: 'list', url: url.pathname, has_more: start + limit < newestFirst.length, data });
    });
  }
}
