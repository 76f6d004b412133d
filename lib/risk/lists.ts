/**
 * Allow and block lists for fraud scoring (Stripe Radar's lists): an entry is a kind (email,
 * email_domain, card_fingerprint, bin, ip, country, customer) and a normalized value on the allow
 * or the block list. A payment matching a block entry is blocked and one matching an allow entry
 * allowed, whatever its score (allow wins, as Radar's allow rules run before its block rules); the
 * match is a named factor.
 *
 * Changes are events (RiskListChanged on risk.fraud-scores.v1) with a read model in Postgres
 * (risk.lists): stored first, appended, committed after the append — a failed append changes
 * nothing. Scorers keep a copy (RiskLists) read again every `refreshMs`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Db } from '../db.ts';
import { EventlineError } from '../errors.ts';
import type { Kafka } from '../kafka/index.ts';
import type { RiskListChanged } from '../topics.ts';
import type { PaymentFacts } from './score.ts';

export const listNames = ['allow', 'block'] as const;
export type ListName = (typeof listNames)[number];
export const listKinds = ['email', 'email_domain', 'card_fingerprint', 'bin', 'ip', 'country', 'customer'] as const;
export type ListKind = (typeof listKinds)[number];

export interface ListEntry {
  readonly list: ListName;
  readonly kind: ListKind;
  readonly value: string;
  readonly reason: string | null;
}


/** An IP address in one spelling (IPv6 compressed and lowercase, as WHATWG URL writes it), or null. */
export function canonicalIp(raw: string): string | null {
  const v = raw.trim();
  if (isIPv4(v)) return v;
  if (!isIPv6(v)) return null;
  return new URL(`http://[${v}]/`).hostname.slice(1, -1);
}

/** The value in its normal form, or what is wrong with it. Pure. */
export function normalizeListValue(kind: ListKind, raw: string): { ok: true; value: string } | { ok: false; problem: string } {
  const v = raw.trim();
  const bad = (problem: string) => ({ ok: false as const, problem: `${kind}: ${problem}` });
  switch (kind) {
    case 'email':
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) && v.length <= 254 ? { ok: true, value: v.toLowerCase() } : bad('expected an email address');
    case 'email_domain':
      return /^(?=.{1,253}$)([a-z0-9-]+\.)+[a-z]{2,}$/i.test(v) ? { ok: true, value: v.toLowerCase() } : bad('expected a domain like example.com');
    case 'card_fingerprint':
      return /^[A-Za-z0-9]{8,32}$/.test(v) ? { ok: true, value: v } : bad("expected a Stripe card fingerprint (8 to 32 letters and digits)");
    case 'bin':
      return /^\d{6,8}$/.test(v) ? { ok: true, value: v } : bad('expected the first 6 to 8 digits of a card number');
    case 'ip': {
      const ip = canonicalIp(v);
      return ip ? { ok: true, value: ip } : bad('expected an IPv4 or IPv6 address');
    }
    case 'country':
      return /^[A-Za-z]{2}$/.test(v) ? { ok: true, value: v.toUpperCase() } : bad('expected an ISO 3166-1 alpha-2 country code like US');
    case 'customer':
      return /^cus_[A-Za-z0-9]{1,64}$/.test(v) ? { ok: true, value: v } : bad('expected a Stripe customer id like cus_...');
    default: {
      const _exhaustive: never = kind;
      return _exhaustive;
    }
  }
}

/** What a payment can match on: each kind's normalized value from its facts. */
export function listCandidates(f: Pick<PaymentFacts, 'customerId' | 'email' | 'fingerprint' | 'cardCountry' | 'ip' | 'bin'>): readonly (readonly [ListKind, string])[] {
  const out: (readonly [ListKind, string])[] = [['customer', f.customerId]];
  const email = f.email?.trim().toLowerCase() ?? null;
  if (email) {
    out.push(['email', email]);
    const domain = email.split('@')[1];
    if (domain) out.push(['email_domain', domain]);
  }
  if (f.fingerprint) out.push(['card_fingerprint', f.fingerprint]);
  if (f.bin) out.push(['bin', f.bin]);
  const ip = f.ip ? canonicalIp(f.ip) : null;
  if (ip) out.push(['ip', ip]);
  if (f.cardCountry) out.push(['country', f.cardCountry.toUpperCase()]);
  return out;
}

/** The entries a payment matches, allow and block. */
export interface ListMatches {
  readonly allow: readonly ListEntry[];
  readonly block: readonly ListEntry[];
}

export const noMatches: ListMatches = { allow: [], block: [] };

/** An immutable copy of the lists, indexed by kind and value. */
export class ListSnapshot {
  private readonly byKey: ReadonlyMap<string, ListEntry>;
  constructor(readonly entries: readonly ListEntry[]) {
    this.byKey = new Map(entries.map((e) => [`${e.kind}\u0000${e.value}`, e]));
  }
  match(f: Parameters<typeof listCandidates>[0]): ListMatches {
    const hits = listCandidates(f).flatMap(([kind, value]) => {
      const e = this.byKey.get(`${kind}\u0000${value}`);
      return e ? [e] : [];
    });
    return { allow: hits.filter((e) => e.list === 'allow'), block: hits.filter((e) => e.list === 'block') };
  }
}

/** The lists as a scorer keeps them: read from Postgres every `refreshMs` in the background. */
export class RiskLists {
  private snapshot = new ListSnapshot([]);
  private readAt = 0;
  private reading: Promise<void> | null = null;
  constructor(
    private readonly db: Db,
    private readonly refreshMs = 2_000,
  ) {}

  /** The lists now (a read in the background when due; the first call reads them). */
  async current(): Promise<ListSnapshot> {
    if (this.readAt === 0) await this.refresh();
    else if (Date.now() - this.readAt >= this.refreshMs && !this.reading) this.reading = this.refresh().finally(() => (this.reading = null));
    return this.snapshot;
  }

  /** Reads the lists now (Postgres away: keeps the copy in hand). */
  async refresh(): Promise<void> {
    this.readAt = Date.now();
    try {
      const { rows } = await this.db.query<{ list: ListName; kind: ListKind; value: string; reason: string | null }>('SELECT list, kind, value, reason FROM risk.lists');
      this.snapshot = new ListSnapshot(rows);
    } catch {
      // Keep what is in hand.
    }
  }
}

export async function readLists(db: Db): Promise<(ListEntry & { added_by: string; added_at: string })[]> {
  const { rows } = await db.query<ListEntry & { added_by: string; added_at: Date }>('SELECT list, kind, value, reason, added_by, added_at FROM risk.lists ORDER BY list, kind, value');
  return rows.map((r) => ({ ...r, added_at: r.added_at.toISOString() }));
}

/**
 * Adds an entry to a list (moving it from the other list if it was there) or removes it: stored,
 * appended, committed after the append. Returns the event, or null when nothing changed.
 */
export async function changeList(db: Db, kafka: Kafka, change: { readonly change: 'added' | 'removed'; readonly list: ListName; readonly kind: ListKind; readonly value: string; readonly reason: string | null; readonly actor: string }, now = Date.now()): Promise<RiskListChanged | null> {
  const normal = normalizeListValue(change.kind, change.value);
  if (!normal.ok) throw new EventlineError('unprocessable', 'invalid list entry', { detail: [normal.problem] });
  const value = normal.value;
  return db.transaction(async (c) => {
    if (change.change === 'added') {
      const { rows } = await c.query<{ list: string; reason: string | null }>('SELECT list, reason FROM risk.lists WHERE kind = $1 AND value = $2 FOR UPDATE', [change.kind, value]);
      if (rows[0]?.list === change.list && rows[0].reason === change.reason) return null;
      await c.query(
        `INSERT INTO risk.lists (list, kind, value, reason, added_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, value) DO UPDATE SET list = excluded.list, reason = excluded.reason, added_by = excluded.added_by, added_at = now()`,
        [change.list, change.kind, value, change.reason, change.actor],
      );
    } else {
      const { rowCount } = await c.query('DELETE FROM risk.lists WHERE list = $1 AND kind = $2 AND value = $3', [change.list, change.kind, value]);
      if (!rowCount) return null;
    }
    const event: RiskListChanged = { event_id: `list:${change.list}:${change.kind}:${value}:${change.change}:${now}`, occurred_at: now, received_at: now, list: change.list, kind: change.kind, value, change: change.change, reason: change.reason, actor: change.actor };
    await (await kafka.appender()).append('risk.fraud-scores.v1', [{ key: `${change.kind}:${value}`, record: 'RiskListChanged', value: event }]);
    return event;
  });
}
