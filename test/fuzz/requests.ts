/**
 * Generated hostile requests for every route of Eventline: the documented ones (producers/http/
 * openapi.ts), the dashboard's and the webhooks. Each generated request is wrong in at least one
 * way the route must refuse whatever else it gets right — no key, a bad, revoked or forged key, a
 * key without the scope, a forged, stale or future-dated signature, malformed, oversized, deeply
 * nested or non-UTF-8 JSON, a wrong content type or encoding, a malformed percent-escape, a
 * parameter that cannot be an id, a cross-site form post, the wrong method, or bytes that are not
 * HTTP at all. So every answer must be a 4xx, and nothing may be appended.
 *
 * A documented route this file has no profile for (a route added since) still gets the requests
 * that need no knowledge of it: no or bad keys, malformed percent-escapes in its parameters, wrong
 * methods.
 */
import { sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import Stripe from 'stripe';
import twilio from 'twilio';

export type Body = Buffer | { readonly fill: number; readonly length: number };

export interface HttpCase {
  readonly kind: 'http';
  /** What is wrong with it (one of a fixed set of names, for the summary). */
  readonly category: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Body;
}

/** Bytes written to a fresh connection as they are: what no HTTP client library would send. */
export interface RawCase {
  readonly kind: 'raw';
  readonly category: string;
  readonly bytes: Buffer;
}

export type FuzzCase = HttpCase | RawCase;

export interface FuzzKeys {
  readonly publish: string;
  readonly read: string;
  readonly preferences: string;
  readonly admin: string;
  readonly revoked: string;
}

export interface FuzzTarget {
  /** EVENTLINE_PUBLIC_URL: Twilio signs against it, the dashboard's form posts are checked against it. */
  readonly publicUrl: string;
  readonly bodyLimitBytes: number;
  readonly toleranceSeconds: number;
  readonly keys: FuzzKeys;
  readonly stripeSecret: string;
  readonly sendgridKey: KeyObject;
  readonly twilioToken: string;
  /** Documented routes: method and OpenAPI path template (`/v1/users/{userId}/preferences`). */
  readonly routes: readonly DocumentedRoute[];
}

export interface DocumentedRoute {
  readonly method: string;
  readonly template: string;
  readonly secured: boolean;
}

/** Every (method, path) of an OpenAPI document, and whether it asks for an API key. */
export function documentedRoutes(doc: { paths: Record<string, Record<string, unknown>> }): DocumentedRoute[] {
  const methods = ['get', 'post', 'put', 'patch', 'delete'];
  return Object.entries(doc.paths).flatMap(([template, item]) =>
    Object.entries(item)
      .filter(([m]) => methods.includes(m))
      .map(([m, op]) => ({ method: m.toUpperCase(), template, secured: Array.isArray((op as { security?: unknown }).security) })),
  );
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const MALFORMED_ESCAPES = ['%', '%Z', '%ZZ', '%G0', '%2', '%%', '%u0041', '%E0%A4%A', '%C3%28', '%ED%A0%80', '%FF', '%C0%AF', '%F8%88%80%80%80', '%80'];
/** Byte sequences that are not UTF-8: lone continuation, truncated, overlong, surrogate, out of range. */
const BAD_UTF8: readonly number[][] = [[0xff], [0xfe, 0xff], [0x80], [0xc3, 0x28], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]];
const WRONG_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx', 'json', 'application/octet-stream'];
/** Names every JavaScript object answers to: a lookup by a request's text must not find them. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__'];
const alnum = (min: number, max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9]{${min},${max}}$`));
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const b64url = (n: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${n}}$`));
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A path segment with a malformed percent-escape in it (what follows is no hex digit, which could complete `%2` or `%E0%A4%A`). */
const badEscape = fc.tuple(alnum(0, 6), fc.constantFrom(...MALFORMED_ESCAPES), fc.stringMatching(/^[g-zG-Z_]{0,6}$/)).map(([a, e, b]) => `${a}${e}${b}`);

/** Text that, once percent-encoded, is not an id of any kind (spaces, quotes, unicode, control characters). */
const notAnId = fc.oneof(
  fc.string({ unit: fc.constantFrom(...' "\'<>{}|\\^`[]!$&()*,;=é中\u0000\u001f\u202e'.split('')), minLength: 1, maxLength: 12 }),
  fc.tuple(alnum(1, 8), fc.constantFrom(' ', '"', '<', '\u0000', 'é', '/..', '\\')).map(([a, b]) => `${a}${b}`),
  alnum(129, 300),
).map((s) => encodeURIComponent(s));

function withInsert(text: string, marker: string, bytes: readonly number[]): Buffer {
  const at = text.indexOf(marker);
  return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);
}

/** The same JSON object with a field holding arrays nested `depth` levels (so the body is deeper than that). */
function deepened(text: string, depth: number): Buffer {
  const open = text.startsWith('[') ? 2 : 1;
  return Buffer.from(`${text.slice(0, open)}"fz_deep":${'['.repeat(depth)}${']'.repeat(depth)},${text.slice(open)}`);
}

interface Defect {
  readonly category: string;
  readonly body: Buffer;
  readonly contentType: string;
}

/**
 * A body that is wrong as JSON whatever the route: cut short (no prefix of a JSON object is JSON),
 * nested past 32 levels, not UTF-8, empty, or not an object. `marker` is text inside a string of
 * `valid`, where bad bytes go.
 */
function jsonDefects(valid: string, marker: string, options: { nonObject: readonly string[] }): fc.Arbitrary<Defect> {
  const json = 'application/json';
  return fc.oneof(
    fc.integer({ min: 1, max: valid.length - 1 }).map((n) => ({ category: 'truncated json', body: Buffer.from(valid.slice(0, n)), contentType: json })),
    fc.integer({ min: 33, max: 5000 }).map((d) => ({ category: 'deep json', body: deepened(valid, d), contentType: json })),
    fc.constantFrom(...BAD_UTF8).map((bytes) => ({ category: 'bad utf-8', body: withInsert(valid, marker, bytes), contentType: json })),
    fc.constantFrom(...options.nonObject, '').map((text) => ({ category: text === '' ? 'empty body' : 'not an object', body: Buffer.from(text), contentType: json })),
  );
}

const oversized = (limit: number) => fc.record({ fill: fc.constantFrom(0x7b, 0x61, 0x20, 0x5b), length: fc.integer({ min: limit + 1, max: limit * 4 }) });

/** Content encodings the body is not in (gzip that is not gzip) or that nothing reads. */
const badEncoding = fc.constantFrom('gzip', 'deflate', 'br', 'x-fuzz', 'gzip, identity');

function http(category: string, method: string, path: string, headers: Record<string, string> = {}, body?: Body): HttpCase {
  return { kind: 'http', category, method, path, headers, ...(body === undefined ? {} : { body }) };
}

// ---------------------------------------------------------------------------------------------
// Authentication

type KeyName = keyof FuzzKeys;

/** An Authorization (or session cookie) that authenticates nobody. */
function badCredentials(target: FuzzTarget): fc.Arbitrary<{ category: string; headers: Record<string, string> }> {
  const valid = target.keys.read;
  return fc.oneof(
    fc.constant({ category: 'no key', headers: {} }),
    fc.constantFrom('Bearer', 'Bearer ', 'bearer  ', 'Basic YWRtaW46YWRtaW4=', 'Token abc', 'Bearer a b', `Bearer ${valid} extra`).map((a) => ({ category: 'bad key', headers: { authorization: a } })),
    fc.tuple(hex(12), b64url(43)).map(([id, s]) => ({ category: 'forged key', headers: { authorization: `Bearer evl_${id}_${s}` } })),
    fc.stringMatching(/^[!-~]{1,200}$/).map((k) => ({ category: 'bad key', headers: { authorization: `Bearer ${k}` } })),
    fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 }).map((k) => ({ category: 'bad key', headers: { authorization: `Bearer ${k}` } })),
    fc.constant({ category: 'revoked key', headers: { authorization: `Bearer ${target.keys.revoked}` } }),
    fc.integer({ min: 17, max: valid.length - 1 }).map((i) => {
      const flipped = `${valid.slice(0, i)}${valid[i] === 'A' ? 'B' : 'A'}${valid.slice(i + 1)}`;
      return { category: 'forged key', headers: { authorization: `Bearer ${flipped}` } };
    }),
    fc.oneof(b64url(43), fc.stringMatching(/^[!-~]{1,80}$/).filter((s) => !/[;,]/.test(s))).map((c) => ({ category: 'forged session', headers: { cookie: `eventline_session=${c}` } })),
  );
}

/** Keys that authenticate but lack `scope` (admin implies every scope, so never admin). */
function lacking(scope: 'publish' | 'read' | 'preferences'): KeyName[] {
  return (['publish', 'read', 'preferences'] as const).filter((k) => k !== scope);
}

function wrongScope(target: FuzzTarget, scope: 'publish' | 'read' | 'preferences'): fc.Arbitrary<{ category: string; headers: Record<string, string> }> {
  return fc.constantFrom(...lacking(scope)).map((k) => ({ category: 'wrong scope', headers: { authorization: `Bearer ${target.keys[k]}` } }));
}

// ---------------------------------------------------------------------------------------------
// Route profiles

function jsonApiRoute(target: FuzzTarget, method: string, pathArb: fc.Arbitrary<string>, scope: 'publish' | 'preferences', valid: () => string, marker: string, invalid: fc.Arbitrary<string>): fc.Arbitrary<HttpCase> {
  const key = target.keys[scope];
  const auth = { authorization: `Bearer ${key}` };
  const nonObject = ['[]', 'null', '1', '"x"', 'true', '[{}]'];
  return fc.oneof(
    fc.tuple(pathArb, badCredentials(target)).map(([p, c]) => http(c.category, method, p, { 'content-type': 'application/json', ...c.headers }, Buffer.from(valid()))),
    fc.tuple(pathArb, wrongScope(target, scope)).map(([p, c]) => http(c.category, method, p, { 'content-type': 'application/json', ...c.headers }, Buffer.from(valid()))),
    fc.tuple(pathArb, fc.constant(null).chain(() => jsonDefects(valid(), marker, { nonObject }))).map(([p, d]) => http(d.category, method, p, { ...auth, 'content-type': d.contentType }, d.body)),
    fc.tuple(pathArb, fc.constantFrom(...WRONG_TYPES, '')).map(([p, t]) => http('wrong content-type', method, p, { ...auth, ...(t ? { 'content-type': t } : {}) }, Buffer.from(valid()))),
    fc.tuple(pathArb, badEncoding).map(([p, e]) => http('bad content-encoding', method, p, { ...auth, 'content-type': 'application/json', 'content-encoding': e }, Buffer.from(valid()))),
    fc.tuple(pathArb, oversized(target.bodyLimitBytes)).map(([p, b]) => http('oversized', method, p, { ...auth, 'content-type': 'application/json' }, b)),
    fc.tuple(pathArb, invalid).map(([p, body]) => http('invalid content', method, p, { ...auth, 'content-type': 'application/json' }, Buffer.from(body))),
  );
}

function eventsRoute(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const valid = () => JSON.stringify({ type: 'UserSignedUp', key: 'user_fz', event_id: 'fz-event', data: { user_id: 'user_fz', email: 'fz@example.com' } });
  const invalid = fc.oneof(
    alnum(4, 20).map((t) => JSON.stringify({ type: `FzNoSuchEvent${t}`, key: 'user_fz', data: {} })),
    alnum(1, 10).map((f) => JSON.stringify({ type: 'UserSignedUp', key: 'user_fz', data: { user_id: 'user_fz', email: 'fz@example.com', [`fz_${f}`]: 1 } })),
    fc.constantFrom('{}', '{"type":"UserSignedUp"}', '{"type":1,"key":2,"data":3}', '{"type":"UserSignedUp","key":"","data":{}}'),
  );
  return jsonApiRoute(target, 'POST', fc.constant('/v1/events'), 'publish', valid, 'fz@example.com', invalid);
}

function notificationsRoute(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const valid = () => JSON.stringify({ user_id: 'user_fz', template: 'receipt', category: 'billing', data: { amount_due: 4900, currency: 'usd', invoice_id: 'fz-note' } });
  const invalid = fc.oneof(
    alnum(4, 20).map((t) => JSON.stringify({ user_id: 'user_fz', template: `fz_no_such_${t.toLowerCase()}`, category: 'billing' })),
    alnum(1, 10).map((f) => JSON.stringify({ user_id: 'user_fz', template: 'receipt', category: 'billing', [`fz_${f}`]: true })),
    notAnId.map((u) => JSON.stringify({ user_id: decodeURIComponent(u), template: 'receipt', category: 'billing' })),
    fc.constantFrom('{}', '{"user_id":"u","template":"receipt","category":"billing","priority":"URGENT"}', '{"user_id":"u","template":"receipt","category":"billing","data":[]}'),
  );
  return jsonApiRoute(target, 'POST', fc.constant('/v1/notifications'), 'publish', valid, 'fz-note', invalid);
}

function preferencesRoutes(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const path = (id: string) => `/v1/users/${id}/preferences`;
  const valid = () => JSON.stringify({ timezone: 'Europe/Paris', reason: 'fz-reason' });
  const invalid = fc.oneof(
    alnum(1, 10).map((f) => JSON.stringify({ timezone: 'UTC', [`fz_${f}`]: 1 })),
    fc.constantFrom('{"categories":{"security":{"email":false}}}', '{"categories":{"payment":{"sms":false,"email":false}}}', '{"timezone":"Mars/Olympus"}', '{"phone":"0123"}', '{"daily_max":0}'),
  );
  const auth = { authorization: `Bearer ${target.keys.preferences}` };
  return fc.oneof(
    jsonApiRoute(target, 'PUT', fc.constant(path('user_fz')), 'preferences', valid, 'fz-reason', invalid),
    fc.oneof(notAnId, badEscape).map((id) => http('bad parameter', 'PUT', path(id), { ...auth, 'content-type': 'application/json' }, Buffer.from(valid()))),
    fc.oneof(notAnId, badEscape).map((id) => http('bad parameter', 'GET', path(id), auth)),
    badCredentials(target).map((c) => http(c.category, 'GET', path('user_fz'), c.headers)),
    wrongScope(target, 'preferences').map((c) => http(c.category, 'GET', path('user_fz'), c.headers)),
  );
}

function notificationStatusRoute(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const auth = { authorization: `Bearer ${target.keys.read}` };
  return fc.oneof(
    fc.oneof(notAnId, badEscape, alnum(1, 20), alnum(65, 80).map((s) => `ntf_${s}`), fc.constantFrom(...PROTOTYPE_NAMES)).map((id) => http('bad parameter', 'GET', `/v1/notifications/${id}`, auth)),
    alnum(20, 30).map((id) => http('unknown id', 'GET', `/v1/notifications/ntf_fz${id}`, auth)),
    badCredentials(target).map((c) => http(c.category, 'GET', '/v1/notifications/ntf_fz1', c.headers)),
    wrongScope(target, 'read').map((c) => http(c.category, 'GET', '/v1/notifications/ntf_fz1', c.headers)),
  );
}

function dashboardRoutes(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const foreign = fc.constantFrom<Record<string, string>>(
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { origin: `${target.publicUrl}.evil.example` },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { 'sec-fetch-site': 'cross-site', origin: target.publicUrl },
  );
  const badLoginKey = fc.oneof(
    fc.tuple(hex(12), b64url(43)).map(([id, s]) => `evl_${id}_${s}`),
    fc.stringMatching(/^[!-~]{0,100}$/).map((s) => encodeURIComponent(s)),
    badEscape,
    fc.constant(target.keys.revoked),
  );
  return fc.oneof(
    badLoginKey.map((k) => http('bad key', 'POST', '/login', form, Buffer.from(`key=${k}`))),
    fc.constantFrom(target.keys.publish, target.keys.preferences).map((k) => http('wrong scope', 'POST', '/login', form, Buffer.from(`key=${k}`))),
    foreign.map((h) => http('cross-site post', 'POST', '/login', { ...form, ...h }, Buffer.from(`key=${target.keys.read}`))),
    foreign.map((h) => http('cross-site post', 'POST', '/logout', { ...form, ...h })),
    fc.integer({ min: 4097, max: 20_000 }).map((n) => http('oversized', 'POST', '/login', form, { fill: 0x61, length: n })),
    badCredentials(target).map((c) => http(c.category, 'GET', '/v1/dashboard', c.headers)),
    wrongScope(target, 'read').map((c) => http(c.category, 'GET', '/v1/dashboard', c.headers)),
    fc.oneof(notAnId, alnum(1, 8).filter((c) => !/^[a-z]{3}$/.test(c)), badEscape).map((c) => http('bad parameter', 'GET', `/v1/dashboard?currency=${c}`, { authorization: `Bearer ${target.keys.read}` })),
    fc.oneof(badEscape, alnum(1, 20).map((n) => `fz-${n}.js`), notAnId, fc.constantFrom(...PROTOTYPE_NAMES)).map((n) => http('unknown asset', 'GET', `/assets/${n}`)),
  );
}

function unsubscribeRoutes(): fc.Arbitrary<HttpCase> {
  const claims = fc.record({ u: alnum(1, 20), c: fc.constantFrom(null, 'marketing', 'security'), exp: fc.integer({ min: nowSeconds() + 3600, max: nowSeconds() + 10 ** 8 }), n: alnum(8, 16) });
  const token = fc.oneof(
    fc.tuple(claims, b64url(43)).map(([c, mac]) => `${Buffer.from(JSON.stringify(c)).toString('base64url')}.${mac}`),
    fc.tuple(b64url(10), b64url(43)).map(([a, b]) => `${a}.${b}`),
    alnum(1, 60),
    badEscape,
    notAnId,
    fc.constantFrom(...PROTOTYPE_NAMES),
  );
  const accept = fc.constantFrom('text/html', 'application/json', '*/*');
  return fc.oneof(
    fc.tuple(token, accept).map(([t, a]) => http('forged token', 'GET', `/v1/unsubscribe/${t}`, { accept: a })),
    fc.tuple(token, accept, fc.constantFrom('List-Unsubscribe=One-Click', 'confirm=yes', '')).map(([t, a, b]) =>
      http('forged token', 'POST', `/v1/unsubscribe/${t}`, { accept: a, 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(b)),
    ),
    fc.tuple(token, fc.integer({ min: 16 * 1024 + 1, max: 40 * 1024 })).map(([t, n]) => http('oversized', 'POST', `/v1/unsubscribe/${t}`, { 'content-type': 'application/x-www-form-urlencoded' }, { fill: 0x61, length: n })),
  );
}

function stripeWebhook(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const event = (id: string) =>
    JSON.stringify({ id: `evt_fz${id}`, object: 'event', api_version: '2025-03-31.basil', created: nowSeconds(), type: 'invoice.paid', livemode: false, data: { object: { id: 'in_fz', object: 'invoice', customer: 'cus_fz', note: 'fz-note' } } });
  const signed = (payload: string, secret = target.stripeSecret, timestamp = nowSeconds()) => Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  const post = (category: string, body: Body, signature: string | null, extra: Record<string, string> = {}) =>
    http(category, 'POST', '/webhooks/stripe', { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }), ...extra }, body);
  const tol = target.toleranceSeconds;
  return fc.oneof(
    alnum(8, 16).map((id) => post('forged signature', Buffer.from(event(id)), null)),
    fc.tuple(alnum(8, 16), fc.stringMatching(/^[!-~]{1,120}$/)).map(([id, s]) => post('forged signature', Buffer.from(event(id)), s)),
    fc.tuple(alnum(8, 16), hex(64)).map(([id, mac]) => post('forged signature', Buffer.from(event(id)), `t=${nowSeconds()},v1=${mac}`)),
    fc.tuple(alnum(8, 16), b64url(24)).map(([id, s]) => post('forged signature', Buffer.from(event(id)), signed(event(id), `whsec_${s}`))),
    fc.tuple(alnum(8, 16), alnum(8, 16)).filter(([a, b]) => a !== b).map(([a, b]) => post('forged signature', Buffer.from(event(a)), signed(event(b)))),
    // Margins of two minutes either side: a batch is generated a moment before it is sent.
    fc.tuple(alnum(8, 16), fc.integer({ min: tol + 120, max: 10 ** 8 })).map(([id, age]) => post('stale signature', Buffer.from(event(id)), signed(event(id), target.stripeSecret, nowSeconds() - age))),
    fc.tuple(alnum(8, 16), fc.integer({ min: tol + 120, max: 10 ** 9 })).map(([id, ahead]) => post('future signature', Buffer.from(event(id)), signed(event(id), target.stripeSecret, nowSeconds() + ahead))),
    // Correctly signed, but not an acceptable body. The SDK checks the signature over the body
    // decoded leniently (U+FFFD for bad bytes), so bad UTF-8 is signed over that decoding.
    alnum(8, 16)
      .chain((id) => jsonDefects(event(id), 'fz-note', { nonObject: ['[]', 'null', '1', '"x"', '{"hello":"world"}', '{"id":"evt_x"}'] }))
      .map((d) => post(d.category, d.body, signed(d.body.toString('utf8')))),
    fc.tuple(alnum(8, 16), badEncoding).map(([id, e]) => post('bad content-encoding', Buffer.from(event(id)), signed(event(id)), { 'content-encoding': e })),
    oversized(target.bodyLimitBytes).map((b) => post('oversized', b, signed('x'))),
  );
}

function sendgridWebhook(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const batch = (id: string) => JSON.stringify([{ email: 'fz@example.com', event: 'delivered', sg_event_id: `sg_fz${id}`, sg_message_id: `msg_fz${id}`, timestamp: nowSeconds(), note: 'fz-note' }]);
  const signature = (timestamp: string, body: Buffer, key = target.sendgridKey) => sign('sha256', Buffer.concat([Buffer.from(timestamp), body]), key).toString('base64');
  const post = (category: string, body: Body, headers: Record<string, string>) => http(category, 'POST', '/webhooks/sendgrid', { 'content-type': 'application/json', ...headers }, body);
  const signedHeaders = (body: Buffer, timestamp = String(nowSeconds())) => ({ 'x-twilio-email-event-webhook-signature': signature(timestamp, body), 'x-twilio-email-event-webhook-timestamp': timestamp });
  const tol = target.toleranceSeconds;
  return fc.oneof(
    alnum(8, 16).map((id) => post('forged signature', Buffer.from(batch(id)), {})),
    fc.tuple(alnum(8, 16), fc.base64String({ minLength: 4, maxLength: 120 })).map(([id, s]) =>
      post('forged signature', Buffer.from(batch(id)), { 'x-twilio-email-event-webhook-signature': s, 'x-twilio-email-event-webhook-timestamp': String(nowSeconds()) }),
    ),
    fc.tuple(alnum(8, 16), fc.stringMatching(/^[!-~]{1,20}$/)).map(([id, ts]) => post('forged signature', Buffer.from(batch(id)), signedHeaders(Buffer.from(batch(id)), ts.replace(/^\d+$/, 'x')))),
    fc.tuple(alnum(8, 16), alnum(8, 16)).filter(([a, b]) => a !== b).map(([a, b]) => post('forged signature', Buffer.from(batch(a)), signedHeaders(Buffer.from(batch(b))))),
    fc.tuple(alnum(8, 16), fc.integer({ min: tol + 120, max: 10 ** 8 })).map(([id, age]) => post('stale signature', Buffer.from(batch(id)), signedHeaders(Buffer.from(batch(id)), String(nowSeconds() - age)))),
    fc.tuple(alnum(8, 16), fc.integer({ min: tol + 120, max: 10 ** 9 })).map(([id, ahead]) => post('future signature', Buffer.from(batch(id)), signedHeaders(Buffer.from(batch(id)), String(nowSeconds() + ahead)))),
    alnum(8, 16)
      .chain((id) => jsonDefects(batch(id), 'fz-note', { nonObject: ['[]', 'null', '1', '"x"', '{}', '[1]', '[{}]', '[{"event":"delivered"}]'] }))
      .map((d) => post(d.category, d.body, signedHeaders(d.body))),
    fc.tuple(alnum(8, 16), badEncoding).map(([id, e]) => post('bad content-encoding', Buffer.from(batch(id)), { ...signedHeaders(Buffer.from(batch(id))), 'content-encoding': e })),
    oversized(target.bodyLimitBytes).map((b) => post('oversized', b, signedHeaders(Buffer.from('x')))),
  );
}

function twilioWebhook(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const params = (sid: string) => ({ MessageSid: `SM${sid}`, MessageStatus: 'delivered', To: '+15005550006' });
  const encode = (p: Record<string, string>) => new URLSearchParams(p).toString();
  const path = (n: string) => `/webhooks/twilio/status?notification_id=ntf_fz${n}`;
  const signature = (p: string, body: Record<string, string>, token = target.twilioToken) => twilio.getExpectedTwilioSignature(token, `${target.publicUrl}${p}`, body);
  const post = (category: string, p: string, headers: Record<string, string>, body: Body) => http(category, 'POST', p, headers, body);
  return fc.oneof(
    fc.tuple(hex(32), alnum(4, 8)).map(([sid, n]) => post('forged signature', path(n), form, Buffer.from(encode(params(sid))))),
    fc.tuple(hex(32), alnum(4, 8), fc.base64String({ minLength: 4, maxLength: 60 })).map(([sid, n, s]) => post('forged signature', path(n), { ...form, 'x-twilio-signature': s }, Buffer.from(encode(params(sid))))),
    fc.tuple(hex(32), alnum(4, 8), hex(32)).map(([sid, n, token]) => post('forged signature', path(n), { ...form, 'x-twilio-signature': signature(path(n), params(sid), token) }, Buffer.from(encode(params(sid))))),
    // Signed for another notification id than the one in the URL.
    fc.tuple(hex(32), alnum(4, 8), alnum(4, 8)).filter(([, a, b]) => a !== b).map(([sid, a, b]) => post('forged signature', path(a), { ...form, 'x-twilio-signature': signature(path(b), params(sid)) }, Buffer.from(encode(params(sid))))),
    fc.tuple(hex(32), alnum(4, 8), fc.constantFrom('application/json', 'text/plain', '')).map(([sid, n, t]) =>
      post('wrong content-type', path(n), { ...(t ? { 'content-type': t } : {}), 'x-twilio-signature': signature(path(n), params(sid)) }, Buffer.from(encode(params(sid)))),
    ),
    // Correctly signed, not a status callback.
    fc.tuple(alnum(4, 8), fc.constantFrom<Record<string, string>>({}, { MessageSid: 'SMnothex', MessageStatus: 'delivered' }, { MessageSid: `SM${'0'.repeat(32)}` }, { SmsStatus: 'sent' })).map(([n, p]) =>
      post('invalid content', path(n), { ...form, 'x-twilio-signature': signature(path(n), p) }, Buffer.from(encode(p))),
    ),
    fc.tuple(alnum(4, 8), oversized(target.bodyLimitBytes)).map(([n, b]) => post('oversized', path(n), { ...form, 'x-twilio-signature': 'x' }, b)),
  );
}

/** For a documented route this file has no profile for: what needs no knowledge of it. */
function genericRoute(target: FuzzTarget, route: DocumentedRoute): fc.Arbitrary<HttpCase> {
  const params = route.template.match(/\{[^}]+\}/g) ?? [];
  const fill = (value: fc.Arbitrary<string>) => fc.array(value, { minLength: params.length, maxLength: params.length }).map((vs) => params.reduce((p, name, i) => p.replace(name, vs[i] ?? 'x'), route.template));
  const plausible = fill(alnum(4, 12).map((s) => `fz${s}`));
  const arbs: fc.Arbitrary<HttpCase>[] = [];
  if (route.secured) arbs.push(fc.tuple(plausible, badCredentials(target)).map(([p, c]) => http(c.category, route.method, p, { 'content-type': 'application/json', ...c.headers }, Buffer.from('{}'))));
  // A malformed escape in a parameter is refused by the router before any handler runs.
  if (params.length > 0) arbs.push(fill(badEscape).map((p) => http('bad escape', route.method, p, { authorization: `Bearer ${target.keys.admin}` })));
  if (arbs.length === 0) return fc.constant(null).chain(() => wrongMethod(target, route));
  return fc.oneof(...arbs);
}

/** A method the route does not document, without a key (any route it hits then needs one, or does not exist). */
function wrongMethod(target: FuzzTarget, route: DocumentedRoute): fc.Arbitrary<HttpCase> {
  const documented = new Set(target.routes.filter((r) => r.template === route.template).map((r) => r.method));
  const others = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !documented.has(m));
  if (others.length === 0) return unknownPath();
  const path = route.template.replace(/\{[^}]+\}/g, 'fz1');
  return fc.constantFrom(...others).map((m) => http('wrong method', m, path, { 'content-type': 'application/json' }, m === 'GET' ? undefined : Buffer.from('{}')));
}

/** Paths no route serves: junk segments, malformed escapes, traversal, under every prefix. */
function unknownPath(): fc.Arbitrary<HttpCase> {
  const segment = fc.oneof(alnum(1, 12).map((s) => `fz-${s}`), badEscape, fc.constantFrom('..', '%2e%2e', '%2F', '%00', ';', '~', '@', '$'));
  return fc
    .tuple(fc.constantFrom('', '/v1', '/v1/users/fz', '/webhooks', '/webhooks/twilio', '/assets/fz', '/v2'), fc.array(segment, { minLength: 1, maxLength: 6 }), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'))
    .map(([prefix, segments, method]) => http('unknown path', method, `${prefix}/fz-${segments.join('/')}`));
}

/** Requests that are not HTTP, or HTTP that Node's parser must refuse: answered by the server itself. */
function rawRequest(target: FuzzTarget): fc.Arbitrary<RawCase> {
  const paths = ['/', '/healthz', '/v1/events', '/webhooks/stripe', '/login'];
  const raw = (text: string) => Buffer.from(text, 'latin1');
  return fc
    .tuple(
      fc.constantFrom(...paths),
      fc.constantFrom(
        (p: string) => raw(`GET ${p}\x00 HTTP/1.1\r\nHost: x\r\n\r\n`),
        (p: string) => raw(`GET ${p}\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/9.9\r\nHost: x\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/1.1\r\nBad Header: x\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/1.1\r\nHost : x\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/1.1\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/1.1\nHost: x\n\n`),
        (p: string) => raw(`FUZZ ${p} HTTP/1.1\r\nHost: x\r\n\r\n`),
        (p: string) => raw(`GET ${p} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
        (p: string) => raw(`POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
        (p: string) => raw(`POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`),
        (p: string) => raw(`POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`),
        (p: string) => raw(`POST ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${target.keys.publish}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
        () => raw('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'),
      ),
    )
    .map(([p, make]) => ({ kind: 'raw' as const, category: 'not http', bytes: make(p) }));
}

/** Every hostile request, weighted so each route gets its share. */
export function fuzzCases(target: FuzzTarget): fc.Arbitrary<FuzzCase> {
  const profiled: Record<string, (t: FuzzTarget) => fc.Arbitrary<HttpCase>> = {
    'POST /v1/events': eventsRoute,
    'POST /v1/notifications': notificationsRoute,
    'GET /v1/users/{userId}/preferences': preferencesRoutes,
    'PUT /v1/users/{userId}/preferences': preferencesRoutes,
    'GET /v1/notifications/{id}': notificationStatusRoute,
    'GET /v1/dashboard': dashboardRoutes,
    'POST /login': dashboardRoutes,
    'POST /logout': dashboardRoutes,
    'GET /assets/{name}': dashboardRoutes,
    'GET /v1/unsubscribe/{token}': unsubscribeRoutes,
    'POST /v1/unsubscribe/{token}': unsubscribeRoutes,
    'POST /webhooks/stripe': stripeWebhook,
    'POST /webhooks/sendgrid': sendgridWebhook,
    'POST /webhooks/twilio/status': twilioWebhook,
  };
  // Each profile once (some cover several routes), every other documented route by what needs no
  // knowledge of it, and each path template with the methods it does not document.
  const profiles = new Set<(t: FuzzTarget) => fc.Arbitrary<HttpCase>>();
  const generic: { weight: number; arbitrary: fc.Arbitrary<FuzzCase> }[] = [];
  for (const route of target.routes) {
    const profile = profiled[`${route.method} ${route.template}`];
    if (profile) profiles.add(profile);
    else generic.push({ weight: route.secured || route.template.includes('{') ? 4 : 1, arbitrary: genericRoute(target, route) });
  }
  const perRoute = [...profiles].map((profile) => ({ weight: 10, arbitrary: profile(target) as fc.Arbitrary<FuzzCase> }));
  const templates = [...new Map(target.routes.map((r) => [r.template, r])).values()];
  const methods = templates.map((route) => ({ weight: 1, arbitrary: wrongMethod(target, route) as fc.Arbitrary<FuzzCase> }));
  return fc.oneof(...perRoute, ...generic, ...methods, { weight: 8, arbitrary: unknownPath() as fc.Arbitrary<FuzzCase> }, { weight: 4, arbitrary: rawRequest(target) as fc.Arbitrary<FuzzCase> });
}
