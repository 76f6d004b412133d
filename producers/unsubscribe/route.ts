/**
 * GET  /v1/unsubscribe/:token   confirmation page (never unsubscribes: link scanners fetch links)
 * POST /v1/unsubscribe/:token   unsubscribe; RFC 8058 one-click (body List-Unsubscribe=One-Click)
 *                               or the page's form. A token works once (410 afterwards).
 * Authenticated by the signed token alone. Browsers get HTML, everything else JSON.
 */
import { Router, type Request, type Response } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { bodyBytes, rawBody } from '../../lib/http/body.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { changePreferences, verifyUnsubscribeToken, type UnsubscribeClaims } from '../../notify/index.ts';
import { isEssential, unsubscribe } from '../../projections/preferences/document.ts';
import { signUserToken, USER_TOKEN_MAX_TTL_SECONDS } from '../../lib/http/user-token.ts';
import { preferenceCentreUrl } from '../preference-centre/route.ts';
import { confirmPage, donePage, errorPage } from './page.ts';

function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html';
}

function fail(req: Request, res: Response, err: EventlineError, title: string): void {
  if (!wantsHtml(req)) throw err;
  res.status(err.status).type('html').send(errorPage(title, err.message));
}

export function unsubscribeRoutes(rt: Runtime, now: () => number = Date.now): Router {
  const router = Router();
  const secret = rt.config.unsubscribeSecret;
  if (!secret) rt.log.warn({ route: '/v1/unsubscribe' }, 'UNSUBSCRIBE_SECRET is not set: unsubscribe links are rejected with 503');

  function claimsOf(req: Request): UnsubscribeClaims {
    if (!secret) throw new EventlineError('not_configured', 'UNSUBSCRIBE_SECRET is not configured on this Eventline');
    const check = verifyUnsubscribeToken(secret, String(req.params.token ?? ''), now());
    if (!check.ok) {
      if (check.reason === 'expired') throw new EventlineError('gone', 'this unsubscribe link has expired');
      throw new EventlineError('bad_request', 'this unsubscribe link is not valid');
    }
    if (check.claims.category !== null && isEssential(check.claims.category)) {
      throw new EventlineError('unprocessable', `${check.claims.category} notifications cannot be unsubscribed`);
    }
    return check.claims;
  }

  router.get('/v1/unsubscribe/:token', (req, res) => {
    let claims: UnsubscribeClaims;
    try {
      claims = claimsOf(req);
    } catch (err) {
      return fail(req, res, err as EventlineError, 'Unsubscribe link not valid');
    }
    // The page links to the preference centre with a fresh user token (a day: the page is not kept).
    const manage = secret ? preferenceCentreUrl(rt.config.http.publicUrl, signUserToken(secret, claims.userId, now(), USER_TOKEN_MAX_TTL_SECONDS, 'preference_centre').token) : null;
    if (wantsHtml(req)) res.set('cache-control', 'no-store').type('html').send(confirmPage(claims.category, manage));
    else res.json({ user_id: claims.userId, category: claims.category, action: 'POST this URL to unsubscribe', preference_centre_url: manage });
  });

  router.post('/v1/unsubscribe/:token', rawBody(16 * 1024), async (req, res) => {
    let claims: UnsubscribeClaims;
    try {
      claims = claimsOf(req);
    } catch (err) {
      return fail(req, res, err as EventlineError, 'Unsubscribe link not valid');
    }
    const form = new URLSearchParams(bodyBytes(req).toString('utf8'));
    const oneClick = form.get('List-Unsubscribe') === 'One-Click';
    try {
      const result = await changePreferences(rt, {
        userId: claims.userId,
        change: 'unsubscribed',
        actor: 'unsubscribe-link',
        reason: oneClick ? 'one-click unsubscribe (RFC 8058)' : 'unsubscribe link',
        source: oneClick ? 'one_click' : 'unsubscribe_link',
        category: claims.category,
        next: (current) => unsubscribe(current, claims.category),
        guard: async (client) => {
          const used = await client.query('INSERT INTO preferences.used_unsubscribe_tokens (nonce, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
            claims.nonce,
            claims.userId,
          ]);
          if (used.rowCount === 0) throw new EventlineError('gone', 'this unsubscribe link was already used');
        },
      });
      if (wantsHtml(req)) res.type('html').send(donePage(claims.category, !result.changed));
      else res.json({ unsubscribed: true, user_id: claims.userId, category: claims.category, changed: result.changed, event_id: result.event?.event_id ?? null });
    } catch (err) {
      if (err instanceof EventlineError && err.code === 'gone') return fail(req, res, err, 'Link already used');
      throw err;
    }
  });

  return router;
}
