import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { Vonage } from '@vonage/server-sdk';
import { isEventlineError } from '../../lib/errors.ts';
import { checkVonageSignature, parseVonageDlr, toDeliveryEvent, vonageDeliveryEvent, vonageDlrError, type VonageSignatureMethod } from './to-event.ts';

/**
 * Vonage's documented signing, written out here on its own: fields but `sig` sorted by name, "&"
 * and "=" in values replaced by "_", "&k=v" joined; MD5 of that plus the secret, or an HMAC of it
 * keyed by the secret. HMACs are given upper-case, as Vonage's .NET SDK documents them.
 */
function vonageSign(fields: Record<string, string>, secret: string, method: VonageSignatureMethod): string {
  let base = '';
  for (const key of Object.keys(fields).sort()) base += `&${key}=${fields[key]?.replaceAll('&', '_').replaceAll('=', '_')}`;
  if (method === 'md5hash') return createHash('md5').update(`${base}${secret}`).digest('hex');
  const algorithm = { md5hmac: 'md5', sha1hmac: 'sha1', sha256hmac: 'sha256', sha512hmac: 'sha512' }[method];
  return createHmac(algorithm, secret).update(base).digest('hex').toUpperCase();
}

const secret = 'S1gnatureS3cret0123456789abcdef0';
const now = Date.UTC(2025, 9, 9, 12, 0, 7); // two seconds after the receipt below was signed
const tolerance = 5 * 60_000;
const dlrFields: Record<string, string> = {
  msisdn: '447700900123',
  to: '447700900000',
  'network-code': '23410',
  messageId: '0A0000001234567B',
  price: '0.03330000',
  status: 'delivered',
  scts: '2510091200',
  'err-code': '0',
  'api-key': 'a1b2c3d4',
  'client-ref': 'evt_01J9Z6Q2:sms',
  'message-timestamp': '2025-10-09 12:00:05',
  timestamp: '1760011205', // 2025-10-09T12:00:05Z
  nonce: '3c8e6b1e-5c7a-4c52-9a44-2a8f6a1c0d11',
};
const signed = (fields: Record<string, string>, method: VonageSignatureMethod = 'sha256hmac', key = secret) => ({ ...fields, sig: vonageSign(fields, key, method) });
const opts = (method: VonageSignatureMethod = 'sha256hmac') => ({ secret, method, nowMs: now, toleranceMs: tolerance });
const codeOf = (r: { ok: true } | { ok: false; code: string }) => (r.ok ? 'ok' : r.code);

describe('Vonage delivery receipt signature', () => {
  it("matches the MD5-hash vector from Vonage's Python SDK tests", () => {
    // vonage-python-sdk test_check_signature: {a: 1, b: 2, timestamp: 1461605396}, secret "secret".
    const params = { a: '1', b: '2', timestamp: '1461605396', sig: '6af838ef94998832dbfc29020b564830' };
    assert.equal(codeOf(checkVonageSignature(params, { secret: 'secret', method: 'md5hash', nowMs: 1_461_605_396_000 + 30_000, toleranceMs: tolerance })), 'ok');
    assert.equal(codeOf(checkVonageSignature({ ...params, b: '3' }, { secret: 'secret', method: 'md5hash', nowMs: 1_461_605_396_000, toleranceMs: tolerance })), 'invalid_signature');
  });

  it("agrees with the official SDK's verifier (SMS.verifySignature) on good and tampered receipts", () => {
    type Algorithm = Parameters<Vonage['sms']['verifySignature']>[3];
    const sdk = new Vonage({ apiKey: 'a1b2c3d4', apiSecret: 'unused' }).sms;
    const sdkName = { md5hash: 'MD5HASH', md5hmac: 'MD5HMAC', sha1hmac: 'SHA1HMAC', sha256hmac: 'SHA256HMAC', sha512hmac: 'SHA512HMAC' } as const;
    for (const method of ['md5hash', 'md5hmac', 'sha1hmac', 'sha256hmac', 'sha512hmac'] as const) {
      const good = signed({ ...dlrFields, 'client-ref': 'x&y=z' }, method);
      for (const params of [good, { ...good, price: '0.00000001' }]) {
        const theirs = sdk.verifySignature(params.sig, params, secret, sdkName[method] as Algorithm);
        assert.equal(theirs, params === good, `the SDK on ${method}`);
        assert.equal(checkVonageSignature(params, opts(method)).ok, theirs, method);
      }
    }
  });

  it('accepts a receipt signed with each method, the signature in either case', () => {
    for (const method of ['md5hash', 'md5hmac', 'sha1hmac', 'sha256hmac', 'sha512hmac'] as const) {
      const params = signed(dlrFields, method);
      assert.equal(codeOf(checkVonageSignature(params, opts(method))), 'ok', method);
      assert.equal(codeOf(checkVonageSignature({ ...params, sig: params.sig.toLowerCase() }, opts(method))), 'ok', `${method}, lower case`);
    }
  });

  it('signs values with "&" and "=" as "_"', () => {
    const fields = { ...dlrFields, 'client-ref': 'a&b=c' };
    assert.equal(codeOf(checkVonageSignature(signed(fields), opts())), 'ok');
    // The same signature fits the value written with underscores (Vonage's construction cannot tell them apart).
    assert.equal(codeOf(checkVonageSignature({ ...signed(fields), 'client-ref': 'a_b_c' }, opts())), 'ok');
  });

  it('accepts empty fields left out of the signature, as Vonage’s Java SDK signs them', () => {
    const withEmpty = { ...dlrFields, 'client-ref': '' };
    const { 'client-ref': _dropped, ...without } = withEmpty;
    assert.equal(codeOf(checkVonageSignature({ ...withEmpty, sig: vonageSign(without, secret, 'sha256hmac') }, opts())), 'ok');
    assert.equal(codeOf(checkVonageSignature(signed(withEmpty), opts())), 'ok');
  });

  it('refuses a changed field, another secret, another method, no sig, no timestamp, no configured secret', () => {
    const good = signed(dlrFields);
    const cases: [string, Record<string, string>, ReturnType<typeof opts>][] = [
      ['status changed', { ...good, status: 'failed' }, opts()],
      ['field added', { ...good, extra: '1' }, opts()],
      ['field removed', Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'err-code')), opts()],
      ['another secret', signed(dlrFields, 'sha256hmac', 'another-secret'), opts()],
      ['another method', signed(dlrFields, 'sha1hmac'), opts('sha256hmac')],
      ['md5 hash of the right fields, HMAC expected', signed(dlrFields, 'md5hash'), opts('md5hmac')],
      ['no sig', Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'sig')), opts()],
      ['sig empty', { ...good, sig: '' }, opts()],
      ['sig truncated', { ...good, sig: good.sig.slice(0, 32) }, opts()],
      ['no timestamp', signed(Object.fromEntries(Object.entries(dlrFields).filter(([k]) => k !== 'timestamp'))), opts()],
      ['timestamp not a number', signed({ ...dlrFields, timestamp: '2025-10-09' }), opts()],
      ['no secret configured', good, { ...opts(), secret: '' }],
    ];
    for (const [name, params, options] of cases) assert.equal(codeOf(checkVonageSignature(params, options)), 'invalid_signature', name);
  });

  it('refuses a well-signed receipt whose timestamp is outside the tolerance, either way', () => {
    const at = (seconds: number) => signed({ ...dlrFields, timestamp: String(seconds) });
    const nowS = now / 1000;
    assert.equal(codeOf(checkVonageSignature(at(nowS - 300), opts())), 'ok');
    assert.equal(codeOf(checkVonageSignature(at(nowS - 301), opts())), 'stale_timestamp');
    assert.equal(codeOf(checkVonageSignature(at(nowS + 301), opts())), 'stale_timestamp');
    assert.equal(codeOf(checkVonageSignature(at(nowS - 301), { ...opts(), toleranceMs: 10 * 60_000 })), 'ok');
  });
});

describe('Vonage delivery receipt to delivery record', () => {
  it('maps a verified receipt, keyed by the notification id when known', () => {
    const params = signed({ ...dlrFields, status: 'failed', 'err-code': '3' });
    const result = vonageDeliveryEvent(params, 'ntf_7', now, { secret, method: 'sha256hmac', toleranceMs: tolerance });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.key, 'ntf_7');
    assert.deepEqual(result.value, {
      event_id: '0A0000001234567B:failed',
      occurred_at: Date.UTC(2025, 9, 9, 12, 0, 5),
      received_at: now,
      provider: 'vonage',
      channel: 'sms',
      notification_id: 'ntf_7',
      provider_message_id: '0A0000001234567B',
      kind: 'failed',
      provider_event: 'failed',
      recipient: '+447700900123',
      reason: 'Absent Subscriber - Permanent',
      error_code: '3',
      bounce_type: null,
      url: null,
      raw: JSON.stringify(params),
      user_id: null,
    });
    assert.deepEqual(JSON.parse(result.value.raw), params);
  });

  it('keys by the message id without a notification id; err-code 0 is no error', () => {
    const parsed = parseVonageDlr(dlrFields);
    assert.ok(parsed.ok);
    const { key, value } = toDeliveryEvent(parsed.dlr, null, now);
    assert.equal(key, '0A0000001234567B');
    assert.equal(value.kind, 'delivered');
    assert.equal(value.error_code, null);
    assert.equal(value.reason, null);
  });

  it('maps each DLR status to a delivery kind, keeping the status as the provider event', () => {
    const expected: Record<string, string> = {
      delivered: 'delivered',
      accepted: 'sent',
      buffered: 'sent',
      expired: 'undelivered',
      failed: 'failed',
      rejected: 'failed',
      unknown: 'unknown',
      partially_delivered: 'unknown',
      constructor: 'unknown',
    };
    for (const [status, kind] of Object.entries(expected)) {
      const parsed = parseVonageDlr({ ...dlrFields, status });
      assert.ok(parsed.ok, status);
      const { value } = toDeliveryEvent(parsed.dlr, null, now);
      assert.deepEqual([value.kind, value.provider_event], [kind, status], status);
    }
  });

  it('takes the time from message-timestamp (UTC) when unsigned, else the receive time', () => {
    const { timestamp: _t, ...unsigned } = dlrFields;
    const parsed = parseVonageDlr({ ...unsigned, 'message-timestamp': '2025-10-09 11:59:58' });
    assert.ok(parsed.ok);
    assert.equal(toDeliveryEvent(parsed.dlr, null, now).value.occurred_at, Date.UTC(2025, 9, 9, 11, 59, 58));
    const { 'message-timestamp': _m, ...timeless } = unsigned;
    const bare = parseVonageDlr(timeless);
    assert.ok(bare.ok);
    assert.equal(toDeliveryEvent(bare.dlr, null, now).value.occurred_at, now);
  });

  it('refuses a well-signed receipt with missing or malformed fields as invalid_payload', () => {
    const without = (key: string) => Object.fromEntries(Object.entries(dlrFields).filter(([k]) => k !== key));
    const cases: Record<string, string>[] = [without('messageId'), without('status'), { ...dlrFields, messageId: 'x' }, { ...dlrFields, messageId: '0A00 0000/../1' }, { ...dlrFields, status: '' }];
    for (const fields of cases) {
      const result = vonageDeliveryEvent(signed(fields), 'ntf_7', now, { secret, method: 'sha256hmac', toleranceMs: tolerance });
      assert.equal(codeOf(result), 'invalid_payload', JSON.stringify(fields));
    }
  });

  it('checks the signature before the fields, and gives the route errors it answers 400 with', () => {
    const unsignedJunk = vonageDeliveryEvent({ status: 'delivered' }, null, now, { secret, method: 'sha256hmac', toleranceMs: tolerance });
    assert.equal(codeOf(unsignedJunk), 'invalid_signature');
    assert.ok(!unsignedJunk.ok);
    const err = vonageDlrError(unsignedJunk);
    assert.ok(isEventlineError(err, 'signature_invalid'));
    assert.equal(err.status, 400);
    assert.deepEqual(err.detail, { reason: 'invalid_signature' });
    assert.ok(isEventlineError(vonageDlrError({ ok: false, code: 'invalid_payload', detail: 'x' }), 'bad_request'));
    assert.ok(isEventlineError(vonageDlrError({ ok: false, code: 'stale_timestamp', detail: 'x' }), 'timestamp_stale'));
  });
});
