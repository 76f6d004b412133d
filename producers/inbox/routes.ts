/**
 * The in-app inbox (a Knock-style feed) and the user token that lets a browser use it.
 *
 * GET  /v1/users/:userId/inbox   → {items, unread_count, unseen_count, next_cursor}: newest first,
 *                                  keyset-paged on (created_at, notification_id); ?status=unread|
 *                                  unseen|archived|all (default: not archived), ?limit=1..100 (24),
 *                                  ?cursor=<next_cursor>. Counts are over the items not archived.
 * POST /v1/users/:userId/inbox/:notificationId/{seen,read,unread,archive}
 *                                → {notification_id, action, appended, event_id, item}: appends
 *                                  one delivery event (producers/inbox/to-event.ts) and answers the
 *                                  item as it will read once projected. Seen and archive are
 *                                  one-way: on an item already seen (archived) nothing is appended.
 * POST /v1/users/:userId/inbox/read-all → {marked}: one `read` per unread item not archived.
 * POST /v1/users/:userId/token   → {token, expires_at} (scope admin; body {ttl_seconds?}: 60..86400,
 *                                  default 3600): a user token (lib/http/user-token.ts) signed with
 *                                  UNSUBSCRIBE_SECRET (503 not_configured without it).
 *
 * The inbox routes take an API key with the `preferences` scope, or a user token for the same user
 * (403 for another user's; 401 expired or tampered). A notification not in the user's inbox is a
 * 404; bad input is a 4xx and appends nothing. Reads come from the inbox projection, so a change
 * shows in GET once it is projected (the POST's answer carries the state to show meanwhile).
 */
import { Router } from 'express';
import { z } from 'zod';
import { EventlineError } from '../../lib/errors.ts';
import { principalOf, requireScope, type Authenticator } from '../../lib/http/auth.ts';
import { bodyBytes, inputProblems, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import { signUserToken, USER_TOKEN_DEFAULT_TTL_SECONDS, USER_TOKEN_MAX_TTL_SECONDS, USER_TOKEN_MIN_TTL_SECONDS } from '../../lib/http/user-token.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { evolve } from '../../projections/inbox/evolve.ts';
import { feedCounts, inboxSchema, readFeed, readItem, unreadItems } from '../../projections/inbox/read.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { userIdParam } from '../preferences/route.ts';
import type { InboxItemRow } from '../../projections/inbox/read.ts';
import { encodeCursor, feedQuery, FeedRenderer, NOTIFICATION_ID, stateOf } from './feed.ts';
import { itemActions, toEvent, type ItemAction } from './to-event.ts';

export const tokenInput = z
  .object({ ttl_seconds: z.number().int().min(USER_TOKEN_MIN_TTL_SECONDS).max(USER_TOKEN_MAX_TTL_SECONDS).optional() })
  .strict();

/** Records per append of read-all. */
const APPEND_CHUNK = 500;

export function inboxRoutes(rt: Runtime, keys: Authenticator): Router {
  const router = Router();
  const renderer = new FeedRenderer();
  const secret = rt.config.unsubscribeSecret;
  const access = requireScope(keys, 'preferences', { userTokens: { secret } });
  // The request's template data is sealed for the user (ADR 0018): opened to render; `erased` renders empty.
  const opened = async (row: InboxItemRow): Promise<InboxItemRow> => ({ ...row, data: row.data === null ? null : await (await rt.privacy()).open(row.data) });
  const timezoneOf = async (userId: string): Promise<string> => (await readPreferences(rt.db, userId)).preferences.timezone;

  router.get('/v1/users/:userId/inbox', access, async (req, res) => {
    const userId = userIdParam(req);
    const query = feedQuery(req.query as Record<string, unknown>);
    const schema = await inboxSchema(rt.db);
    if (!schema) {
      res.json({ items: [], unread_count: 0, unseen_count: 0, next_cursor: null });
      return;
    }
    // The page and its counts from one snapshot: read apart, a change projected between the two
    // reads would show an item archived while still counted.
    const [{ feed, counts }, timezone] = await Promise.all([
      rt.db.transaction(async (c) => {
        await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        return { feed: await readFeed(c, schema, userId, query), counts: await feedCounts(c, schema, userId) };
      }),
      timezoneOf(userId),
    ]);
    const last = feed.items.at(-1);
    res.json({
      items: await Promise.all(feed.items.map(async (row) => renderer.item(await opened(row), timezone))),
      unread_count: counts.unread,
      unseen_count: counts.unseen,
      next_cursor: feed.more && last ? encodeCursor({ createdAt: last.created_at.getTime(), notificationId: last.notification_id }) : null,
    });
  });

  for (const action of Object.keys(itemActions) as ItemAction[]) {
    router.post(`/v1/users/:userId/inbox/:notificationId/${action}`, access, async (req, res) => {
      const userId = userIdParam(req);
      const notificationId = String(req.params.notificationId ?? '');
      if (!NOTIFICATION_ID.test(notificationId)) throw new EventlineError('bad_request', 'a notification id looks like ntf_...');
      const schema = await inboxSchema(rt.db);
      const row = schema ? await readItem(rt.db, schema, userId, notificationId) : null;
      if (!row) throw new EventlineError('not_found', `no notification ${notificationId} in this user's inbox`);
      const timezone = await timezoneOf(userId);
      const state = stateOf(row);
      // One-way changes already made: nothing to record (an inbox marks everything seen each time it opens).
      if ((action === 'seen' && state.seenAt !== null) || (action === 'archive' && state.archivedAt !== null)) {
        res.json({ notification_id: notificationId, action, appended: false, event_id: null, item: renderer.item(await opened(row), timezone) });
        return;
      }
      const event = toEvent({ notificationId, userId, action, actor: principalOf(res).keyId, at: Date.now() });
      const appender = await rt.kafka.appender();
      await appender.append('notify.delivery-events.v1', [{ key: notificationId, record: 'DeliveryEventReceived', value: event }]);
      const next = evolve(state, { eventId: event.event_id, kind: itemActions[action], at: event.occurred_at });
      res.json({ notification_id: notificationId, action, appended: true, event_id: event.event_id, item: renderer.item(await opened(row), timezone, next) });
    });
  }

  router.post('/v1/users/:userId/inbox/read-all', access, async (req, res) => {
    const userId = userIdParam(req);
    const schema = await inboxSchema(rt.db);
    const unread = schema ? await unreadItems(rt.db, schema, userId) : [];
    const actor = principalOf(res).keyId;
    const at = Date.now();
    const records = unread.map((row) => ({
      key: row.notification_id,
      record: 'DeliveryEventReceived' as const,
      value: toEvent({ notificationId: row.notification_id, userId, action: 'read_all', actor, at }),
    }));
    if (records.length > 0) {
      const appender = await rt.kafka.appender();
      for (let i = 0; i < records.length; i += APPEND_CHUNK) await appender.append('notify.delivery-events.v1', records.slice(i, i + APPEND_CHUNK));
    }
    res.json({ marked: records.length });
  });

  router.post('/v1/users/:userId/token', requireScope(keys, 'admin'), rawBody(rt.config.http.bodyLimitBytes), async (req, res) => {
    const userId = userIdParam(req);
    const bytes = bodyBytes(req);
    let ttl = USER_TOKEN_DEFAULT_TTL_SECONDS;
    if (bytes.length > 0) {
      requireContentType(req, ['application/json']);
      const parsed = tokenInput.safeParse(parseJson(bytes));
      if (!parsed.success) throw new EventlineError('unprocessable', 'invalid token request', { detail: inputProblems(parsed.error) });
      ttl = parsed.data.ttl_seconds ?? ttl;
    }
    if (!secret) throw new EventlineError('not_configured', 'UNSUBSCRIBE_SECRET is not set: user tokens cannot be signed');
    const { token, expiresAt } = signUserToken(secret, userId, Date.now(), ttl);
    res.json({ token, expires_at: new Date(expiresAt).toISOString() });
  });

  return router;
}
