/**
 * Starts the HTTP server on HOST:PORT (127.0.0.1 by default: a deployment behind a proxy or in a
 * container sets HOST=0.0.0.0) and closes it gracefully on shutdown: stop accepting, let in-flight
 * requests finish (they may be waiting for a Kafka acknowledgement), then drop idle connections.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import type { Runtime } from '../../lib/runtime.ts';

export async function startServer(
  runtime: Runtime,
  app: express.Express,
  port = runtime.config.http.port,
  host = runtime.config.http.host,
): Promise<{ server: Server; host: string; port: number }> {
  const server = createServer(app);
  // Idle keep-alive connections stay open longer than a load balancer's idle timeout (60 s at most
  // clouds'): otherwise the server closes a connection the client or proxy is just reusing, and
  // that request fails with a reset (seen at 1,000 webhooks/s with 5 s).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port: actual } = server.address() as AddressInfo;
  runtime.shutdown.add('http', async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 10000).unref();
    });
  });
  runtime.log.info({ host: address, port: actual }, 'http listening');
  return { server, host: address, port: actual };
}
