/**
 * A local SMTP relay (smtp-server) standing in for the relay behind the second email path, as the
 * fake HTTP providers stand in for SendGrid and Twilio: the real nodemailer client talks SMTP to it.
 * It keeps every message it accepted and can be told to refuse: `failWith(421)` answers every
 * session with that code at MAIL FROM, until `failWith(null)`; `rejectRecipients(550)` refuses
 * every recipient.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface RelayedMail {
  readonly from: string;
  readonly to: readonly string[];
  /** The raw message (headers and body). */
  readonly data: string;
  header(name: string): string | null;
}

export class FakeSmtpRelay {
  readonly received: RelayedMail[] = [];
  /** Sessions refused while failWith was set. */
  refused = 0;
  url = '';
  private failCode: number | null = null;
  private rejectCode: number | null = null;
  private readonly server: SMTPServer;

  constructor(
    readonly user = 'relay-user',
    readonly password = 'relay-password-0',
  ) {
    this.server = new SMTPServer({
      logger: false,
      disabledCommands: ['STARTTLS'],
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: true,
      onAuth: (auth, _session, cb) => (auth.username === this.user && auth.password === this.password ? cb(null, { user: auth.username }) : cb(Object.assign(new Error('invalid credentials'), { responseCode: 535 }))),
      onMailFrom: (_address, _session, cb) => {
        if (this.failCode === null) return cb();
        this.refused++;
        cb(Object.assign(new Error('relay unavailable'), { responseCode: this.failCode }));
      },
      onRcptTo: (_address, _session, cb) => (this.rejectCode === null ? cb() : cb(Object.assign(new Error('no such mailbox'), { responseCode: this.rejectCode }))),
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const data = Buffer.concat(chunks).toString('utf8');
          const headers = data.split(/\r?\n\r?\n/)[0] ?? '';
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
            header: (name) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(headers.replace(/\r?\n[ \t]+/g, ' '))?.[1]?.trim() ?? null,
          });
          cb();
        });
      },
    });
  }

  failWith(code: number | null): this {
    this.failCode = code;
    return this;
  }

  rejectRecipients(code: number | null): this {
    this.rejectCode = code;
    return this;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = this.server.server.address() as AddressInfo;
    this.url = `smtp://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@127.0.0.1:${port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
