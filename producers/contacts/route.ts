/**
 * GET  /v1/contacts/confirm/:token   confirmation page (never confirms: link scanners fetch links)
 * POST /v1/contacts/confirm/:token   confirms the email or phone the link was sent to — if it is
 *                                    still the user's — by appending a PreferencesChanged (change
 *                                    contact_confirmed, source confirmation_link); idempotent.
 *                                    410 when the link expired or the address was replaced since.
 * Authenticated by the signed token alone (notify/contact-token.ts). Browsers get HTML, everything
 * else JSON.
 */
import { Router, type Request, type Response } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { rawBody } from '../../lib/http/body.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { changePreferences, isTokenAddress, verifyContactToken, type ContactClaims } from '../../notify/index.ts';
import { confirmContact, contactFieldOf } from '../../projections/preferences/document.ts';
import { confirmPage, donePage, errorPage } from './page.ts';

function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html';
}

function fail(req: Request, res: Response, err: unknown, title: string): void {
  if (!(err instanceof EventlineError) || !wantsHtml(req)) throw err;
  res.status(err.status).type('html').send(errorPage(title, err.message));
}

export function contactRoutes(rt: Runtime, now: () => number = Date.now): Router {
  const router = Router();
  const secret = rt.config.unsubscribeSecret;

  function claimsOf(req: Request): { secret: string; claims: ContactClaims } {
    if (!secret) throw new EventlineError('not_configured', 'UNSUBSCRIBE_SECRET is not configured on this Eventline');
    const check = verifyContactToken(secret, String(req.params.token ?? ''), now());
    if (!check.ok) {
      if (check.reason === 'expired') throw new EventlineError('gone', 'this confirmation link has expired; change the address again to get a new one');
      throw new EventlineError('bad_request', 'this confirmation link is not valid');
    }
    return { secret, claims: check.claims };
  }

  router.get('/v1/contacts/confirm/:token', (req, res) => {
    let claims: ContactClaims;
    try {
      claims = claimsOf(req).claims;
    } catch (err) {
      return fail(req, res, err, 'Confirmation link not valid');
    }
    if (wantsHtml(req)) res.type('html').send(confirmPage(claims.channel));
    else res.json({ user_id: claims.userId, field: contactFieldOf[claims.channel], channel: claims.channel, action: 'POST this URL to confirm' });
  });

  router.post('/v1/contacts/confirm/:token', rawBody(16 * 1024), async (req, res) => {
    try {
      const { secret: key, claims } = claimsOf(req);
      const field = contactFieldOf[claims.channel];
      const result = await changePreferences(rt, {
        userId: claims.userId,
        change: 'contact_confirmed',
        actor: 'contact-confirmation-link',
        reason: `${field} confirmed through the link sent to it`,
        source: 'confirmation_link',
        category: null,
        next: (current) => {
          if (!isTokenAddress(key, claims, current[field])) throw new EventlineError('gone', `this link was sent to an ${field === 'email' ? 'email address' : 'phone number'} that is no longer the one in the user's preferences`);
          return confirmContact(current, field, now());
        },
      });
      if (wantsHtml(req)) res.type('html').send(donePage(claims.channel, !result.changed));
      else res.json({ confirmed: true, user_id: claims.userId, field, channel: claims.channel, changed: result.changed, event_id: result.event?.event_id ?? null });
    } catch (err) {
      fail(req, res, err, 'Confirmation link not valid');
    }
  });

  return router;
}
