/**
 * Privacy routes (ADR 0018), admin keys only: the answers carry a user's personal data, opened.
 *
 *   GET  /v1/users/:userId/export   everything Eventline holds about the user, one JSON document
 *                                   (format eventline.user-export.v1, producers/privacy/export.ts);
 *                                   the same as `eventline privacy export <userId>`. A user Eventline
 *                                   knows nothing about gets a document with empty lists.
 *
 *   POST /v1/users/:userId/erase    right to be forgotten: 202 with the erasure (the same one when
 *                                   asked again); it completes in the background
 *   GET  /v1/erasures/:erasureId    its progress: pending, then done with the subjects destroyed
 *
 * A bad user id: 400.
 */
import { Router } from 'express';
import { requireScope } from '../../lib/http/auth.ts';
import type { Runtime } from '../../lib/runtime.ts';
import type { ApiKeys } from '../keys/store.ts';
import { userIdParam } from '../preferences/route.ts';
import { EventlineError, errorMessage } from '../../lib/errors.ts';
import { principalOf } from '../../lib/http/auth.ts';
import { erasureOf, requestErasure, runErasure } from './erase.ts';
import { exportUser, findSubjects } from './export.ts';

export function privacyRoutes(rt: Runtime, keys: ApiKeys): Router {
  const router = Router();

  router.get('/v1/users/:userId/export', requireScope(keys, 'admin'), async (req, res) => {
    const userId = userIdParam(req);
    const document = await exportUser(rt, userId);
    // Personal data: no cache along the way may keep a copy.
    res.set('Cache-Control', 'no-store');
    res.json(document);
  });

  // Erasures run in the background of the process that took them; one left pending by a process
  // that stopped is finished by the next one to start.
  const running = new Map<string, Promise<unknown>>();
  const start = (erasureId: string) => {
    if (running.has(erasureId)) return;
    const run = runErasure(rt, erasureId, findSubjects)
      .catch((err: unknown) => rt.log.error({ component: 'privacy', erasureId, err: errorMessage(err) }, 'erasure failed: it is finished when asked again or at the next start'))
      .finally(() => running.delete(erasureId));
    running.set(erasureId, run);
  };
  void rt.db
    .query<{ erasure_id: string }>("SELECT erasure_id FROM privacy.erasures WHERE status = 'pending'")
    .then((r) => r.rows.forEach((row) => start(row.erasure_id)))
    .catch((err: unknown) => rt.log.warn({ component: 'privacy', err: errorMessage(err) }, 'could not look for pending erasures'));
  rt.shutdown.add('erasures', async () => {
    await Promise.allSettled([...running.values()]);
  });

  router.post('/v1/users/:userId/erase', requireScope(keys, 'admin'), async (req, res) => {
    const userId = userIdParam(req);
    const erasure = await requestErasure(rt, userId, principalOf(res).keyId);
    if (erasure.status === 'pending') start(erasure.erasure_id);
    res.status(202).location(`/v1/erasures/${erasure.erasure_id}`).json(erasure);
  });

  router.get('/v1/erasures/:erasureId', requireScope(keys, 'admin'), async (req, res) => {
    const erasureId = String(req.params.erasureId ?? '');
    if (!/^era_[0-9a-f]{32}$/.test(erasureId)) throw new EventlineError('bad_request', 'an erasure id looks like era_ followed by 32 hex digits');
    const erasure = await erasureOf(rt, { erasureId });
    if (!erasure) throw new EventlineError('not_found', `no erasure ${erasureId}`);
    res.json(erasure);
  });

  return router;
}
