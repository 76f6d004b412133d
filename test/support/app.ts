/**
 * Starts Eventline's HTTP app in-process for a test environment, on an ephemeral port.
 */
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { buildHttpApp } from '../../producers/http/routes.ts';
import type { Runtime } from '../../lib/runtime.ts';

export interface RunningApp {
  readonly url: string;
  close(): Promise<void>;
}

export async function startApp(rt: Runtime): Promise<RunningApp> {
  const { app } = buildHttpApp(rt);
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
