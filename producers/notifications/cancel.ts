/**
 * DELETE /v1/notifications/:id — cancel a notification not sent yet.
 *
 *   scheduled, deferred, batched, retrying, or requested and not decided yet
 *                                → 202 {notification_id, status: "cancelling"}: a NotificationCancelled
 *                                  is appended (event id cancel:<id>: asking twice is one request);
 *                                  the dispatcher decides it `cancelled` unless a channel went out
 *                                  first (a send already with a provider is not called back)
 *   cancelled                    → 200 {notification_id, status: "cancelled"}, nothing appended
 *   sent, delivered, failed, suppressed … → 409 conflict naming the status, nothing appended
 *   unknown id 404; not an id 400; an essential (security, payment) notification needs the
 *   `essential` scope besides `publish` (403), as sending one does.
 *
 * A series id (POST with `recurrence` answers it as series_id, the first occurrence's id) cancels
 * the whole series: 202 {status: "cancelling", series: true}, whatever the first occurrence did;
 * the pending occurrence is cancelled when it comes due and no later one is requested.
 *
 * The status is the delivery projection's (GET /v1/notifications/:id), else the API's own record
 * of a request it just accepted.
 */
import { Router } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { hasScope, principalOf, requireScope } from '../../lib/http/auth.ts';
import { activeVersion } from '../../lib/projection-versions.ts';
import type { Runtime } from '../../lib/runtime.ts';
import type { NotificationCancelled } from '../../lib/topics.ts';
import { isEssential } from '../../projections/preferences/document.ts';
import type { Authenticator } from '../../lib/http/auth.ts';

/** Statuses a cancel may still stop (the dispatcher has the last word). */
const cancellable: ReadonlySet<string> = new Set(['requested', 'scheduled', 'deferred', 'batched', 'retrying']);

interface Known {
  readonly userId: string;
  readonly category: string;
  readonly status: string;
}

async function known(rt: Runtime, id: string): Promise<Known | null> {
  const version = await activeVersion(rt.db, 'delivery');
  if (version) {
    const { rows } = await rt.db.query<{ user_id: string; category: string; status: string | null }>(`SELECT user_id, category, status FROM ${version.schema}.notifications WHERE notification_id = $1`, [id]);
    const row = rows[0];
    if (row) return { userId: row.user_id, category: row.category, status: row.status ?? 'requested' };
  }
  const pending = await rt.redis.get(`api:notification:${id}`);
  if (!pending) return null;
  const p = JSON.parse(pending) as { user_id: string; category: string };
  return { userId: p.user_id, category: p.category, status: 'requested' };
}

export function cancelNotificationRoutes(rt: Runtime, keys: Authenticator): Router {
  const router = Router();
  router.delete('/v1/notifications/:id', requireScope(keys, 'publish'), async (req, res) => {
    const id = String(req.params.id ?? '');
    if (!/^ntf_[A-Za-z0-9]{1,64}$/.test(id)) throw new EventlineError('bad_request', 'a notification id looks like ntf_...');
    const append = async (userId: string) => {
      const now = Date.now();
      const cancel: NotificationCancelled = { event_id: `cancel:${id}`, occurred_at: now, received_at: now, notification_id: id, user_id: userId, requested_by: `key:${principalOf(res).keyId}`, reason: null };
      await (await rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: userId, record: 'NotificationCancelled', value: cancel }]);
    };
    const principal = principalOf(res);
    const series = (await rt.db.query<{ user_id: string; category: string; cancelled_at: Date | null }>('SELECT user_id, category, cancelled_at FROM dispatch.series WHERE series_id = $1', [id])).rows[0];
    if (series) {
      // A series: its pending occurrence and every later one are cancelled, whatever the first did.
      if (isEssential(series.category) && !hasScope(principal, 'essential')) throw new EventlineError('forbidden', `${id} is a series of ${series.category} notifications: cancelling it needs the "essential" scope`);
      if (series.cancelled_at) {
        res.status(200).json({ notification_id: id, status: 'cancelled', series: true });
        return;
      }
      await append(series.user_id);
      await rt.db.query('UPDATE dispatch.series SET cancelled_at = now() WHERE series_id = $1 AND cancelled_at IS NULL', [id]);
      res.status(202).json({ notification_id: id, status: 'cancelling', series: true });
      return;
    }
    const n = await known(rt, id);
    if (!n) throw new EventlineError('not_found', `no notification ${id}`);
    if (isEssential(n.category) && !hasScope(principal, 'essential')) {
      throw new EventlineError('forbidden', `${id} is a ${n.category} notification: cancelling it needs the "essential" scope`);
    }
    if (n.status === 'cancelled') {
      res.status(200).json({ notification_id: id, status: 'cancelled' });
      return;
    }
    if (!cancellable.has(n.status)) throw new EventlineError('conflict', `${id} is ${n.status}: only a notification not sent yet can be cancelled`);
    await append(n.userId);
    res.status(202).json({ notification_id: id, status: 'cancelling' });
  });
  return router;
}
