import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './log.ts';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

describe('log redaction', () => {
  it('keeps personal data out of every log line, at the top level and nested, and keeps the ids', async () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: { name: 'test', version: '0' }, logLevel: 'debug', namespace: null }, stream);
    const personal = ['ada@example.com', '+14155550199', 'Ada Lovelace', '12 Analytical Row', '203.0.113.9', 'STOP please', 'https://push.example/endpoint/abc'];
    log.info({ email: 'ada@example.com', phone: '+14155550199', userId: 'user_ada' }, 'top level');
    log.info({ customer: { id: 'cus_1', name: 'Ada Lovelace', email: 'ada@example.com', address: { line1: '12 Analytical Row' } } }, 'nested');
    log.warn({ params: { To: '+14155550199', From: '+14155550100', Body: 'STOP please', MessageSid: 'SM1' } }, 'a Twilio form');
    log.error({ event: { data: { object: { billing_details: { name: 'Ada Lovelace' } } } }, notificationId: 'ntf_1' }, 'deep');
    log.debug({ req: { body: '{"email":"ada@example.com"}' }, session: { ip: '203.0.113.9' }, subscription: { endpoint: 'https://push.example/endpoint/abc' } }, 'request');
    log.info({ record: { payload: '{"name":"Ada Lovelace"}', raw: '{"email":"ada@example.com"}', recipient: 'ada@example.com' } }, 'record');
    await new Promise((r) => setImmediate(r));
    const text = lines.join('');
    assert.equal(lines.length, 6, 'every line written');
    for (const p of personal) assert.ok(!text.includes(p), `${p} reached the log: ${lines.find((l) => l.includes(p))}`);
    for (const id of ['user_ada', 'cus_1', 'SM1', 'ntf_1']) assert.ok(text.includes(id), `the id ${id} is kept`);
    assert.ok(text.includes('[redacted]'));
  });
});
