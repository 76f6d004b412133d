/**
 * A local push service (the part of a browser vendor's infrastructure Web Push talks to), checking
 * each message the way a real one does, so the real `web-push` library can be tested against it:
 *
 *   POST /push/<subscription id>
 *   - Content-Encoding: aes128gcm (RFC 8188), a TTL header (whole seconds), a valid Urgency and
 *     Topic when present (RFC 8030), a body of at most 4096 bytes (else 413);
 *   - Authorization: `vapid t=<JWT>, k=<public key>` (RFC 8292): the JWT is ES256, its signature
 *     verifies with k (node:crypto), `aud` is this service's origin, `exp` is in the future and at
 *     most 24 h away, `sub` a mailto: or https: contact (else 401); k is the VAPID key the
 *     service was told to expect, when it was told one (else 403);
 *   - the body decrypts (RFC 8291) with the subscription's private key and auth secret, which the
 *     browser side of the test made (`subscribe()`: an ECDH prime256v1 key pair and 16 random
 *     bytes), as one record with valid padding (else 400).
 *   Then 201 with a Location (the message's URI), the plaintext recorded — unless the service
 *   was told to answer that subscription otherwise (`answerWith(id, 410)` …).
 *   An unknown subscription id is a 404, as a real service answers for one it forgot.
 *
 * It serves https (web-push only speaks https), with a certificate made for the run
 * (self-signed-cert.ts); `agent` is an https.Agent trusting exactly that certificate.
 */
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import { Agent, createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { selfSignedCert } from './self-signed-cert.ts';

export interface BrowserSubscription {
  readonly id: string;
  readonly endpoint: string;
  /** As PushSubscription.toJSON() gives them. */
  readonly keys: { readonly p256dh: string; readonly auth: string };
}

export interface PushDelivery {
  readonly subscriptionId: string;
  /** The decrypted message. */
  readonly plaintext: string;
  readonly ttl: number;
  readonly urgency: string | null;
  readonly topic: string | null;
  readonly location: string;
  readonly vapid: { readonly publicKey: string; readonly subject: string; readonly audience: string; readonly expiresAt: number };
}

export interface PushRequestRecord {
  readonly subscriptionId: string | null;
  readonly status: number;
  /** Why it was refused (null when accepted or answered as told). */
  readonly problem: string | null;
}

interface Held {
  readonly ecdh: ECDH;
  readonly publicKey: Buffer;
  readonly authSecret: Buffer;
}

class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 4096;
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);

function b64urlJson(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
  return value as Record<string, unknown>;
}

/** Checks `Authorization: vapid t=…, k=…` (RFC 8292) for a message to `origin`. */
export function checkVapid(header: string | undefined, origin: string, expectedKey: string | null, nowSeconds = Math.floor(Date.now() / 1000)): PushDelivery['vapid'] {
  const m = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), ?k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m?.[1] || !m[2]) throw new Refused(401, 'Authorization is not "vapid t=<jwt>, k=<key>"');
  const [jwt, k] = [m[1], m[2]];
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) throw new Refused(401, 'k is not an uncompressed P-256 point');
  if (expectedKey !== null && k !== expectedKey) throw new Refused(403, 'k is not the VAPID key this subscription was made for');
  const [h = '', p = '', s = ''] = jwt.split('.');
  let jose: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    jose = b64urlJson(h);
    claims = b64urlJson(p);
  } catch {
    throw new Refused(401, 'the JWT header or claims are not base64url JSON');
  }
  if (jose.alg !== 'ES256') throw new Refused(401, `JWT alg is ${String(jose.alg)}, not ES256`);
  let key;
  try {
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  } catch {
    throw new Refused(401, 'k is not a point on P-256');
  }
  const signature = Buffer.from(s, 'base64url');
  if (signature.length !== 64 || !verify('sha256', Buffer.from(`${h}.${p}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, signature)) throw new Refused(401, 'the JWT signature does not verify with k');
  if (claims.aud !== origin) throw new Refused(401, `JWT aud is ${String(claims.aud)}, not ${origin}`);
  const exp = claims.exp;
  if (typeof exp !== 'number' || !Number.isInteger(exp) || exp <= nowSeconds) throw new Refused(401, 'JWT exp is missing or past');
  if (exp > nowSeconds + 86_400) throw new Refused(401, 'JWT exp is more than 24 hours away');
  const sub = claims.sub;
  if (typeof sub !== 'string' || !/^(mailto:|https:)/.test(sub)) throw new Refused(401, 'JWT sub is not a mailto: or https: contact');
  return { publicKey: k, subject: sub, audience: origin, expiresAt: exp };
}

/** Decrypts an aes128gcm Web Push message (RFC 8291 keys, RFC 8188 record) for the browser holding `held`. */
export function decryptPushMessage(body: Buffer, held: Held): Buffer {
  if (body.length < 21) throw new Refused(400, 'body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20] ?? 0;
  if (idlen !== 65) throw new Refused(400, `keyid is ${idlen} bytes, not the sender's 65-byte public key`);
  const senderPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (rs < 18) throw new Refused(400, `record size ${rs} is below 18`);
  if (record.length > rs) throw new Refused(400, 'a push message must be a single record');
  if (record.length < 17) throw new Refused(400, 'record shorter than its tag and delimiter');
  let secret: Buffer;
  try {
    secret = held.ecdh.computeSecret(senderPublic);
  } catch {
    throw new Refused(400, 'keyid is not a P-256 point');
  }
  // RFC 8291 §3.4: IKM = HKDF(auth secret, ECDH secret, "WebPush: info" 0x00 ua_public as_public, 32)
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0', 'ascii'), held.publicKey, senderPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, held.authSecret, keyInfo, 32));
  // RFC 8188 §2.2-2.3: the content-encryption key and the nonce (record 0: no sequence to mix in).
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0', 'ascii'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0', 'ascii'), 12));
  let padded: Buffer;
  try {
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  } catch {
    throw new Refused(400, 'the body does not decrypt with the subscription keys');
  }
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 0x02) throw new Refused(400, 'the last record does not end with the 0x02 delimiter');
  return padded.subarray(0, end);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class FakePushService {
  readonly delivered: PushDelivery[] = [];
  readonly requests: PushRequestRecord[] = [];
  origin = '';
  readonly agent: Agent;
  private readonly server: Server;
  private readonly held = new Map<string, Held>();
  private readonly answers = new Map<string, number>();
  private readonly expectedKey: string | null;
  private nextId = 0;

  private constructor(expectedKey: string | null) {
    const { cert, key } = selfSignedCert('eventline fake push service');
    this.expectedKey = expectedKey;
    this.agent = new Agent({ ca: cert, keepAlive: false });
    this.server = createServer({ cert, key }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  }

  /** `vapidPublicKey`: the application server key subscriptions are made for (403 for another). */
  static async start(options: { vapidPublicKey?: string } = {}): Promise<FakePushService> {
    const service = new FakePushService(options.vapidPublicKey ?? null);
    await new Promise<void>((resolve) => service.server.listen(0, '127.0.0.1', resolve));
    service.origin = `https://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
    return service;
  }

  /** A new browser subscription: its key pair and auth secret stay here, to decrypt what it is sent. */
  subscribe(): BrowserSubscription {
    const ecdh = createECDH('prime256v1');
    const publicKey = ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const id = `sub${++this.nextId}-${randomBytes(6).toString('hex')}`;
    this.held.set(id, { ecdh, publicKey, authSecret });
    return { id, endpoint: `${this.origin}/push/${id}`, keys: { p256dh: publicKey.toString('base64url'), auth: authSecret.toString('base64url') } };
  }

  /** Answer this subscription's valid messages with `status` (410, 404, 429, 500 …), or normally again with null. */
  answerWith(subscriptionId: string, status: number | null): void {
    if (status === null) this.answers.delete(subscriptionId);
    else this.answers.set(subscriptionId, status);
  }

  deliveredTo(subscriptionId: string): PushDelivery[] {
    return this.delivered.filter((d) => d.subscriptionId === subscriptionId);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = /^\/push\/([A-Za-z0-9-]+)$/.exec(req.url ?? '')?.[1] ?? null;
    const answer = (status: number, problem: string | null, headers: Record<string, string> = {}) => {
      this.requests.push({ subscriptionId: id, status, problem });
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(problem ?? '');
    };
    const body = await readBody(req, MAX_BODY);
    const held = id === null ? undefined : this.held.get(id);
    if (req.method !== 'POST' || id === null || !held) return answer(404, 'no such subscription');
    try {
      if (body === null) throw new Refused(413, `body over ${MAX_BODY} bytes`);
      if (req.headers['content-encoding'] !== 'aes128gcm') throw new Refused(400, `Content-Encoding is ${String(req.headers['content-encoding'])}, not aes128gcm`);
      const ttlHeader = req.headers.ttl;
      if (typeof ttlHeader !== 'string' || !/^\d+$/.test(ttlHeader)) throw new Refused(400, 'TTL header missing or not whole seconds');
      const urgency = typeof req.headers.urgency === 'string' ? req.headers.urgency : null;
      if (urgency !== null && !URGENCIES.has(urgency)) throw new Refused(400, `Urgency ${urgency} is not very-low, low, normal or high`);
      const topic = typeof req.headers.topic === 'string' ? req.headers.topic : null;
      if (topic !== null && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) throw new Refused(400, 'Topic is not 1..32 base64url characters');
      const vapid = checkVapid(req.headers.authorization, this.origin, this.expectedKey);
      const told = this.answers.get(id);
      if (told !== undefined) return answer(told, null, told === 429 ? { 'retry-after': '30' } : {});
      const plaintext = decryptPushMessage(body, held).toString('utf8');
      const location = `${this.origin}/message/${randomBytes(8).toString('hex')}`;
      this.delivered.push({ subscriptionId: id, plaintext, ttl: Number(ttlHeader), urgency, topic, location, vapid });
      answer(201, null, { location });
    } catch (err) {
      if (err instanceof Refused) return answer(err.status, err.message);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
