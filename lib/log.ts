/**
 * Logging: one pino root logger per process carrying `service` and `version`, child loggers per
 * component, data in the object and a constant message. Secrets and personal data are redacted.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { logLevel as KafkaLogLevel, type logCreator as KafkaLogCreator } from 'kafkajs';
import type { Config } from './config.ts';

export type { Logger } from 'pino';

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
  'email',
  'phone',
  'to',
  'recipient',
  '*.email',
  '*.phone',
  '*.to',
  '*.recipient',
  'payload',
  'raw',
  'body',
  '*.payload',
  '*.raw',
];

export function createLogger(config: Pick<Config, 'service' | 'logLevel' | 'namespace'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: config.service.name, version: config.service.version, ...(config.namespace ? { namespace: config.namespace } : {}) },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * Route kafkajs' own log lines into a pino logger. kafkajs logs retriable protocol answers
 * ("coordinator is loading") as errors; they are warnings for us. Real failures surface through
 * the adapter (consumer CRASH events, rejected appends), which log at error themselves.
 */
export function kafkaLogCreator(log: Logger): KafkaLogCreator {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }) => {
      const { message, ...data } = entry;
      const msg = `kafkajs: ${message}`;
      switch (level) {
        case KafkaLogLevel.ERROR:
        case KafkaLogLevel.WARN:
          kafkaLog.warn(data, msg);
          break;
        case KafkaLogLevel.INFO:
          kafkaLog.info(data, msg);
          break;
        case KafkaLogLevel.DEBUG:
          kafkaLog.debug(data, msg);
          break;
        case KafkaLogLevel.NOTHING:
          break;
      }
    };
}

/** The kafkajs log level matching a pino level (kafkajs INFO is chatty: it starts at WARN unless debugging). */
export function kafkaLogLevel(level: string): KafkaLogLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return KafkaLogLevel.DEBUG;
    case 'silent':
      return KafkaLogLevel.NOTHING;
    case 'fatal':
    case 'error':
      return KafkaLogLevel.ERROR;
    default:
      return KafkaLogLevel.WARN;
  }
}
