/**
 * The environment contract (ARCHITECTURE §2), validated once at boot into a frozen, typed object.
 * This is the only module that reads `process.env`; everything else receives a `Config`.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { EventlineError } from './errors.ts';

const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The domain-event rules shipped with Eventline (processors/rules), used when EVENTLINE_RULES names none. */
export const DEFAULT_RULES_PATH = fileURLToPath(new URL('../rules/default.json', import.meta.url));

const optionalText = z
  .string()
  .transform((s) => s.trim())
  .transform((s) => (s === '' ? null : s))
  .nullable()
  .default(null);

const url = (fallback: string, protocols: string[]) =>
  z
    .string()
    .trim()
    .default(fallback)
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL with protocol ${protocols.join(' or ')}`);

/** An optional http(s) URL: unset or empty is null. */
const optionalHttpUrl = optionalText.refine((v) => {
  if (v === null) return true;
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be an http: or https: URL, e.g. http://127.0.0.1:4318');

/** A listen address: an IPv4 or IPv6 literal, or a host name (no port, no scheme). */
const listenHost = z
  .string()
  .trim()
  .optional()
  .transform((h) => (h ? h : '127.0.0.1'))
  .refine(
    (h) => isIP(h.replace(/^\[(.*)\]$/, '$1')) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h),
    'must be an IP address or a host name to listen on, e.g. 127.0.0.1 (local only) or 0.0.0.0 (every interface, behind a proxy)',
  )
  .transform((h) => h.replace(/^\[(.*)\]$/, '$1'));

/**
 * A full-access key from the environment must be as hard to guess as one `eventline keys create`
 * makes: an `evl_<id>_<secret>` key, or at least 32 random bytes written as base64, base64url or
 * hex (43+ characters). A short or patterned value ("changeme", "test-key") is refused at boot.
 * The message never repeats a key.
 */
const API_KEY_FORMAT = /^(?:evl_[a-f0-9]{12}_[A-Za-z0-9_-]{43}|[A-Za-z0-9+/_-]{43,}={0,2})$/;
/** Distinct characters the random part must show (64 random hex characters show fewer than 12 of the 16 with odds of about 2 in 10 million; 43 base64url characters show about 31). */
const API_KEY_MIN_DISTINCT = 12;

export function apiKeyProblem(key: string): string | null {
  if (!API_KEY_FORMAT.test(key)) return `is not an evl_<id>_<secret> key nor 43+ base64/base64url/hex characters (${key.length} characters)`;
  // Judge the secret, not the fixed `evl_<id>_` prefix around it.
  const secret = key.startsWith('evl_') ? key.slice(17) : key;
  if (new Set(secret).size < API_KEY_MIN_DISTINCT) return `has fewer than ${API_KEY_MIN_DISTINCT} distinct characters in its secret: it is not random`;
  return null;
}

const apiKeyList = z
  .string()
  .default('')
  .transform((s) => s.split(',').map((k) => k.trim()).filter((k) => k !== ''))
  .superRefine((keys, ctx) => {
    keys.forEach((key, i) => {
      const problem = apiKeyProblem(key);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          message: `key ${i + 1} of ${keys.length} ${problem}; use a key from \`eventline keys create\`, or 32 random bytes such as \`openssl rand -base64 32\``,
        });
      }
    });
  });

const brokerList = z
  .string()
  .default('127.0.0.1:9092')
  .transform((s) => s.split(',').map((b) => b.trim()).filter((b) => b !== ''))
  .refine((bs) => bs.length > 0 && bs.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), 'must be a comma-separated list of host:port');

const schema = z.object({
  KAFKA_BROKERS: brokerList,
  SCHEMA_REGISTRY_URL: url('http://127.0.0.1:8081/apis/ccompat/v7', ['http:', 'https:']),
  DATABASE_URL: url('postgres://postgres@127.0.0.1:5432/eventline', ['postgres:', 'postgresql:']),
  REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  EVENTLINE_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  // OpenTelemetry's own variables (lib/tracing.ts): an endpoint turns tracing on; the SDK reads the rest itself.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalHttpUrl,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalHttpUrl,
  OTEL_SDK_DISABLED: z.string().trim().toLowerCase().default('false'),
  OTEL_TRACES_EXPORTER: z.string().trim().default('otlp'),
  OTEL_SERVICE_NAME: optionalText,
  HOST: listenHost,
  STRIPE_WEBHOOK_SECRET: optionalText,
  STRIPE_API_KEY: optionalText,
  SENDGRID_API_KEY: optionalText,
  SENDGRID_WEBHOOK_PUBLIC_KEY: optionalText,
  TWILIO_ACCOUNT_SID: optionalText,
  TWILIO_AUTH_TOKEN: optionalText,
  TWILIO_FROM_NUMBER: optionalText,
  UNSUBSCRIBE_SECRET: optionalText,
  EVENTLINE_MASTER_KEY: optionalText,
  EVENTLINE_API_KEYS: apiKeyList,
  EVENTLINE_NAMESPACE: z
    .string()
    .trim()
    .default('')
    .refine((s) => s === '' || /^[a-z0-9][a-z0-9_-]{0,39}$/.test(s), 'lowercase letters, digits, _ and -, at most 40 characters')
    .transform((s) => (s === '' ? null : s)),
  EVENTLINE_DEMO: z.enum(['on', 'off']).default('on'),
  // Additions beyond the contract, all optional.
  EVENTLINE_PUBLIC_URL: optionalText,
  EVENTLINE_EMAIL_FROM: z.string().trim().default('Eventline <notifications@eventline.local>'),
  EVENTLINE_RISK_TEAM_USER: z.string().trim().default('risk-team'),
  EVENTLINE_REPORTING_CURRENCY: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z]{3}$/, 'a three-letter ISO 4217 code, e.g. usd')
    .default('usd'),
  EVENTLINE_RISK_TEAM_EMAIL: z.string().trim().default('risk@eventline.local'),
  EVENTLINE_RETENTION_TEAM_USER: z.string().trim().default('retention-team'),
  /** What an exhausted dunning case does at Stripe: none (record only), cancel (the subscription), mark_uncollectible (the invoice). */
  EVENTLINE_DUNNING_END_ACTION: z.enum(['none', 'cancel', 'mark_uncollectible']).default('none'),
  /** How often a fraud scorer reads the allow and block lists again (ms). */
  EVENTLINE_RISK_LISTS_REFRESH_MS: z.coerce.number().int().min(100).max(600_000).default(2_000),
  /** A dunning reminder opened or clicked without a payment: the next one this many hours later (0: on its schedule). */
  EVENTLINE_DUNNING_ESCALATE_AFTER_OPEN_HOURS: z.coerce.number().int().min(0).max(24 * 14).default(48),
  EVENTLINE_RETENTION_TEAM_EMAIL: z.string().trim().default('retention@eventline.local'),
  EVENTLINE_APPEND_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  EVENTLINE_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  EVENTLINE_EMAIL_PER_SECOND: z.coerce.number().int().min(1).default(100),
  EVENTLINE_SMS_PER_SECOND: z.coerce.number().int().min(1).default(10),
  EVENTLINE_DISPATCH_RETRY_BACKOFF_MS: z
    .string()
    .default('10000,30000,60000')
    .transform((s) => s.split(',').map((x) => Number(x.trim())))
    .refine((xs) => xs.length > 0 && xs.every((x) => Number.isInteger(x) && x >= 0), 'comma-separated milliseconds, e.g. 10000,30000,60000'),
  EVENTLINE_DISPATCH_MAX_AGE_HOURS: z.coerce.number().min(0).default(168),
  EVENTLINE_DEV_SENDGRID_PRIVATE_KEY: optionalText,
  EVENTLINE_DISPATCH_RECONCILE_MS: z.coerce.number().int().min(0).default(300_000),
  EVENTLINE_REBUILD_LEASE_MS: z.coerce.number().int().min(1000).default(10_000),
  EVENTLINE_REBUILD_BATCH: z.coerce.number().int().min(1).max(10_000).default(500),
  EVENTLINE_REBUILD_THROTTLE_MS: z.coerce.number().int().min(0).default(0),
  EVENTLINE_CONSUMER_BATCH_BYTES: z.coerce.number().int().min(1024).default(4 * 1_048_576),
  EVENTLINE_CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(30_000),
  EVENTLINE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(30).max(86_400).default(300),
  EVENTLINE_ANALYST_PASSWORD: optionalText,
  STRIPE_API_URL: optionalText,
  SENDGRID_API_URL: optionalText,
  TWILIO_API_URL: optionalText,
  SMTP_URL: optionalText.refine((v) => {
    if (v === null) return true;
    try {
      return ['smtp:', 'smtps:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be an smtp:// or smtps:// URL, e.g. smtps://user:password@smtp.example.com:465'),
  VONAGE_API_KEY: optionalText,
  VONAGE_API_SECRET: optionalText,
  VONAGE_FROM_NUMBER: optionalText,
  VONAGE_SIGNATURE_SECRET: optionalText,
  VONAGE_SIGNATURE_METHOD: z.enum(['md5hash', 'md5hmac', 'sha1hmac', 'sha256hmac', 'sha512hmac']).default('md5hash'),
  VONAGE_API_URL: optionalText,
  EVENTLINE_VAPID_PUBLIC_KEY: optionalText,
  EVENTLINE_VAPID_PRIVATE_KEY: optionalText,
  EVENTLINE_VAPID_SUBJECT: optionalText,
  EVENTLINE_TEMPLATE_REFRESH_MS: z.coerce.number().int().min(50).default(5000),
  EVENTLINE_PUSH_ALLOW_LOOPBACK: z.enum(['on', 'off']).default('off'),
  EVENTLINE_PUSH_PER_SECOND: z.coerce.number().int().min(1).default(100),
  EVENTLINE_SMS_MIN_SUCCESS_RATE: z.coerce.number().min(0).max(1).default(0.9),
  EVENTLINE_CIRCUIT_OPEN_MS: z.coerce.number().int().min(100).default(10_000),
  EVENTLINE_RULES: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  readonly service: { readonly name: string; readonly version: string };
  readonly namespace: string | null;
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly appendTimeoutMs: number;
    /** Most bytes fetched per partition per batch (projection batch size). */
    readonly consumerBatchBytes: number;
    readonly sessionTimeoutMs: number;
  };
  readonly registry: { readonly url: string };
  readonly database: { readonly url: string };
  readonly redis: { readonly url: string };
  readonly http: {
    /** The address the server listens on: 127.0.0.1 unless HOST says otherwise (0.0.0.0 behind a proxy or in a container). */
    readonly host: string;
    readonly port: number;
    /**
     * Where a process without the HTTP component (npm start's consumers) serves /metrics, /healthz
     * and /readyz (EVENTLINE_METRICS_PORT); null: it serves nothing.
     */
    readonly metricsPort: number | null;
    readonly publicUrl: string;
    readonly bodyLimitBytes: number;
    /** How far a signed webhook timestamp may be from now, in the past or the future (Stripe and SendGrid). */
    readonly webhookToleranceSeconds: number;
  };
  /**
   * Tracing (lib/tracing.ts): on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
   * else OTEL_EXPORTER_OTLP_ENDPOINT), unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
   */
  readonly tracing: { readonly endpoint: string | null; readonly serviceName: string };
  readonly stripe: { readonly webhookSecret: string | null; readonly apiKey: string | null; readonly apiUrl: string | null };
  readonly sendgrid: {
    readonly apiKey: string | null;
    readonly webhookPublicKey: string | null;
    readonly apiUrl: string | null;
    readonly from: string;
  };
  readonly twilio: {
    readonly accountSid: string | null;
    readonly authToken: string | null;
    readonly fromNumber: string | null;
    readonly apiUrl: string | null;
  };
  /** The second email path: SMTP to a relay (processors/dispatch/smtp.ts); null: none. */
  readonly smtp: { readonly url: string | null };
  /** The second SMS provider (routing and failover: processors/dispatch/routing.ts). */
  readonly vonage: {
    readonly apiKey: string | null;
    readonly apiSecret: string | null;
    readonly fromNumber: string | null;
    /** Signs the delivery receipts Vonage posts to /webhooks/vonage/status. */
    readonly signatureSecret: string | null;
    /** How the account signs its webhooks (Vonage dashboard: Settings → signed webhooks); md5hash is its default, sha256hmac the one to choose. */
    readonly signatureMethod: 'md5hash' | 'md5hmac' | 'sha1hmac' | 'sha256hmac' | 'sha512hmac';
    readonly apiUrl: string | null;
  };
  /**
   * Web Push (processors/dispatch/push.ts): the VAPID key pair (base64url, as web-push's
   * generateVAPIDKeys gives it) and the contact push services see (mailto: or https:; default the
   * sender address of EVENTLINE_EMAIL_FROM). null: no push channel.
   */
  readonly push: {
    readonly vapid: { readonly publicKey: string; readonly privateKey: string; readonly subject: string } | null;
    /** Accept subscriptions whose endpoint is on this host (a local push service; EVENTLINE_PUSH_ALLOW_LOOPBACK=on). Off in production. */
    readonly allowLoopbackEndpoints: boolean;
  };
  readonly routing: {
    /** SMS go first to the cheapest provider whose recent delivery success rate is at least this. */
    readonly minSuccessRate: number;
    /** How long a provider's open circuit refuses sends before a probe. */
    readonly circuitOpenMs: number;
  };
  readonly unsubscribeSecret: string | null;
  /** EVENTLINE_MASTER_KEY (base64, 32 bytes): wraps the data keys that seal personal data (ADR 0018); checked when first used. */
  readonly masterKey: string | null;
  /**
   * The domain-event rules file (EVENTLINE_RULES, a .json, .yaml or .yml path, relative to the
   * working directory; default the shipped rules/default.json). processors/rules reads and
   * validates it when it starts.
   */
  readonly rules: { readonly path: string };
  readonly dispatch: {
    /** Shared across every instance (Redis). */
    readonly emailPerSecond: number;
    readonly smsPerSecond: number;
    readonly pushPerSecond: number;
    /** How often a dispatcher reads the published template versions. */
    readonly templateRefreshMs: number;
    /** How long a send whose outcome was lost in a crash waits for provider evidence before it is sent again. */
    readonly reconcileMs: number;
    /** Waits before each retry of a failed send; after the last, the send fails (and is dead-lettered). */
    readonly retryBackoffMs: readonly number[];
    /** Requests older than this (event time vs now) are not sent: replays and backfills do not message customers about the past. */
    readonly maxAgeMs: number;
  };
  /** Rebuilding a processor's state from the topics after Redis lost it. */
  readonly rebuild: {
    /** The rebuild lease: a dead holder's lapses after this; renewed every third of it. */
    readonly leaseMs: number;
    /** Facts folded per Redis round trip. */
    readonly batch: number;
    /** Pause between batches, bounding the rebuild's load on Redis. */
    readonly throttleMs: number;
  };
  readonly apiKeys: readonly string[];
  readonly demo: boolean;
  readonly riskTeamUser: string;
  /** The currency of the reporting MRR series; `eventline fx load` stores rates into it. */
  readonly reportingCurrency: string;
  readonly retentionTeamUser: string;
  readonly risk: {
    /** How often a scorer (the fraud processor, POST /v1/risk/assess) reads the allow and block lists again. */
    readonly listsRefreshMs: number;
  };
  readonly dunning: {
    /** What an exhausted case does at Stripe (processors/dunning/end-actions.ts). */
    readonly endAction: 'none' | 'cancel' | 'mark_uncollectible';
    /** A reminder opened or clicked without a payment brings the next one to this many hours after the open (0: off). */
    readonly escalateAfterOpenHours: number;
  };
  /** Contact addresses of internal teams that receive notifications (by user id). */
  readonly teamEmails: Readonly<Record<string, string>>;
  readonly analystPassword: string | null;
  /** Local development only: lets the demo sign SendGrid events with the key pair npm start generated. */
  readonly devSendgridPrivateKey: string | null;
  readonly logLevel: z.infer<typeof schema>['LOG_LEVEL'];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The VAPID contact from the email sender: `Name <a@b>` → mailto:a@b. */
function vapidSubjectOf(from: string): string {
  const address = /<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? from.trim();
  return `mailto:${address}`;
}

/** The same configuration for another namespace (validated as EVENTLINE_NAMESPACE is), e.g. the target of `privacy migrate`. */
export function configForNamespace(config: Config, namespace: string): Config {
  const parsed = schema.shape.EVENTLINE_NAMESPACE.safeParse(namespace);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `namespace: ${i.message}`);
    throw new EventlineError('config_invalid', `invalid namespace ${JSON.stringify(namespace)}: ${problems.join('; ')}`, { detail: problems });
  }
  const ns = parsed.data;
  return deepFreeze<Config>({ ...config, namespace: ns, kafka: { ...config.kafka, clientId: ns ? `eventline-${ns}` : 'eventline' } });
}

/** Validate an environment (default: this process's) into a Config, or throw listing every problem. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env, service = 'eventline'): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new EventlineError('config_invalid', `invalid environment: ${problems.join('; ')}`, { detail: problems });
  }
  const e = parsed.data;
  if ((e.EVENTLINE_VAPID_PUBLIC_KEY === null) !== (e.EVENTLINE_VAPID_PRIVATE_KEY === null)) {
    const problem = 'EVENTLINE_VAPID_PUBLIC_KEY and EVENTLINE_VAPID_PRIVATE_KEY are a pair: set both (npx web-push generate-vapid-keys) or neither';
    throw new EventlineError('config_invalid', `invalid environment: ${problem}`, { detail: [problem] });
  }
  if (e.EVENTLINE_DUNNING_END_ACTION !== 'none' && !e.STRIPE_API_KEY) {
    const problem = `EVENTLINE_DUNNING_END_ACTION=${e.EVENTLINE_DUNNING_END_ACTION} acts through Stripe's API: set STRIPE_API_KEY (a restricted key with write access to subscriptions and invoices is enough)`;
    throw new EventlineError('config_invalid', `invalid environment: ${problem}`, { detail: [problem] });
  }
  const port = e.PORT;
  return deepFreeze<Config>({
    service: { name: service, version: packageVersion },
    namespace: e.EVENTLINE_NAMESPACE,
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.EVENTLINE_NAMESPACE ? `eventline-${e.EVENTLINE_NAMESPACE}` : 'eventline',
      appendTimeoutMs: e.EVENTLINE_APPEND_TIMEOUT_MS,
      consumerBatchBytes: e.EVENTLINE_CONSUMER_BATCH_BYTES,
      sessionTimeoutMs: e.EVENTLINE_CONSUMER_SESSION_TIMEOUT_MS,
    },
    registry: { url: e.SCHEMA_REGISTRY_URL.replace(/\/+$/, '') },
    database: { url: e.DATABASE_URL },
    redis: { url: e.REDIS_URL },
    http: {
      host: e.HOST,
      port,
      metricsPort: e.EVENTLINE_METRICS_PORT ?? null,
      publicUrl: (e.EVENTLINE_PUBLIC_URL ?? `http://127.0.0.1:${port}`).replace(/\/+$/, ''),
      bodyLimitBytes: e.EVENTLINE_BODY_LIMIT_BYTES,
      webhookToleranceSeconds: e.EVENTLINE_WEBHOOK_TOLERANCE_SECONDS,
    },
    tracing: {
      endpoint: e.OTEL_SDK_DISABLED === 'true' || e.OTEL_TRACES_EXPORTER === 'none' ? null : (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? e.OTEL_EXPORTER_OTLP_ENDPOINT),
      serviceName: e.OTEL_SERVICE_NAME ?? service,
    },
    stripe: { webhookSecret: e.STRIPE_WEBHOOK_SECRET, apiKey: e.STRIPE_API_KEY, apiUrl: e.STRIPE_API_URL },
    sendgrid: {
      apiKey: e.SENDGRID_API_KEY,
      webhookPublicKey: e.SENDGRID_WEBHOOK_PUBLIC_KEY,
      apiUrl: e.SENDGRID_API_URL,
      from: e.EVENTLINE_EMAIL_FROM,
    },
    twilio: {
      accountSid: e.TWILIO_ACCOUNT_SID,
      authToken: e.TWILIO_AUTH_TOKEN,
      fromNumber: e.TWILIO_FROM_NUMBER,
      apiUrl: e.TWILIO_API_URL,
    },
    smtp: { url: e.SMTP_URL },
    vonage: {
      apiKey: e.VONAGE_API_KEY,
      apiSecret: e.VONAGE_API_SECRET,
      fromNumber: e.VONAGE_FROM_NUMBER,
      signatureSecret: e.VONAGE_SIGNATURE_SECRET,
      signatureMethod: e.VONAGE_SIGNATURE_METHOD,
      apiUrl: e.VONAGE_API_URL,
    },
    push: {
      vapid:
        e.EVENTLINE_VAPID_PUBLIC_KEY && e.EVENTLINE_VAPID_PRIVATE_KEY
          ? { publicKey: e.EVENTLINE_VAPID_PUBLIC_KEY, privateKey: e.EVENTLINE_VAPID_PRIVATE_KEY, subject: e.EVENTLINE_VAPID_SUBJECT ?? vapidSubjectOf(e.EVENTLINE_EMAIL_FROM) }
          : null,
      allowLoopbackEndpoints: e.EVENTLINE_PUSH_ALLOW_LOOPBACK === 'on',
    },
    routing: { minSuccessRate: e.EVENTLINE_SMS_MIN_SUCCESS_RATE, circuitOpenMs: e.EVENTLINE_CIRCUIT_OPEN_MS },
    unsubscribeSecret: e.UNSUBSCRIBE_SECRET,
    masterKey: e.EVENTLINE_MASTER_KEY,
    rules: { path: resolve(e.EVENTLINE_RULES ?? DEFAULT_RULES_PATH) },
    dispatch: {
      emailPerSecond: e.EVENTLINE_EMAIL_PER_SECOND,
      smsPerSecond: e.EVENTLINE_SMS_PER_SECOND,
      pushPerSecond: e.EVENTLINE_PUSH_PER_SECOND,
      templateRefreshMs: e.EVENTLINE_TEMPLATE_REFRESH_MS,
      reconcileMs: e.EVENTLINE_DISPATCH_RECONCILE_MS,
      retryBackoffMs: e.EVENTLINE_DISPATCH_RETRY_BACKOFF_MS,
      maxAgeMs: e.EVENTLINE_DISPATCH_MAX_AGE_HOURS * 3_600_000,
    },
    rebuild: { leaseMs: e.EVENTLINE_REBUILD_LEASE_MS, batch: e.EVENTLINE_REBUILD_BATCH, throttleMs: e.EVENTLINE_REBUILD_THROTTLE_MS },
    devSendgridPrivateKey: e.EVENTLINE_DEV_SENDGRID_PRIVATE_KEY,
    apiKeys: e.EVENTLINE_API_KEYS,
    demo: e.EVENTLINE_DEMO === 'on',
    riskTeamUser: e.EVENTLINE_RISK_TEAM_USER,
    reportingCurrency: e.EVENTLINE_REPORTING_CURRENCY,
    retentionTeamUser: e.EVENTLINE_RETENTION_TEAM_USER,
    risk: { listsRefreshMs: e.EVENTLINE_RISK_LISTS_REFRESH_MS },
    dunning: { endAction: e.EVENTLINE_DUNNING_END_ACTION, escalateAfterOpenHours: e.EVENTLINE_DUNNING_ESCALATE_AFTER_OPEN_HOURS },
    teamEmails: { [e.EVENTLINE_RISK_TEAM_USER]: e.EVENTLINE_RISK_TEAM_EMAIL, [e.EVENTLINE_RETENTION_TEAM_USER]: e.EVENTLINE_RETENTION_TEAM_EMAIL },
    analystPassword: e.EVENTLINE_ANALYST_PASSWORD,
    logLevel: e.LOG_LEVEL,
  });
}
