/**
 * GET /v1/users/:userId/preferences   current preferences (defaults when the user never set any)
 * PUT /v1/users/:userId/preferences   replace them; appends a change event (who: the API key, why:
 *                                     `reason`); security and payment cannot be turned off (422)
 */
import { Router, type Request } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { principalOf, requireScope } from '../../lib/http/auth.ts';
import { bodyBytes, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { changePreferences } from '../../notify/index.ts';
import { essentialViolations, preferencesInput, toPreferences } from '../../projections/preferences/document.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import type { ApiKeys } from '../keys/store.ts';

export const USER_ID = /^[A-Za-z0-9_.:@+-]{1,128}$/;

export function userIdParam(req: Request): string {
  const userId = String(req.params.userId ?? '');
  if (!USER_ID.test(userId)) throw new EventlineError('bad_request', 'userId must be 1..128 letters, digits or _.:@+-');
  return userId;
}

export function preferenceRoutes(rt: Runtime, keys: ApiKeys): Router {
  const router = Router();

  router.get('/v1/users/:userId/preferences', requireScope(keys, 'preferences'), async (req, res) => {
    const userId = userIdParam(req);
    const stored = await readPreferences(rt.db, userId);
    res.json({ user_id: userId, preferences: stored.preferences, changed_at: stored.changedAt?.toISOString() ?? null });
  });

  router.put('/v1/users/:userId/preferences', requireScope(keys, 'preferences'), rawBody(rt.config.http.bodyLimitBytes), async (req, res) => {
    const userId = userIdParam(req);
    requireContentType(req, ['application/json']);
    const parsed = preferencesInput.safeParse(parseJson(bodyBytes(req)));
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
      throw new EventlineError('unprocessable', 'invalid preferences', { detail: problems });
    }
    const doc = toPreferences(parsed.data);
    const violations = essentialViolations(doc);
    if (violations.length > 0) throw new EventlineError('unprocessable', 'essential notifications cannot be turned off', { detail: violations });
    const result = await changePreferences(rt, {
      userId,
      change: 'updated',
      actor: principalOf(res).keyId,
      reason: parsed.data.reason ?? null,
      source: 'api',
      category: null,
      next: (current) => {
        void current;
        return doc;
      },
    });
    res.status(200).json({
      user_id: userId,
      preferences: result.preferences,
      changed: result.changed,
      event_id: result.event?.event_id ?? null,
    });
  });

  return router;
}
