/**
 * The hosted preference centre (form.ts, page.ts):
 *
 * GET  /v1/preference-centre/:token   the page (HTML; JSON for a client that asks for it)
 * POST /v1/preference-centre/:token   save the page's form (application/x-www-form-urlencoded):
 *                                     one preference event (change `updated`, source
 *                                     `preference_centre`, actor `preference-centre:<token
 *                                     fingerprint>`, reason the user's words or "saved in the
 *                                     preference centre"), then 303 back to the page, which says
 *                                     it was saved; JSON clients get {saved, changed, event_id}.
 *
 * The token is a preference-centre token (lib/http/user-token.ts, `evp_`: the unsubscribe page
 * links here with a fresh one; it opens this page only, not the inbox or push routes) or a user
 * token a product's backend handed out (POST /v1/users/:userId/token) to link its users here. A token opens its own user's page only; an expired one is 410, a forged one 400. Bad input
 * is a 4xx JSON error (HTML for a browser) and changes nothing. GET never changes anything: link
 * scanners fetch links.
 */
import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { bodyBytes, rawBody, requireContentType } from '../../lib/http/body.ts';
import { purposeOf, verifyUserToken } from '../../lib/http/user-token.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { changePreferences } from '../../notify/index.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { errorPage } from '../unsubscribe/page.ts';
import { applyCentreChange, parseCentreForm, viewOf } from './form.ts';
import { centrePage } from './page.ts';

export const PREFERENCE_CENTRE_PATH = '/v1/preference-centre';

/** The page's URL for a user token. */
export function preferenceCentreUrl(publicUrl: string, token: string): string {
  return `${publicUrl}${PREFERENCE_CENTRE_PATH}/${token}`;
}

/** Who saved: the token, by a fingerprint that does not let anyone use it. */
const actorOf = (token: string) => `preference-centre:${createHash('sha256').update(token).digest('hex').slice(0, 12)}`;

function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html';
}

export function preferenceCentreRoutes(rt: Runtime, now: () => number = Date.now): Router {
  const router = Router();
  const secret = rt.config.unsubscribeSecret;

  function userOf(req: Request): { userId: string; token: string } {
    if (!secret) throw new EventlineError('not_configured', 'UNSUBSCRIBE_SECRET is not configured on this Eventline');
    const token = String(req.params.token ?? '');
    // A preference-centre token (from an unsubscribe page) or a user token a product handed out.
    const check = verifyUserToken(secret, token, now(), purposeOf(token) ?? 'user');
    if (!check.ok) {
      if (check.reason === 'expired') throw new EventlineError('gone', 'this preferences link has expired: use the link in a newer message');
      throw new EventlineError('bad_request', 'this preferences link is not valid');
    }
    return { userId: check.claims.userId, token };
  }

  /** A browser gets the error as a page; anything else as JSON (the app's error handler). */
  function failed(req: Request, res: Response, err: unknown): void {
    if (!(err instanceof EventlineError) || !wantsHtml(req)) throw err;
    const detail = err.detail !== undefined && Array.isArray(err.detail) ? ` ${(err.detail as string[]).join('; ')}` : '';
    res.status(err.status).type('html').send(errorPage('Preferences not saved', `${err.message}.${detail}`));
  }

  router.get(`${PREFERENCE_CENTRE_PATH}/:token`, async (req, res) => {
    let user: { userId: string; token: string };
    try {
      user = userOf(req);
    } catch (err) {
      return failed(req, res, err);
    }
    const stored = await readPreferences(rt.db, user.userId, { box: await rt.privacy() });
    const view = viewOf(stored.preferences);
    res.set('cache-control', 'no-store');
    if (wantsHtml(req)) {
      const saved = req.query.saved === 'changed' || req.query.saved === 'unchanged';
      res.type('html').send(centrePage(view, { saved, changed: req.query.saved === 'changed', phone: stored.preferences.phone }));
    } else res.json({ user_id: user.userId, ...view, changed_at: stored.changedAt?.toISOString() ?? null });
  });

  router.post(`${PREFERENCE_CENTRE_PATH}/:token`, rawBody(64 * 1024), async (req, res) => {
    try {
      const user = userOf(req);
      requireContentType(req, ['application/x-www-form-urlencoded']);
      const parsed = parseCentreForm(new URLSearchParams(bodyBytes(req).toString('utf8')));
      if (!parsed.ok) throw new EventlineError('unprocessable', 'the preferences form has problems', { detail: [...parsed.problems] });
      const at = now();
      const result = await changePreferences(rt, {
        userId: user.userId,
        change: 'updated',
        actor: actorOf(user.token),
        reason: parsed.change.reason ?? 'saved in the preference centre',
        source: 'preference_centre',
        category: null,
        next: (current) => applyCentreChange(current, parsed.change, at),
      });
      res.set('cache-control', 'no-store');
      if (wantsHtml(req)) res.redirect(303, `${req.originalUrl.split('?')[0]}?saved=${result.changed ? 'changed' : 'unchanged'}`);
      else res.json({ saved: true, changed: result.changed, event_id: result.event?.event_id ?? null });
    } catch (err) {
      failed(req, res, err);
    }
  });

  return router;
}
