/**
 * The process runtime: validated config, the root logger, and the shared clients (Kafka, Postgres,
 * Redis), each created on first use and closed once, in reverse order, on shutdown.
 */
import { configForNamespace, loadConfig, type Config } from './config.ts';
import { Db } from './db.ts';
import { Kafka, type KafkaOptions } from './kafka/index.ts';
import { pino } from 'pino';
import { createLogger, type Logger } from './log.ts';
import { parseMasterKey } from './privacy/crypto.ts';
import { Keyring } from './privacy/keyring.ts';
import { createRedis, type Redis } from './redis.ts';
import { Shutdown } from './shutdown.ts';

export interface RuntimeOptions {
  /** Passed to the Kafka client; nothing in production passes any (see KafkaOptions). */
  readonly kafka?: KafkaOptions;
}

export class Runtime {
  readonly config: Config;
  readonly log: Logger;
  readonly shutdown: Shutdown;
  private readonly options: RuntimeOptions;
  private kafkaClient: Kafka | null = null;
  private dbClient: Db | null = null;
  private redisClient: Redis | null = null;
  private keyring: Keyring | null = null;
  private keyringVerified: Promise<Keyring> | null = null;

  constructor(config: Config, log?: Logger, options: RuntimeOptions = {}) {
    this.config = config;
    this.options = options;
    this.log = log ?? createLogger(config);
    this.shutdown = new Shutdown(this.log);
  }

  static fromEnv(service = 'eventline', env?: Readonly<Record<string, string | undefined>>): Runtime {
    return new Runtime(loadConfig(env, service));
  }

  /** For commands whose stdout is their output: logs go to stderr, and only warnings unless LOG_LEVEL asks for more. */
  static forCli(env?: Readonly<Record<string, string | undefined>>): Runtime {
    const config = loadConfig(env, 'eventline-cli');
    const level = config.logLevel === 'info' ? 'warn' : config.logLevel;
    return new Runtime(config, createLogger({ ...config, logLevel: level }, pino.destination(2)));
  }

  /** A runtime with this one's configuration and logger in another namespace (its own clients; close it). */
  forNamespace(namespace: string): Runtime {
    return new Runtime(configForNamespace(this.config, namespace), this.log);
  }

  get kafka(): Kafka {
    if (!this.kafkaClient) {
      const kafka = new Kafka(this.config, this.log, this.options.kafka);
      // Personal fields are sealed as records are encoded; the master key is needed (and checked) on first use.
      kafka.serde.useSealer({
        seal: async (subject, plaintext, options) => (await this.privacy()).seal(subject, plaintext, options),
        open: async (value) => (await this.privacy()).open(value),
      });
      this.kafkaClient = kafka;
      this.shutdown.add('kafka', () => kafka.close(), 'connections');
    }
    return this.kafkaClient;
  }

  get db(): Db {
    if (!this.dbClient) {
      const db = new Db(this.config, this.log);
      this.dbClient = db;
      this.shutdown.add('postgres', () => db.close(), 'connections');
    }
    return this.dbClient;
  }

  get redis(): Redis {
    if (!this.redisClient) {
      const redis = createRedis(this.config, this.log);
      this.redisClient = redis;
      this.shutdown.add('redis', async () => {
        await redis.quit().catch(() => redis.disconnect());
      }, 'connections');
    }
    return this.redisClient;
  }

  /**
   * The keyring of per-subject data keys (ADR 0018), once the master key is known to be the one the
   * database was set up with. Throws config_invalid when EVENTLINE_MASTER_KEY is missing, malformed
   * or wrong: `eventline run` calls it at start, so such a process stops before it serves anything.
   */
  privacy(): Promise<Keyring> {
    if (!this.keyringVerified) {
      const attempt = (async () => {
        this.keyring ??= new Keyring(this.db, parseMasterKey(this.config.masterKey));
        await this.keyring.verify();
        return this.keyring;
      })();
      this.keyringVerified = attempt;
      attempt.catch(() => {
        if (this.keyringVerified === attempt) this.keyringVerified = null;
      });
    }
    return this.keyringVerified;
  }

  /** Closes everything that was opened. */
  close(): Promise<void> {
    return this.shutdown.run();
  }
}
