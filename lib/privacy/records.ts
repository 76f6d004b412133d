/**
 * Which fields of which records are personal data, read from the schemas (ADR 0018), and sealing
 * or opening them in a record value.
 *
 * A field is marked in its .avsc with `"eventline.personal"`:
 * - `"text"`: the string is sealed whole;
 * - `"email"`: sealed, the address's domain kept in clear (risk scoring decides on it);
 * - `"json"`: a JSON document (a provider's payload) whose personal members are sealed one by one
 *   (`sealJson`): names, email addresses, phone numbers, postal addresses but their country, IP
 *   addresses, free text; everything else (ids, amounts, currencies, statuses, times) stays as it
 *   was, so projections and deciders compute from it without any key.
 * A record with personal fields names its subject with `"eventline.subject"`: candidates
 * `<kind>:<field path>`, the first whose field is set wins (user:user_id, customer:customer_id …).
 */
import { EventlineError } from '../errors.ts';
import { recordSchemas, type RecordName } from '../generated/events.ts';
import { ERASED, isSealed } from './crypto.ts';

export type PersonalKind = 'text' | 'email' | 'json';
export const personalKinds: readonly PersonalKind[] = ['text', 'email', 'json'];

export interface PersonalField {
  /** Field names from the record down; `*` steps into an array's items. */
  readonly path: readonly string[];
  readonly kind: PersonalKind;
}

export interface PersonalSpec {
  readonly subject: readonly { readonly kind: string; readonly path: readonly string[] }[];
  readonly fields: readonly PersonalField[];
}

/** The two operations every personal value goes through; the keyring implements them. */
export interface ValueBox {
  seal(subject: string, plaintext: string, options?: { email?: boolean }): Promise<string>;
  open(value: string): Promise<string>;
}

type Schema = string | readonly Schema[] | { readonly type: string; readonly fields?: readonly Field[]; readonly items?: Schema; readonly values?: Schema };
interface Field {
  readonly name: string;
  readonly type: Schema;
  readonly 'eventline.personal'?: string;
}

/** Collects marked fields at any depth; a named type used again (`"Preferences"`) is followed once more. */
function collect(schema: Schema, path: string[], out: PersonalField[], named: Map<string, Schema>): void {
  if (typeof schema === 'string') {
    const ref = named.get(schema);
    if (ref !== undefined) collect(ref, path, out, new Map([...named].filter(([k]) => k !== schema)));
    return;
  }
  if (Array.isArray(schema)) {
    for (const branch of schema as readonly Schema[]) collect(branch, path, out, named);
    return;
  }
  const s = schema as Exclude<Schema, string | readonly Schema[]> & { readonly name?: string };
  if (s.type === 'array' && s.items !== undefined) collect(s.items, [...path, '*'], out, named);
  if (s.type === 'record') {
    if (s.name) named.set(s.name, s);
    for (const f of s.fields ?? []) {
      const mark = f['eventline.personal'];
      if (mark !== undefined) out.push({ path: [...path, f.name], kind: mark as PersonalKind });
      else collect(f.type, [...path, f.name], out, named);
    }
  }
}

/** The personal fields and subject of every record that has any. */
export const personalSpecs: ReadonlyMap<RecordName, PersonalSpec> = (() => {
  const specs = new Map<RecordName, PersonalSpec>();
  for (const [name, { schema }] of Object.entries(recordSchemas) as [RecordName, { schema: unknown }][]) {
    const fields: PersonalField[] = [];
    collect(schema as Schema, [], fields, new Map());
    if (fields.length === 0) continue;
    const subjects = ((schema as { 'eventline.subject'?: string[] })['eventline.subject'] ?? []).map((s) => {
      const i = s.indexOf(':');
      return { kind: s.slice(0, i), path: s.slice(i + 1).split('.') };
    });
    specs.set(name, { subject: subjects, fields });
  }
  return specs;
})();

function at(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** The subject a record's personal data is sealed for; null when none of its candidates is set. */
export function subjectOf(record: RecordName, value: unknown): string | null {
  for (const c of personalSpecs.get(record)?.subject ?? []) {
    const v = at(value, c.path);
    if (typeof v === 'string' && v !== '') return `${c.kind}:${v}`;
  }
  return null;
}

/**
 * `value` with `fn` applied to every string at the field's path (through arrays and nullable
 * unions), copied only along the path where a string changed (the rest is shared, and `value` itself
 * is never written): sealing or opening a record costs what its personal fields cost, not a deep copy
 * of the whole value.
 */
async function updatedAt(value: unknown, path: readonly string[], fn: (s: string) => Promise<string>): Promise<unknown> {
  if (value === null || typeof value !== 'object' || path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const next = async (item: unknown): Promise<unknown> => (rest.length > 0 ? updatedAt(item, rest, fn) : typeof item === 'string' ? fn(item) : item);
  if (head === '*') {
    if (!Array.isArray(value)) return value;
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const changed = await next(item);
      if (changed !== item) (copy ??= [...(value as unknown[])])[i] = changed;
    }
    return copy ?? value;
  }
  const obj = value as Record<string, unknown>;
  const item = obj[head];
  const changed = await next(item);
  return changed === item ? value : { ...obj, [head]: changed };
}

// Members of a provider's JSON that are personal data wherever they appear (lower-cased).
// Not `reason` or `status`: Stripe's dispute and cancellation reasons are facts the deciders read.
const PERSONAL_KEYS = new Set([
  'name', 'first_name', 'last_name', 'full_name', 'customer_name', 'email', 'receipt_email', 'customer_email', 'phone', 'customer_phone',
  'ip', 'ip_address', 'client_ip', 'useragent', 'user_agent',
]);
// Objects that are postal addresses or hold one: every string in them but the country is personal.
const ADDRESS_KEYS = new Set(['address', 'shipping', 'billing_details', 'customer_address', 'customer_shipping', 'owner', 'billing_address', 'shipping_address']);
const CLEAR_IN_ADDRESS = new Set(['country', 'object', 'carrier', 'tracking_number']);

/** Where a string sits in a parsed document, so it can be replaced once the walk is over. */
interface Slot {
  readonly holder: Record<string, unknown> | unknown[];
  readonly at: string | number;
  readonly value: string;
  /** The member's name, lower-cased ('' in an array). */
  readonly key: string;
}

/**
 * The personal members of a parsed provider document, in document order. A plain walk: the
 * sealing (asynchronous: a key lookup) happens afterwards, for these few strings only.
 */
function personalSlots(node: unknown, inAddress: boolean, out: Slot[]): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) personalSlots(item, inAddress, out);
    return;
  }
  const obj = node as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const key = k.toLowerCase();
    if (key === 'metadata' || key === 'custom_args' || key === 'unique_args') continue; // ids the integrator chose (metadata.user_id): kept
    const v = obj[k];
    if (typeof v === 'string') {
      // A customer's description is free text, often its name or address (Stripe's own examples).
      const personal = PERSONAL_KEYS.has(key) || (inAddress && !CLEAR_IN_ADDRESS.has(key)) || (key === 'description' && obj.object === 'customer');
      if (v !== '' && personal) out.push({ holder: obj, at: k, value: v, key });
    } else personalSlots(v, inAddress || ADDRESS_KEYS.has(key), out);
  }
}

/** Every string of a parsed document that is sealed, members and array items alike. */
function sealedSlots(node: unknown, out: Slot[]): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v: unknown = node[i];
      if (typeof v === 'string') {
        if (isSealed(v)) out.push({ holder: node, at: i, value: v, key: '' });
      } else sealedSlots(v, out);
    }
    return;
  }
  const obj = node as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (typeof v === 'string') {
      if (isSealed(v)) out.push({ holder: obj, at: k, value: v, key: k });
    } else sealedSlots(v, out);
  }
}

function put(slot: Slot, value: string): void {
  (slot.holder as Record<string | number, unknown>)[slot.at] = value;
}

/** Seals the personal members of a JSON document; a document with none is returned unchanged (byte for byte). */
export async function sealJson(text: string, seal: (s: string, email: boolean) => Promise<string>): Promise<string> {
  if (isSealed(text)) return text;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return seal(text, false); // not JSON: sealed whole
  }
  const slots: Slot[] = [];
  personalSlots(doc, false, slots);
  let changed = false;
  for (const slot of slots) {
    if (isSealed(slot.value) || slot.value === ERASED) continue;
    put(slot, await seal(slot.value, slot.key.includes('email')));
    changed = true;
  }
  return changed ? JSON.stringify(doc) : text;
}

/** Opens every sealed member of a JSON document (erased ones read `erased`). */
export async function openJson(text: string, open: (s: string) => Promise<string>): Promise<string> {
  if (isSealed(text)) return open(text);
  if (!text.includes('enc.v1.')) return text;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof doc === 'string') return isSealed(doc) ? JSON.stringify(await open(doc)) : text;
  const slots: Slot[] = [];
  sealedSlots(doc, slots);
  for (const slot of slots) put(slot, await open(slot.value));
  return JSON.stringify(doc);
}

/**
 * The record value with its personal fields sealed for its subject; `value` itself is left as it
 * was (the copy shares what sealing did not change). Values already sealed stay as they are (a step
 * copied from a sealed request). A record with personal data but no subject is refused: nothing
 * would be able to erase it.
 */
export async function sealRecord<V extends object>(box: ValueBox, record: RecordName, value: V): Promise<V> {
  const spec = personalSpecs.get(record);
  if (!spec) return value;
  const subject = subjectOf(record, value);
  let sealed: unknown = value;
  for (const f of spec.fields) {
    sealed = await updatedAt(sealed, f.path, async (s) => {
      if (s === '' || isSealed(s) || s === ERASED) return s;
      if (subject === null) throw new EventlineError('encode_failed', `${record}.${f.path.join('.')} holds personal data but the record names no subject (${spec.subject.map((c) => `${c.kind}:${c.path.join('.')}`).join(', ')})`);
      if (f.kind === 'json') return sealJson(s, (x, email) => box.seal(subject, x, { email }));
      return box.seal(subject, s, { email: f.kind === 'email' });
    });
  }
  return sealed as V;
}

/** The record value with its personal fields opened (`erased` where the key is gone); `value` itself is left as it was. */
export async function openRecord<V extends object>(box: ValueBox, record: RecordName, value: V): Promise<V> {
  const spec = personalSpecs.get(record);
  if (!spec) return value;
  let opened: unknown = value;
  for (const f of spec.fields) {
    opened = await updatedAt(opened, f.path, (s) => (f.kind === 'json' ? openJson(s, (x) => box.open(x)) : box.open(s)));
  }
  return opened as V;
}

/** Template data (a NotificationRequested's `data`): opened and parsed; an erased user's is empty. */
export async function openTemplateData(box: Pick<ValueBox, 'open'>, text: string): Promise<Record<string, unknown>> {
  const plain = await box.open(text);
  if (plain === ERASED) return {};
  try {
    const v: unknown = JSON.parse(plain);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
