import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { Runtime } from '../../lib/runtime.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { buildHttpApp } from './routes.ts';
import { startServer } from './server.ts';

describe('the HTTP server listen address', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('listen', { PORT: '0', HOST: '' });
  });
  after(() => t?.cleanup());

  async function listenWith(host: string | undefined): Promise<{ host: string; port: number; close: () => Promise<void> }> {
    const rt = new Runtime(loadConfig({ ...t.env, ...(host === undefined ? {} : { HOST: host }) }, 'test-listen'));
    const { app } = buildHttpApp(rt);
    const started = await startServer(rt, app);
    return { host: started.host, port: started.port, close: () => rt.close() };
  }

  it('given no HOST, then the server listens on 127.0.0.1 only and answers there', async () => {
    const server = await listenWith(undefined);
    try {
      assert.equal(server.host, '127.0.0.1');
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
    } finally {
      await server.close();
    }
  });

  it('given HOST=0.0.0.0 (a deployment behind a proxy), then the server listens on every interface', async () => {
    const server = await listenWith('0.0.0.0');
    try {
      assert.equal(server.host, '0.0.0.0');
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
    } finally {
      await server.close();
    }
  });
});
