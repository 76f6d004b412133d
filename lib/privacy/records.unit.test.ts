import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSealed, newDataKey, open, seal } from './crypto.ts';
import { openJson, openRecord, sealJson, sealRecord, type ValueBox } from './records.ts';

/** A box with one real data key for every subject, counting what it seals. */
function box(): ValueBox & { sealed: string[] } {
  const key = newDataKey();
  const sealed: string[] = [];
  return {
    sealed,
    seal: (subject, plaintext, options) => {
      sealed.push(plaintext);
      return Promise.resolve(seal(key, subject, plaintext, options));
    },
    open: (value) => Promise.resolve(isSealed(value) ? (open(key, value) ?? 'erased') : value),
  };
}

describe('personal data in records', () => {
  it('seals the personal members of a provider document and nothing else, in document order', async () => {
    const b = box();
    const doc = {
      id: 'evt_1',
      data: {
        object: {
          object: 'customer',
          id: 'cus_1',
          name: 'Ada Lovelace',
          email: 'ada@example.com',
          description: 'Ada, 12 Analytical Row',
          address: { line1: '12 Analytical Row', city: 'London', country: 'GB' },
          metadata: { user_id: 'u1', name: 'kept: the integrator chose it' },
          tags: ['Ada Lovelace'],
          invoices: [{ object: 'invoice', customer_email: 'ada@example.com', amount_due: 1200, description: 'Pro plan' }],
        },
      },
    };
    const text = JSON.stringify(doc);
    const out = JSON.parse(await sealJson(text, (s, email) => b.seal('customer:cus_1', s, { email }))) as typeof doc;
    const o = out.data.object;
    assert.deepEqual(b.sealed, ['Ada Lovelace', 'ada@example.com', 'Ada, 12 Analytical Row', '12 Analytical Row', 'London', 'ada@example.com']);
    for (const v of [o.name, o.email, o.description, o.address.line1, o.address.city, o.invoices[0]?.customer_email]) assert.ok(isSealed(v as string), String(v));
    assert.match(o.email, /@example\.com$/, 'an email keeps its domain');
    assert.equal(o.address.country, 'GB');
    assert.deepEqual(o.metadata, doc.data.object.metadata);
    assert.deepEqual(o.tags, ['Ada Lovelace'], 'strings in arrays are not members');
    assert.equal(o.invoices[0]?.description, 'Pro plan', "only a customer's description is free text");
    assert.equal(o.invoices[0]?.amount_due, 1200);
    assert.equal(await openJson(JSON.stringify(out), (s) => b.open(s)), text, 'opened, the document reads as it was');
  });

  it('returns a document without personal members, or already sealed, byte for byte', async () => {
    const b = box();
    const plain = '{"id":"evt_2",  "data":{"object":{"object":"invoice","amount_due":500}}}';
    assert.equal(await sealJson(plain, (s, email) => b.seal('customer:cus_1', s, { email })), plain);
    const sealedOnce = await sealJson('{"name":"Ada"}', (s, email) => b.seal('customer:cus_1', s, { email }));
    assert.equal(await sealJson(sealedOnce, (s, email) => b.seal('customer:cus_1', s, { email })), sealedOnce);
    assert.deepEqual(b.sealed, ['Ada']);
  });

  it('opens a document that is one sealed string, bare or as a JSON string', async () => {
    const b = box();
    const token = await b.seal('user:u1', 'Ada Lovelace');
    assert.equal(await openJson(token, (s) => b.open(s)), 'Ada Lovelace');
    assert.equal(await openJson(JSON.stringify(token), (s) => b.open(s)), JSON.stringify('Ada Lovelace'));
    assert.equal(await openJson(JSON.stringify('enc.v1. but not a token'), (s) => b.open(s)), JSON.stringify('enc.v1. but not a token'));
  });

  it("seals a record into a new value: the caller's value is untouched and what sealing did not change is shared", async () => {
    const b = box();
    const preferences = { email: 'ada@example.com', phone: '+15550100', locale: 'en', suppressions: [{ channel: 'sms', address: '+15550100' }, { channel: 'email', address: '' }] };
    const previous = { email: '', phone: null, locale: 'en', suppressions: [] };
    const value = { user_id: 'u1', reason: null, preferences, previous, changed_at: 1 };
    const before = structuredClone(value);
    const out = await sealRecord(b, 'PreferencesChanged', value);
    assert.deepEqual(value, before, 'the input is not written');
    assert.notEqual(out, value);
    assert.notEqual(out.preferences, preferences);
    assert.ok(isSealed(out.preferences.email) && isSealed(out.preferences.phone) && isSealed(out.preferences.suppressions[0]?.address ?? ''));
    assert.equal(out.preferences.suppressions[1], preferences.suppressions[1], 'an item with nothing to seal is the same object');
    assert.equal(out.previous, previous, 'a field with nothing to seal is the same object');
    assert.deepEqual(b.sealed, ['ada@example.com', '+15550100', '+15550100']);
    const opened = await openRecord(b, 'PreferencesChanged', out);
    assert.deepEqual(opened, before);
  });

  it('refuses a record with personal data and no subject, and leaves one without personal data as it is', async () => {
    const b = box();
    await assert.rejects(sealRecord(b, 'UserSignedUp', { key: '', data: { user_id: '', email: 'ada@example.com', name: null } } as never), /names no subject/);
    const empty = { key: 'u1', data: { user_id: 'u1', email: '', name: null } };
    assert.equal(await sealRecord(b, 'UserSignedUp', empty as never), empty, 'nothing to seal: the same value');
    assert.deepEqual(b.sealed, []);
  });
});
