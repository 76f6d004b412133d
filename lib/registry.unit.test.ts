import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registry } from './registry.ts';

describe('the registry client against a registry that never answers', () => {
  let server: Server;
  let url = '';
  let requests = 0;

  before(async () => {
    // Accepts every request and never answers, as a registry stuck on its storage would.
    server = createServer(() => {
      requests++;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/apis/ccompat/v7`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('given a register call, when no answer comes, then it fails after its retries instead of hanging', async () => {
    const registry = new Registry(url, { timeoutMs: 150 });
    const started = Date.now();
    await assert.rejects(() => registry.register('s-value', { type: 'record', name: 'R', fields: [] }));
    assert.ok(Date.now() - started < 8_000, `gave up after ${Date.now() - started} ms`);
    assert.ok(requests >= 2, `retried: ${requests} requests`);
  });
});
