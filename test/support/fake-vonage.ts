/**
 * A local HTTP server that answers like Vonage's SMS API (POST /sms/json on rest.nexmo.com), for
 * the real @vonage/server-sdk to talk to (its `restHost` option). Like the fakes in
 * fake-providers.ts it records what it accepted and can be told to fail:
 *
 *   - failWith(503): every request answers that HTTP status, until failWith(null);
 *   - rejectWith('7'): every request answers HTTP 200 with that SMS API status for each part
 *     (Vonage's way of refusing a message), until rejectWith(null).
 *
 * As Vonage does, it takes the credentials from an HTTP Basic header (what the SDK sends) or from
 * api_key / api_secret in the body, the body as JSON (the SDK) or a form, answers status "4"
 * "Bad Credentials" for other credentials, "2" for a missing to / from / text, and splits a long
 * text into parts (153 GSM-7 or 67 UCS-2 characters each), each with its own message-id.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentVonageSms {
  readonly to: string;
  readonly from: string;
  readonly text: string;
  readonly type: string;
  readonly clientRef: string | null;
  readonly callback: string | null;
  /** One per part; the first is the message's id. */
  readonly messageIds: readonly string[];
}

export interface VonageRequest {
  readonly contentType: string;
  readonly httpStatus: number;
  /** The SMS API status of the (first) part, when the answer was HTTP 200. */
  readonly vonageStatus: string | null;
}

/** Error texts in the SMS API's style, for the statuses tests ask for. */
const errorTexts: Readonly<Record<string, string>> = {
  '1': 'Throughput Rate Exceeded - please wait [ 30 ] and retry',
  '2': 'Missing parameter',
  '3': 'Invalid parameter',
  '4': 'Bad Credentials',
  '5': 'Internal Error',
  '6': 'Unroutable message - rejected',
  '7': 'Number barred.',
  '8': 'Partner account barred.',
  '9': 'Partner quota exceeded.',
  '15': 'Illegal Sender Address - rejected',
  '23': 'Invalid callback url',
  '29': 'Non-Whitelisted Destination',
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function fields(contentType: string, body: string): Record<string, string> | null {
  if (contentType === 'application/json') {
    try {
      const parsed = JSON.parse(body) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
      return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    } catch {
      return null;
    }
  }
  if (contentType === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(body));
  return null;
}

/** Parts Vonage bills a text as: GSM-7 160 (153 per part when split), UCS-2 70 (67). */
function partsOf(text: string, unicode: boolean): number {
  const [single, part] = unicode ? [70, 67] : [160, 153];
  return text.length <= single ? 1 : Math.ceil(text.length / part);
}

export class FakeVonage {
  url = '';
  readonly sent: SentVonageSms[] = [];
  readonly requests: VonageRequest[] = [];
  private readonly server: Server;
  private failStatus: number | null = null;
  private rejectStatus: string | null = null;

  constructor(
    readonly apiKey = 'a1b2c3d4',
    readonly apiSecret = 'VonageFakeSecret0',
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** Every request answers this HTTP status (e.g. 503), until called with null. */
  failWith(status: number | null): this {
    this.failStatus = status;
    return this;
  }

  /** Every request answers HTTP 200 with this SMS API status (e.g. '1', '7'), until called with null. */
  rejectWith(vonageStatus: string | null): this {
    this.rejectStatus = vonageStatus;
    return this;
  }

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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const answer = (httpStatus: number, payload: unknown, vonageStatus: string | null = null) => {
      this.requests.push({ contentType, httpStatus, vonageStatus });
      res.writeHead(httpStatus, { 'content-type': 'application/json', 'x-request-id': randomBytes(8).toString('hex') }).end(JSON.stringify(payload));
    };
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://localhost').pathname !== '/sms/json') {
      answer(404, { type: 'https://developer.vonage.com/api-errors#not-found', title: 'Not Found' });
      return;
    }
    if (this.failStatus !== null) {
      answer(this.failStatus, { type: 'https://developer.vonage.com/api-errors', title: `fake failure ${this.failStatus}` });
      return;
    }
    const refuse = (status: string, to?: string) =>
      answer(200, { 'message-count': '1', messages: [{ ...(to ? { to } : {}), status, 'error-text': errorTexts[status] ?? 'Refused' }] }, status);
    const form = fields(contentType, body);
    if (!form) {
      refuse('2');
      return;
    }
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [key, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [form.api_key, form.api_secret];
    if (key !== this.apiKey || secret !== this.apiSecret) {
      refuse('4');
      return;
    }
    const { to, from, text } = form;
    if (!to || !from || !text) {
      refuse('2');
      return;
    }
    if (!/^\d{6,15}$/.test(to)) {
      refuse('3');
      return;
    }
    if (this.rejectStatus !== null) {
      refuse(this.rejectStatus, to);
      return;
    }
    const callback = form.callback ?? null;
    if (callback !== null && (!/^https?:\/\//.test(callback) || !URL.canParse(callback))) {
      refuse('23', to);
      return;
    }
    const type = form.type ?? 'text';
    const clientRef = form['client-ref'] ?? null;
    const messageIds = Array.from({ length: partsOf(text, type === 'unicode') }, () => randomUUID());
    this.sent.push({ to, from, text, type, clientRef, callback, messageIds });
    answer(
      200,
      {
        'message-count': String(messageIds.length),
        messages: messageIds.map((id) => ({
          to,
          'message-id': id,
          status: '0',
          'remaining-balance': '14.62000000',
          'message-price': '0.03330000',
          network: '23410',
          ...(clientRef !== null ? { 'client-ref': clientRef } : {}),
        })),
      },
      '0',
    );
  }
}
