/**
 * In-process servers that speak just enough of the Postgres and Redis wire protocols to make the
 * real drivers (pg, ioredis) fail the way a real server makes them fail: an error answer at
 * connection or at query time, a connection dropped, or no answer at all. For unit tests of error
 * handling, which must not depend on the local stack.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface WireServer {
  readonly port: number;
  close(): Promise<void>;
}

async function listen(onSocket: (socket: Socket) => void): Promise<WireServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on which nothing listens (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = await listen(() => undefined);
  await server.close();
  return server.port;
}

/** A Postgres ErrorResponse as the server sends it. */
export interface PgError {
  readonly severity: 'ERROR' | 'FATAL';
  readonly code: string;
  readonly message: string;
}

function pgMessage(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function pgErrorResponse(e: PgError): Buffer {
  const field = (code: string, value: string) => Buffer.from(`${code}${value}\0`, 'utf8');
  return pgMessage('E', Buffer.concat([field('S', e.severity), field('V', e.severity), field('C', e.code), field('M', e.message), Buffer.from([0])]));
}

const authenticationOk = pgMessage('R', Buffer.from([0, 0, 0, 0]));
const readyForQuery = pgMessage('Z', Buffer.from('I', 'latin1'));

/**
 * A Postgres that answers the startup with `onStartup` (an error, then it closes) or accepts any
 * login, and then answers every query with `onQuery`: an error (a FATAL one closes the connection,
 * as a terminated backend does) or `drop` (the connection closes with no answer).
 */
export function fakePostgres(behaviour: { onStartup?: PgError | 'drop'; onQuery?: PgError | 'drop' }): Promise<WireServer> {
  return listen((socket) => {
    let started = false;
    socket.on('data', () => {
      if (!started) {
        started = true;
        const s = behaviour.onStartup;
        if (s === 'drop') return void socket.destroy();
        if (s) return void socket.end(pgErrorResponse(s));
        socket.write(Buffer.concat([authenticationOk, readyForQuery]));
        return;
      }
      const q = behaviour.onQuery;
      if (q === undefined || q === 'drop') return void socket.destroy();
      if (q.severity === 'FATAL') return void socket.end(pgErrorResponse(q));
      socket.write(Buffer.concat([pgErrorResponse(q), readyForQuery]));
    });
  });
}

/** A Redis that answers every command with `reply` (raw RESP, e.g. "-READONLY …\r\n"), or never answers. */
export function fakeRedis(reply: string | null): Promise<WireServer> {
  return listen((socket) => {
    socket.on('data', () => {
      if (reply !== null) socket.write(reply);
    });
  });
}
