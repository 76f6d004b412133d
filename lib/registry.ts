/**
 * The schema registry (Confluent-compatible API; Apicurio locally): registration, compatibility
 * checks and schema lookups. Wraps @kafkajs/confluent-schema-registry; only lib/ imports it.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { EventlineError, errorMessage } from './errors.ts';

export interface RegisteredSchema {
  readonly subject: string;
  readonly id: number;
}

export interface CompatibilityResult {
  readonly subject: string;
  /** new: no version yet; compatible / incompatible: against the latest version. */
  readonly status: 'new' | 'compatible' | 'incompatible';
  readonly messages: readonly string[];
}

function httpStatus(err: unknown): number | null {
  if (err && typeof err === 'object' && 'status' in err && typeof err.status === 'number') return err.status;
  return null;
}

/** Longest wait for one registry answer: a request the registry never answers fails (and is retried) instead of hanging its caller. */
export const REGISTRY_TIMEOUT_MS = 10_000;

type ClientMiddleware = NonNullable<NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]>['middlewares']>[number];
/** Gives every request of the registry client a timeout (it has none by default). */
const requestTimeout =
  (ms: number): ClientMiddleware =>
  () => ({ prepareRequest: (next) => next().then((request) => request.enhance({ timeout: ms })) });

export class Registry {
  readonly url: string;
  private readonly client: SchemaRegistry;

  constructor(url: string, options: { timeoutMs?: number } = {}) {
    this.url = url;
    this.client = new SchemaRegistry({ host: url, retry: { retries: 2, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 1 }, middlewares: [requestTimeout(options.timeoutMs ?? REGISTRY_TIMEOUT_MS)] });
  }

  /** Registers a schema under a subject (a no-op returning the existing id when already registered). */
  async register(subject: string, schema: object): Promise<RegisteredSchema> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await this.client.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
        return { subject, id };
      } catch (err) {
        if (httpStatus(err) === 409) {
          throw new EventlineError('schema_incompatible', `schema for ${subject} is not compatible with the registered versions: ${errorMessage(err)}`, { cause: err });
        }
        // An answer that never came: registering again is harmless (the same schema gets the same id).
        if (attempt < 3 && /\bTimeout \(\d+ms\)/.test(errorMessage(err))) continue;
        throw this.unavailable(err, `register ${subject}`);
      }
    }
  }

  /** The id of a schema already registered under a subject, or null. */
  async idOf(subject: string, schema: object): Promise<number | null> {
    try {
      return await this.client.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(schema) });
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404 || /not found|not registered/i.test(errorMessage(err))) return null;
      throw this.unavailable(err, `look up ${subject}`);
    }
  }

  /** The writer schema (JSON) registered under an id. */
  async schemaById(id: number): Promise<object> {
    let response: Response;
    try {
      response = await fetch(`${this.url}/schemas/ids/${id}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    } catch (err) {
      throw this.unavailable(err, `fetch schema ${id}`);
    }
    if (response.status === 404) throw new EventlineError('decode_failed', `schema id ${id} is not in the registry`, { detail: { reason: 'unknown_schema' } });
    if (!response.ok) throw new EventlineError('registry_unavailable', `registry answered ${response.status} for schema ${id}`);
    const body = (await response.json()) as { schema: string };
    return JSON.parse(body.schema) as object;
  }

  /** The latest version registered under a subject (id and schema), or null when the subject does not exist. */
  async latest(subject: string): Promise<{ id: number; version: number; schema: object } | null> {
    let response: Response;
    try {
      response = await fetch(`${this.url}/subjects/${encodeURIComponent(subject)}/versions/latest`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    } catch (err) {
      throw this.unavailable(err, `read ${subject}`);
    }
    if (response.status === 404) return null;
    if (!response.ok) throw new EventlineError('registry_unavailable', `registry answered ${response.status} for ${subject}`);
    const body = (await response.json()) as { id: number; version: number; schema: string };
    return { id: body.id, version: body.version, schema: JSON.parse(body.schema) as object };
  }

  /** Checks a schema against the latest version of a subject under the subject's compatibility rule. */
  async check(subject: string, schema: object): Promise<CompatibilityResult> {
    const url = `${this.url}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`;
    let response: Response;
    try {
      response = await fetch(url, {
        signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS),
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/json' },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      });
    } catch (err) {
      throw this.unavailable(err, `check ${subject}`);
    }
    const body = (await response.json().catch(() => ({}))) as { is_compatible?: boolean; messages?: string[]; message?: string; error_code?: number };
    if (response.status === 404) return { subject, status: 'new', messages: [] };
    if (response.status === 409 || (response.ok && body.is_compatible === false)) {
      return { subject, status: 'incompatible', messages: body.messages ?? (body.message ? [body.message] : []) };
    }
    if (!response.ok) throw new EventlineError('registry_unavailable', `registry answered ${response.status} checking ${subject}: ${body.message ?? ''}`);
    return { subject, status: 'compatible', messages: [] };
  }

  /** The registry's global compatibility level. */
  async globalCompatibility(): Promise<string> {
    const response = await fetch(`${this.url}/config`, { signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) }).catch((err: unknown) => {
      throw this.unavailable(err, 'read config');
    });
    if (!response.ok) throw new EventlineError('registry_unavailable', `registry answered ${response.status} on /config`);
    const body = (await response.json()) as { compatibilityLevel?: string; compatibility?: string };
    return (body.compatibilityLevel ?? body.compatibility ?? 'NONE').toUpperCase();
  }

  /** Subjects currently registered (optionally those starting with a prefix). */
  async subjects(prefix = ''): Promise<string[]> {
    const response = await fetch(`${this.url}/subjects`, { signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) }).catch((err: unknown) => {
      throw this.unavailable(err, 'list subjects');
    });
    if (!response.ok) throw new EventlineError('registry_unavailable', `registry answered ${response.status} on /subjects`);
    return ((await response.json()) as string[]).filter((s) => s.startsWith(prefix));
  }

  /** Deletes a subject (soft, then permanently). Used to clean up test namespaces. */
  async deleteSubject(subject: string): Promise<void> {
    const base = `${this.url}/subjects/${encodeURIComponent(subject)}`;
    await fetch(base, { method: 'DELETE', signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    await fetch(`${base}?permanent=true`, { method: 'DELETE', signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
  }

  private unavailable(err: unknown, what: string): EventlineError {
    if (err instanceof EventlineError) return err;
    return new EventlineError('registry_unavailable', `schema registry at ${this.url} failed to ${what}: ${errorMessage(err)}`, { cause: err });
  }
}
