/**
 * The read side of the inbox projection (GET /v1/users/:userId/inbox and the state-change routes):
 * a user's feed newest first, paged by keyset on (created_at, notification_id), its counts, one
 * item, the unread items. Reads the active version; none yet means an empty inbox.
 */
import type { Db, Queryable } from '../../lib/db.ts';
import { activeVersion } from '../../lib/projection-versions.ts';

/** default: everything not archived; unread and unseen: not archived either; archived; all. */
export const feedFilters = ['default', 'unread', 'unseen', 'archived', 'all'] as const;
export type FeedFilter = (typeof feedFilters)[number];

const filterSql: Readonly<Record<FeedFilter, string>> = {
  default: 'i.archived_at IS NULL',
  unread: 'i.archived_at IS NULL AND i.read_at IS NULL',
  unseen: 'i.archived_at IS NULL AND i.seen_at IS NULL',
  archived: 'i.archived_at IS NOT NULL',
  all: 'TRUE',
};

/** A position in a feed: the last item of a page (its created_at in ms and id). */
export interface FeedPosition {
  readonly createdAt: number;
  readonly notificationId: string;
}

export interface InboxItemRow {
  readonly notification_id: string;
  readonly user_id: string;
  readonly template: string;
  readonly category: string;
  readonly locale: string | null;
  readonly created_at: Date;
  readonly seen_at: Date | null;
  readonly read_at: Date | null;
  readonly archived_at: Date | null;
  /** The request's template data (JSON text); null while the request is not projected yet. */
  readonly data: string | null;
}

const COLUMNS = `i.notification_id, i.user_id, i.template, i.category, i.locale, i.created_at, i.seen_at, i.read_at, i.archived_at, r.data`;

/** The schema of the active inbox version, or null when the projection never ran. */
export async function inboxSchema(db: Db): Promise<string | null> {
  return (await activeVersion(db, 'inbox'))?.schema ?? null;
}

/** Up to `limit` items after `after` (exclusive), newest first; `more` when others follow. */
export async function readFeed(
  db: Queryable,
  schema: string,
  userId: string,
  options: { filter: FeedFilter; limit: number; after: FeedPosition | null },
): Promise<{ items: InboxItemRow[]; more: boolean }> {
  const values: unknown[] = [userId, options.limit + 1];
  let keyset = '';
  if (options.after) {
    values.push(new Date(options.after.createdAt), options.after.notificationId);
    keyset = 'AND (i.created_at, i.notification_id) < ($3, $4)';
  }
  const res = await db.query<InboxItemRow>(
    `SELECT ${COLUMNS} FROM ${schema}.items i LEFT JOIN ${schema}.requests r USING (notification_id)
     WHERE i.user_id = $1 AND ${filterSql[options.filter]} ${keyset}
     ORDER BY i.created_at DESC, i.notification_id DESC LIMIT $2`,
    values,
  );
  return { items: res.rows.slice(0, options.limit), more: res.rows.length > options.limit };
}

/** Unread and unseen items among the user's items that are not archived (the badge counts). */
export async function feedCounts(db: Queryable, schema: string, userId: string): Promise<{ unread: number; unseen: number }> {
  const res = await db.query<{ unread: number; unseen: number }>(
    `SELECT count(*) FILTER (WHERE read_at IS NULL)::int AS unread, count(*) FILTER (WHERE seen_at IS NULL)::int AS unseen
     FROM ${schema}.items WHERE user_id = $1 AND archived_at IS NULL`,
    [userId],
  );
  return res.rows[0] ?? { unread: 0, unseen: 0 };
}

/** One item of the user's inbox, or null when the notification is not in it. */
export async function readItem(db: Queryable, schema: string, userId: string, notificationId: string): Promise<InboxItemRow | null> {
  const res = await db.query<InboxItemRow>(
    `SELECT ${COLUMNS} FROM ${schema}.items i LEFT JOIN ${schema}.requests r USING (notification_id) WHERE i.notification_id = $1 AND i.user_id = $2`,
    [notificationId, userId],
  );
  return res.rows[0] ?? null;
}

/** The user's unread items that are not archived, oldest first (what "read all" marks). */
export async function unreadItems(db: Queryable, schema: string, userId: string): Promise<InboxItemRow[]> {
  const res = await db.query<InboxItemRow>(
    `SELECT ${COLUMNS} FROM ${schema}.items i LEFT JOIN ${schema}.requests r USING (notification_id)
     WHERE i.user_id = $1 AND i.archived_at IS NULL AND i.read_at IS NULL ORDER BY i.created_at, i.notification_id`,
    [userId],
  );
  return res.rows;
}
