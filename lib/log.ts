/**
 * Logging: one pino root logger per process carrying `service` and `version`, child loggers per
 * component, data in the object and a constant message. Secrets and personal data are redacted.
 * kafkajs' own log lines reach these loggers through lib/kafka/client.ts (kafkaLogCreator).
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { Config } from './config.ts';
import { logCorrelation } from './tracing.ts';

export type { Logger } from 'pino';

/**
 * Fields that hold personal data (ADR 0018) wherever they appear, up to three levels deep: a
 * provider's form (Twilio's To, From, Body), a Stripe object, a request or message. Personal data
 * inside an error's message text is not covered by paths: the adapters log ids, not addresses.
 */
const personalKeys = ['email', 'phone', 'to', 'from', 'To', 'From', 'Body', 'recipient', 'msisdn', 'name', 'first_name', 'last_name', 'address', 'ip', 'endpoint', 'payload', 'raw', 'body', 'data'];

function personalPaths(): string[] {
  return personalKeys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
}

/** Paths whose values never reach a log line. */
export const redactedPaths = [
  'password',
  'secret',
  'token',
  'apiKey',
  'api_key',
  'authorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'req.headers["x-twilio-signature"]',
  'req.headers["x-twilio-email-event-webhook-signature"]',
  'headers.authorization',
  'headers.cookie',
  ...personalPaths(),
];

export function createLogger(config: Pick<Config, 'service' | 'logLevel' | 'namespace'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: config.service.name, version: config.service.version, ...(config.namespace ? { namespace: config.namespace } : {}) },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // A line written inside a span names its trace (nothing when tracing is off).
      mixin: logCorrelation,
    },
    destination,
  );
}
