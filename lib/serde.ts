/**
 * Avro serialization in the Confluent wire format (magic byte 0, 4-byte schema id, Avro body).
 *
 * Encoding uses the local schema (schemas/, via the generated module) and the id the registry gave
 * it under the topic's subject. Decoding reads the writer's schema by id from the registry and
 * resolves it into our reader schema for the same record name (Avro schema resolution), so an
 * older or newer writer yields a value of exactly the shape this code declares: decoded values
 * are validated by resolution, never cast.
 *
 * Closed vocabularies (string fields with "eventline.symbols", docs/adr/0010) are checked here, as
 * Avro would check an enum: encoding refuses a value outside the symbols; decoding reads a value
 * outside them (a newer producer's) as the field's "eventline.default" and counts it
 * (eventline_unknown_symbols_total) — the record itself is delivered as usual.
 */
import avro from 'avsc';
import { EventlineError, errorMessage } from './errors.ts';
import { metrics } from './metrics.ts';
import { openRecord, personalSpecs, sealRecord, type ValueBox } from './privacy/records.ts';
import type { Registry } from './registry.ts';
import {
  recordSchemas,
  recordsOfTopic,
  recordVocabularies,
  type AnyTopicName,
  type DomainEventFields,
  type Envelope,
  type ExternalDomainEvent,
  type Names,
  type RecordName,
  type Vocabulary,
} from './topics.ts';

const MAGIC = 0;

type ReaderType = avro.Type;

interface WriterInfo {
  readonly fullName: string;
  readonly type: avro.Type;
  readonly record: RecordName | null;
  readonly resolver: avro.Resolver | null;
}

const readerTypes = new Map<RecordName, ReaderType>();
const recordByFullName = new Map<string, RecordName>();
for (const [name, { fullName }] of Object.entries(recordSchemas) as [RecordName, { fullName: string }][]) {
  recordByFullName.set(fullName, name);
}

/** The avsc type of one of our records (built once). */
export function readerType(record: RecordName): ReaderType {
  let type = readerTypes.get(record);
  if (!type) {
    type = avro.Type.forSchema(recordSchemas[record].schema as unknown as avro.Schema, { wrapUnions: false });
    readerTypes.set(record, type);
  }
  return type;
}

const vocabularyFields: Readonly<Record<RecordName, Readonly<Record<string, Vocabulary>>>> = recordVocabularies;

/** Closed-vocabulary fields of a value holding a string outside their symbols, as "field: message" lines. */
function vocabularyErrors(record: RecordName, value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  const errors: string[] = [];
  for (const [field, vocabulary] of Object.entries(vocabularyFields[record])) {
    const v: unknown = (value as Record<string, unknown>)[field];
    if (typeof v === 'string' && !vocabulary.symbols.includes(v)) errors.push(`${field}: expected one of ${vocabulary.symbols.join(', ')}, got ${JSON.stringify(v).slice(0, 80)}`);
  }
  return errors;
}

/**
 * Replaces, in a freshly decoded value, every closed-vocabulary string outside its symbols with the
 * vocabulary's default. Returns the fields replaced.
 */
function adoptDefaults(record: RecordName, value: Record<string, unknown>): string[] {
  const replaced: string[] = [];
  for (const [field, vocabulary] of Object.entries(vocabularyFields[record])) {
    const v = value[field];
    if (typeof v === 'string' && !vocabulary.symbols.includes(v)) {
      value[field] = vocabulary.default;
      replaced.push(field);
    }
  }
  return replaced;
}

/** Validation errors of a value against one of our records, as "path: message" lines. Empty when valid. */
export function validateRecord(record: RecordName, value: unknown): string[] {
  const errors: string[] = vocabularyErrors(record, value);
  readerType(record).isValid(value, {
    errorHook: (path: string[], v: unknown, type: avro.Type) => {
      const where = path.length > 0 ? path.join('.') : '(record)';
      const expected = type.typeName === 'union:unwrapped' ? 'null or a value of the declared type' : describeType(type);
      errors.push(`${where}: expected ${expected}, got ${v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 80)}`);
    },
  });
  return errors;
}

/** Fields present in a value but not declared by its record type (typos, fields of a newer schema). */
function undeclaredFields(type: avro.Type, value: unknown, path: string[]): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  if (type.typeName === 'union:unwrapped') {
    const branch = (type as unknown as { types: avro.Type[] }).types.find((t) => t.typeName === 'record');
    return branch ? undeclaredFields(branch, value, path) : [];
  }
  if (type.typeName !== 'record') return [];
  const fields = (type as unknown as { fields: { name: string; type: avro.Type }[] }).fields;
  const declared = new Map(fields.map((f) => [f.name, f.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const fieldType = declared.get(k);
    if (!fieldType) out.push(`${[...path, k].join('.')}: not a field of ${type.name ?? 'the record'}`);
    else out.push(...undeclaredFields(fieldType, v, [...path, k]));
  }
  return out;
}

/** What a decoded value lacks of the fields every domain event has (DomainEventFields). */
function domainEventProblems(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return ['(event): not a record'];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of ['event_id', 'key', 'producer'] as const) if (typeof v[field] !== 'string') problems.push(`${field}: expected a string`);
  for (const field of ['occurred_at', 'received_at'] as const) if (typeof v[field] !== 'number' || !Number.isFinite(v[field])) problems.push(`${field}: expected a timestamp in ms`);
  if (v.data === null || typeof v.data !== 'object' || Array.isArray(v.data)) problems.push('data: expected a record');
  return problems;
}

function describeType(type: avro.Type): string {
  const name = type.typeName;
  if (name === 'record' || name === 'error') return `record ${type.name ?? ''}`.trim();
  return name;
}

/** The Avro body of a value of one of our records. Throws encode_failed naming every invalid field. */
function encodeBody(record: RecordName, value: unknown): Buffer {
  let cause: unknown;
  try {
    if (vocabularyErrors(record, value).length === 0) return readerType(record).toBuffer(value);
  } catch (err) {
    cause = err;
  }
  const problems = validateRecord(record, value);
  throw new EventlineError('encode_failed', `invalid ${record}: ${problems.join('; ') || errorMessage(cause)}`, { cause, detail: problems });
}

export interface DecodedValue<T extends AnyTopicName> {
  readonly envelope: Envelope<T>;
  readonly schemaId: number;
}

export type LatestEncoding = { readonly ok: true; readonly bytes: Buffer; readonly schemaId: number } | { readonly ok: false; readonly reason: 'unknown_subject' } | { readonly ok: false; readonly reason: 'invalid'; readonly problems: readonly string[] };

interface LatestSchema {
  readonly id: number;
  readonly type: avro.Type;
}

export class Serde {
  private readonly registry: Registry;
  private readonly names: Names;
  private readonly ids = new Map<string, Promise<number>>();
  private readonly writers = new Map<number, Promise<WriterInfo>>();
  private readonly latestCache = new Map<string, { value: LatestSchema | null; fetchedAt: number }>();

  private sealer: ValueBox | null = null;

  constructor(registry: Registry, names: Names) {
    this.registry = registry;
    this.names = names;
  }

  /** Seals personal fields at encode (ADR 0018); without it, a record with personal data cannot be encoded. */
  useSealer(box: ValueBox): void {
    this.sealer = box;
  }

  /** A copy of a decoded value with its personal fields opened (`erased` where the key is gone); for tools and tests that read topics. */
  async opened<V extends object>(record: RecordName, value: V): Promise<V> {
    if (!personalSpecs.has(record) || this.sealer === null) return value;
    return openRecord(this.sealer, record, value);
  }

  /** A copy of the value with its personal fields sealed; the caller's value is left as it was. */
  private async sealed(record: RecordName, value: object): Promise<object> {
    if (!personalSpecs.has(record)) return value;
    if (this.sealer === null) throw new EventlineError('config_invalid', `${record} holds personal data and this process has no EVENTLINE_MASTER_KEY to seal it with`);
    return sealRecord(this.sealer, record, value);
  }

  /** Encodes a record for a topic. Throws encode_failed for an invalid value, schema_not_registered when the subject lacks this schema. */
  async encode<T extends AnyTopicName>(topic: T, envelope: Envelope<T>): Promise<Buffer> {
    const record = envelope.record as RecordName;
    if (!recordsOfTopic(topic).includes(record)) {
      throw new EventlineError('encode_failed', `topic ${topic} does not carry ${record}`);
    }
    const body = encodeBody(record, (await this.sealed(record, envelope.value)) as typeof envelope.value);
    const id = await this.idFor(topic, record);
    const header = Buffer.allocUnsafe(5);
    header.writeUInt8(MAGIC, 0);
    header.writeUInt32BE(id, 1);
    return Buffer.concat([header, body]);
  }

  /** Decodes a record value. Throws decode_failed (with detail.reason) when it cannot. */
  async decode<T extends AnyTopicName>(topic: T, buffer: Buffer | null): Promise<DecodedValue<T>> {
    if (buffer === null || buffer.length < 5 || buffer.readUInt8(0) !== MAGIC) {
      throw new EventlineError('decode_failed', 'not a Confluent-framed Avro value', { detail: { reason: 'framing' } });
    }
    const schemaId = buffer.readUInt32BE(1);
    const writer = await this.writerInfo(schemaId);
    if (writer.record === null || writer.resolver === null) {
      throw new EventlineError('decode_failed', `record ${writer.fullName} (schema ${schemaId}) is not known to this version of Eventline`, {
        detail: { reason: 'unknown_record', fullName: writer.fullName },
      });
    }
    if (!recordsOfTopic(topic).includes(writer.record)) {
      throw new EventlineError('decode_failed', `topic ${topic} does not carry ${writer.record}`, { detail: { reason: 'wrong_topic' } });
    }
    let value: Record<string, unknown>;
    try {
      value = readerType(writer.record).fromBuffer(buffer.subarray(5), writer.resolver) as Record<string, unknown>;
    } catch (err) {
      throw new EventlineError('decode_failed', `cannot decode ${writer.record} with schema ${schemaId}: ${errorMessage(err)}`, {
        cause: err,
        detail: { reason: 'body' },
      });
    }
    for (const field of adoptDefaults(writer.record, value)) metrics.unknownSymbols.inc({ topic, record: writer.record, field });
    return { envelope: { record: writer.record, value } as Envelope<T>, schemaId };
  }

  /**
   * Decodes a domain event of a type this version does not declare (another service registered its
   * schema) with the writer's schema, and checks the fields every domain event has. Throws
   * decode_failed (with detail.reason) when it cannot, or when the record is one of ours.
   */
  async decodeExternal(buffer: Buffer | null): Promise<{ readonly envelope: ExternalDomainEvent; readonly schemaId: number }> {
    if (buffer === null || buffer.length < 5 || buffer.readUInt8(0) !== MAGIC) {
      throw new EventlineError('decode_failed', 'not a Confluent-framed Avro value', { detail: { reason: 'framing' } });
    }
    const schemaId = buffer.readUInt32BE(1);
    const writer = await this.writerInfo(schemaId);
    if (writer.record !== null) throw new EventlineError('decode_failed', `${writer.fullName} is declared by Eventline, not external`, { detail: { reason: 'not_external' } });
    let value: unknown;
    try {
      value = writer.type.fromBuffer(buffer.subarray(5));
    } catch (err) {
      throw new EventlineError('decode_failed', `cannot decode ${writer.fullName} with schema ${schemaId}: ${errorMessage(err)}`, { cause: err, detail: { reason: 'body' } });
    }
    const problems = domainEventProblems(value);
    if (problems.length > 0) {
      throw new EventlineError('decode_failed', `${writer.fullName} (schema ${schemaId}) is not a domain event: ${problems.join('; ')}`, { detail: { reason: 'body', problems } });
    }
    return { envelope: { record: 'external', fullName: writer.fullName, value: value as DomainEventFields }, schemaId };
  }

  /**
   * Encodes a value with the latest schema registered under <topic>-<fullName>, validating it
   * against that schema first. For record types defined by other services (domain events): the
   * registry, not this code, decides what is valid. Lookups are cached for 30 s (misses for 5 s).
   */
  async encodeWithLatest(topic: AnyTopicName, fullName: string, value: unknown): Promise<LatestEncoding> {
    const latest = await this.latest(`${this.names.topic(topic)}-${fullName}`);
    if (latest === null) return { ok: false, reason: 'unknown_subject' };
    const own = recordByFullName.get(fullName);
    if (own !== undefined && value !== null && typeof value === 'object') value = await this.sealed(own, value);
    const problems = undeclaredFields(latest.type, value, []);
    latest.type.isValid(value, {
      noUndeclaredFields: true,
      errorHook: (path: string[], v: unknown, type: avro.Type) => {
        if ((type.typeName === 'record' || type.typeName === 'error') && v !== null && typeof v === 'object' && !Array.isArray(v)) return; // reported above
        problems.push(`${path.length > 0 ? path.join('.') : '(event)'}: expected ${describeType(type)}, got ${v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 80)}`);
      },
    });
    if (problems.length > 0) return { ok: false, reason: 'invalid', problems };
    const header = Buffer.allocUnsafe(5);
    header.writeUInt8(MAGIC, 0);
    header.writeUInt32BE(latest.id, 1);
    // clone() fills omitted fields with their schema defaults.
    return { ok: true, bytes: Buffer.concat([header, latest.type.toBuffer(latest.type.clone(value))]), schemaId: latest.id };
  }

  private async latest(subject: string): Promise<LatestSchema | null> {
    const hit = this.latestCache.get(subject);
    if (hit && Date.now() - hit.fetchedAt < (hit.value ? 30_000 : 5_000)) return hit.value;
    const found = await this.registry.latest(subject);
    const value = found === null ? null : { id: found.id, type: avro.Type.forSchema(found.schema as avro.Schema, { wrapUnions: 'auto' }) };
    this.latestCache.set(subject, { value, fetchedAt: Date.now() });
    return value;
  }

  /** Registers every record schema of a topic under its subjects. */
  async register(topic: AnyTopicName): Promise<{ subject: string; id: number }[]> {
    const out: { subject: string; id: number }[] = [];
    for (const record of recordsOfTopic(topic)) {
      const subject = this.names.subject(topic, record);
      const { id } = await this.registry.register(subject, recordSchemas[record].schema);
      this.ids.set(subject, Promise.resolve(id));
      out.push({ subject, id });
    }
    return out;
  }

  private idFor(topic: AnyTopicName, record: RecordName): Promise<number> {
    const subject = this.names.subject(topic, record);
    let id = this.ids.get(subject);
    if (!id) {
      id = this.registry.idOf(subject, recordSchemas[record].schema).then((found) => {
        if (found === null) {
          throw new EventlineError('schema_not_registered', `${subject} is not registered; run \`eventline schemas register\``);
        }
        return found;
      });
      id.catch(() => this.ids.delete(subject));
      this.ids.set(subject, id);
    }
    return id;
  }

  private writerInfo(id: number): Promise<WriterInfo> {
    let info = this.writers.get(id);
    if (!info) {
      info = this.registry.schemaById(id).then((schema) => {
        const writerType = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto' });
        const fullName = writerType.name ?? '(unnamed)';
        const record = recordByFullName.get(fullName) ?? null;
        const resolver = record === null ? null : readerType(record).createResolver(writerType);
        return { fullName, type: writerType, record, resolver };
      });
      info.catch(() => this.writers.delete(id));
      this.writers.set(id, info);
    }
    return info;
  }
}
