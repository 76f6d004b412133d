/**
 * POST   /v1/users/:userId/push-subscriptions      {endpoint, keys: {p256dh, auth}} (a browser's
 *                                                   PushSubscription.toJSON()) → 201 {id, endpoint,
 *                                                   created_at}; the same endpoint again → 200, same id
 * DELETE /v1/users/:userId/push-subscriptions/:id  → 204; 404 when unknown or another user's
 *
 * Scope `preferences` (or `admin`), or the user's own user token (lib/http/user-token.ts: a
 * browser registers itself; a token for another user gets 403). A bad body is a 400 (not JSON) or 422 (each problem named,
 * subscription-input.ts) and nothing is stored. Registrations and removals are logged with the
 * subscription id and the push service's host, never the endpoint (it identifies a browser).
 */
import { Router, type RequestHandler } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { requireScope, type Authenticator } from '../../lib/http/auth.ts';
import { bodyBytes, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import type { Db } from '../../lib/db.ts';
import type { Logger } from '../../lib/log.ts';
import { PUSH_SUBSCRIPTION_ID, PushSubscriptions, pushServiceOf } from '../../notify/index.ts';
import { userIdParam } from '../preferences/route.ts';
import { parsePushSubscription } from './subscription-input.ts';

export interface PushSubscriptionRouteDeps {
  readonly db: Db;
  readonly keys: Authenticator;
  readonly bodyLimitBytes: number;
  readonly log: Logger;
  /** The secret user tokens are signed with (UNSUBSCRIBE_SECRET); null or absent: API keys only. */
  readonly userTokenSecret?: string | null;
  /** Tests only: accept endpoints on 127.0.0.1, ::1 and localhost (a local stand-in push service). */
  readonly allowLoopbackEndpoints?: boolean;
  /** Subscriptions kept per user; a new one beyond replaces the least recently used. */
  readonly maxPerUser?: number;
}

/** Who may manage a user's push subscriptions: a key with `preferences` (or `admin`), or that user's token. */
function mayManageSubscriptions(deps: PushSubscriptionRouteDeps): RequestHandler {
  return deps.userTokenSecret === undefined ? requireScope(deps.keys, 'preferences') : requireScope(deps.keys, 'preferences', { userTokens: { secret: deps.userTokenSecret } });
}

export function pushSubscriptionRoutes(deps: PushSubscriptionRouteDeps): Router {
  const router = Router();
  const log = deps.log.child({ component: 'push-subscriptions' });
  const subscriptions = new PushSubscriptions(deps.db, deps.maxPerUser === undefined ? {} : { maxPerUser: deps.maxPerUser });
  const policy = { allowLoopback: deps.allowLoopbackEndpoints === true };
  const access = mayManageSubscriptions(deps);

  router.post('/v1/users/:userId/push-subscriptions', access, rawBody(deps.bodyLimitBytes), async (req, res) => {
    const userId = userIdParam(req);
    requireContentType(req, ['application/json']);
    const parsed = parsePushSubscription(parseJson(bodyBytes(req)), policy);
    if (!parsed.ok) throw new EventlineError('unprocessable', 'invalid push subscription', { detail: parsed.problems });
    const { outcome, subscription, evicted } = await subscriptions.register(userId, parsed.value);
    const service = pushServiceOf(subscription.endpoint);
    if (outcome !== 'existing') log.info({ userId, subscriptionId: subscription.id, service, outcome }, 'push subscription registered');
    for (const id of evicted) log.info({ userId, subscriptionId: id, reason: 'replaced_by_newer' }, 'push subscription removed');
    res.status(outcome === 'existing' ? 200 : 201).json({ id: subscription.id, endpoint: subscription.endpoint, created_at: subscription.createdAt.toISOString() });
  });

  router.delete('/v1/users/:userId/push-subscriptions/:id', access, async (req, res) => {
    const userId = userIdParam(req);
    const id = String(req.params.id ?? '');
    if (!PUSH_SUBSCRIPTION_ID.test(id) || !(await subscriptions.remove(userId, id))) throw new EventlineError('not_found', 'no such push subscription for this user');
    log.info({ userId, subscriptionId: id, reason: 'deleted' }, 'push subscription removed');
    res.status(204).end();
  });

  return router;
}
