/**
 * The inbox feed as the API answers it: query parameters validated, opaque keyset cursors, and
 * items rendered from their template and the request's data. Pure apart from the templates, which
 * load once.
 *
 * Title and body are rendered when the feed is read, with the current templates: the template's
 * subject is the title and its SMS text the body, in the locale the dispatcher chose and the
 * user's time zone. An item whose request is not projected yet (or whose template is gone) has a
 * null title and body. action_url is the data's `action_url`, else its `hosted_invoice_url`, when
 * it is an https URL (notify/links.ts), else null.
 */
import { EventlineError } from '../../lib/errors.ts';
import { Templates, withSafeLinks } from '../../notify/index.ts';
import type { ItemState } from '../../projections/inbox/evolve.ts';
import { feedFilters, type FeedFilter, type FeedPosition, type InboxItemRow } from '../../projections/inbox/read.ts';

export const DEFAULT_LIMIT = 24;
export const MAX_LIMIT = 100;
export const NOTIFICATION_ID = /^ntf_[A-Za-z0-9]{1,64}$/;

/** The statuses `?status=` takes; absent: everything not archived. */
const statuses = feedFilters.filter((f) => f !== 'default');

export interface FeedQuery {
  readonly filter: FeedFilter;
  readonly limit: number;
  readonly after: FeedPosition | null;
}

export interface InboxItem {
  readonly notification_id: string;
  readonly template: string;
  readonly category: string;
  readonly title: string | null;
  readonly body: string | null;
  readonly action_url: string | null;
  readonly created_at: string;
  readonly seen_at: string | null;
  readonly read_at: string | null;
  readonly archived_at: string | null;
}

export function encodeCursor(p: FeedPosition): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.notificationId])).toString('base64url');
}

export function decodeCursor(cursor: string): FeedPosition | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(raw) || raw.length !== 2) return null;
  const [createdAt, notificationId] = raw as [unknown, unknown];
  if (!Number.isSafeInteger(createdAt) || (createdAt as number) < 0 || typeof notificationId !== 'string' || !NOTIFICATION_ID.test(notificationId)) return null;
  return { createdAt: createdAt as number, notificationId };
}

/** Validates `status`, `limit` and `cursor`; 400 naming every bad one. */
export function feedQuery(query: Readonly<Record<string, unknown>>): FeedQuery {
  const problems: string[] = [];
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      problems.push(`${name}: give it once`);
      return undefined;
    }
    return v;
  };
  const status = one('status');
  const limitText = one('limit');
  const cursor = one('cursor');
  let filter: FeedFilter = 'default';
  if (status !== undefined) {
    if ((statuses as readonly string[]).includes(status)) filter = status as FeedFilter;
    else problems.push(`status: one of ${statuses.join(', ')}`);
  }
  let limit = DEFAULT_LIMIT;
  if (limitText !== undefined) {
    const n = /^[0-9]{1,4}$/.test(limitText) ? Number(limitText) : NaN;
    if (n >= 1 && n <= MAX_LIMIT) limit = n;
    else problems.push(`limit: an integer from 1 to ${MAX_LIMIT}`);
  }
  let after: FeedPosition | null = null;
  if (cursor !== undefined) {
    after = decodeCursor(cursor);
    if (!after) problems.push('cursor: not a cursor this feed gave (use next_cursor as it is)');
  }
  if (problems.length > 0) throw new EventlineError('bad_request', 'invalid inbox query', { detail: problems });
  return { filter, limit, after };
}

function dataOf(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The state a row holds, as the fold's state. */
export function stateOf(row: Pick<InboxItemRow, 'seen_at' | 'read_at' | 'archived_at'>): ItemState {
  return { seenAt: row.seen_at?.getTime() ?? null, readAt: row.read_at?.getTime() ?? null, archivedAt: row.archived_at?.getTime() ?? null };
}

export class FeedRenderer {
  private readonly templates: Templates;

  constructor(templates: Templates = new Templates()) {
    this.templates = templates;
  }

  /** The item as the API answers it; `state` overrides the row's (an answer to a change). */
  item(row: InboxItemRow, timezone: string, state: ItemState = stateOf(row)): InboxItem {
    const data = row.data === null ? null : dataOf(row.data);
    let title: string | null = null;
    let body: string | null = null;
    if (data !== null && this.templates.has(row.template)) {
      try {
        const rendered = this.templates.render(row.template, row.locale, data, { timezone, unsubscribeUrl: null });
        title = rendered.subject || null;
        body = rendered.sms || null;
      } catch {
        // A template that cannot render this data: the item is still listed, without text.
      }
    }
    const links = data === null ? null : withSafeLinks({ action_url: data.action_url, hosted_invoice_url: data.hosted_invoice_url });
    return {
      notification_id: row.notification_id,
      template: row.template,
      category: row.category,
      title,
      body,
      action_url: (links?.action_url as string | null | undefined) ?? (links?.hosted_invoice_url as string | null | undefined) ?? null,
      created_at: row.created_at.toISOString(),
      seen_at: iso(state.seenAt),
      read_at: iso(state.readAt),
      archived_at: iso(state.archivedAt),
    };
  }
}
