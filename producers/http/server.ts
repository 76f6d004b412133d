/**
 * Starts the HTTP server and closes it gracefully on shutdown: stop accepting, let in-flight
 * requests finish (they may be waiting for a Kafka acknowledgement), then drop idle connections.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import type { Runtime } from '../../lib/runtime.ts';

export async function startServer(runtime: Runtime, app: express.Express, port = runtime.config.http.port): Promise<{ server: Server; port: number }> {
  const server = createServer(app);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  runtime.shutdown.add('http', async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 10000).unref();
    });
  });
  runtime.log.info({ port: actual }, 'http listening');
  return { server, port: actual };
}
