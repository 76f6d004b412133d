/**
 * GET /            the analyst dashboard (sign-in page without a session)
 * POST /login      exchange an API key with the `read` scope for a session cookie; POST /logout ends it
 * GET /v1/dashboard?currency=usd&from=YYYY-MM&to=YYYY-MM   the dashboard's data (scope read; session
 *                  cookie or bearer key) over the months from..to, both included (range.ts: by default
 *                  the last 12; at most 10 years); recipient addresses masked unless the key has `admin`
 * POST /v1/dashboard/reviews {payment_id, label}   the fraud table's review buttons (scope admin, same
 *                  auth as /v1/dashboard, refused cross-site like the form posts): a PaymentLabeled
 * GET /v1/dashboard/movements?month=YYYY-MM&currency=usd   the drill-down from a month of the
 *                  bridge: that UTC month's movements in that currency, each with its `seq`
 * GET /v1/dashboard/movements/:customerId/:seq?currency=usd   one movement and why: its parts by
 *                  subscription (mrr_lineage) and the subscription versions behind them, personal
 *                  fields masked for every key (same scope and auth as /v1/dashboard)
 * GET /v1/dashboard/stripe-events/:customerId/:eventId   the Stripe event behind one of the
 *                  customer's subscription versions, as received (from stripe.events.v1), personal
 *                  fields masked for every key
 * GET /assets/*    the dashboard's scripts (dashboard.js, csv.js), style and Chart.js
 *
 * The two form posts are refused (403) when the browser says they come from another site
 * (`Sec-Fetch-Site`) or from another origin (`Origin`) than EVENTLINE_PUBLIC_URL or the Host the
 * request was sent to (an opaque `Origin: null` passes only with `Sec-Fetch-Site: same-origin`):
 * no other page can sign a browser in or out. The session cookie is SameSite strict as well.
 * Sessions live server-side (session.ts).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { EventlineError } from '../lib/errors.ts';
import { hasScope, principalOf, requireScope, type Authenticator, type Principal } from '../lib/http/auth.ts';
import { bodyBytes, parseJson, rawBody, validInput } from '../lib/http/body.ts';
import { reviewPayment } from '../lib/risk/reviews.ts';
import type { Runtime } from '../lib/runtime.ts';
import { dashboardData, monthMovements, movementDetail, stripeEventShown } from './data.ts';
import { dashboardPage, loginPage } from './page.ts';
import { monthRange } from './range.ts';
import { COOKIE, SESSION_HOURS, Sessions, cookieValue } from './session.ts';

const require = createRequire(import.meta.url);
// A Map, not an object literal: a name like `constructor` or `__proto__` must not find anything.
const assets = new Map<string, { type: string; body: Buffer }>([
  ['dashboard.js', { type: 'text/javascript', body: readFileSync(new URL('./assets/dashboard.js', import.meta.url)) }],
  ['csv.js', { type: 'text/javascript', body: readFileSync(new URL('./assets/csv.js', import.meta.url)) }],
  ['dashboard.css', { type: 'text/css', body: readFileSync(new URL('./assets/dashboard.css', import.meta.url)) }],
  // The UMD build sits next to the package entry (its exports map does not list it).
  ['chart.js', { type: 'text/javascript', body: readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js')) }],
]);

/**
 * The dashboard pages' own policy (every other answer gets the stricter default of
 * producers/http/app.ts): scripts, styles and Chart.js from /assets, data from /v1/dashboard.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Why a form post comes from another site or origin, or null when it is the dashboard's own (or not from a browser). */
export function crossSiteReason(req: Request, publicUrl: string): string | null {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is ${site}`;
  const origin = req.get('origin');
  if (origin === undefined) return null;
  // Every answer carries `Referrer-Policy: no-referrer`, under which Chromium sends `Origin: null`
  // even on the dashboard's own form post; its `Sec-Fetch-Site: same-origin`, which no page can
  // set, says whose post it is. Found by the browser test (dashboard.e2e.test.ts): sign-in failed.
  if (origin === 'null' && site === 'same-origin') return null;
  const own = new Set([new URL(publicUrl).origin, `${req.protocol}://${req.get('host') ?? ''}`]);
  return own.has(origin) ? null : 'the Origin is not this dashboard';
}

const reviewInput = z.object({ payment_id: z.string().min(3).max(200), label: z.enum(['fraudulent', 'legitimate']) }).strict();

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const CUSTOMER_ID = /^[A-Za-z0-9_.-]{1,255}$/;
// Up to nine digits: always a safe integer, and within Postgres' int (a seq is a row number).
const SEQ = /^\d{1,9}$/;
const EVENT_ID = /^evt_[A-Za-z0-9_]{1,250}$/;

/** The drill-down's currency: required (a movement's seq counts within one currency). */
function requiredCurrency(req: Request): string {
  const currency = req.query.currency;
  if (typeof currency !== 'string' || !/^[a-z]{3}$/.test(currency)) throw new EventlineError('bad_request', 'currency is required: a lowercase ISO 4217 code');
  return currency;
}

export function dashboardRoutes(rt: Runtime, keys: Authenticator): Router {
  const router = Router();
  const sessions = new Sessions(rt.redis);
  const secure = rt.config.http.publicUrl.startsWith('https://');
  const cookieOptions = { httpOnly: true, sameSite: 'strict', secure, path: '/' } as const;

  async function sessionPrincipal(req: Request): Promise<Principal | null> {
    const id = cookieValue(req.get('cookie'), COOKIE);
    const keyId = await sessions.read(id);
    if (!keyId) return null;
    const principal = await keys.principalById(keyId);
    if (!principal) await sessions.end(id);
    return principal;
  }

  const sameOrigin: RequestHandler = (req, _res, next) => {
    const reason = crossSiteReason(req, rt.config.http.publicUrl);
    if (reason) throw new EventlineError('forbidden', `cross-site form posts are refused: ${reason}`);
    next();
  };

  router.get('/', async (req, res) => {
    res.set('Content-Security-Policy', DASHBOARD_CSP);
    const principal = await sessionPrincipal(req);
    if (principal && hasScope(principal, 'read')) res.type('html').send(dashboardPage(rt.config.namespace));
    else res.type('html').send(loginPage(null));
  });

  router.post('/login', sameOrigin, rawBody(4096), async (req, res) => {
    res.set('Content-Security-Policy', DASHBOARD_CSP);
    const key = new URLSearchParams(bodyBytes(req).toString('utf8')).get('key')?.trim() ?? '';
    const principal = key ? await keys.authenticate(key) : null;
    if (!principal) {
      res.status(401).type('html').send(loginPage('That key is not valid or was revoked.'));
      return;
    }
    if (!hasScope(principal, 'read')) {
      res.status(403).type('html').send(loginPage('That key lacks the "read" scope the dashboard needs.'));
      return;
    }
    await sessions.end(cookieValue(req.get('cookie'), COOKIE));
    res.cookie(COOKIE, await sessions.create(principal.keyId), { ...cookieOptions, maxAge: SESSION_HOURS * 3600_000 });
    res.redirect(303, '/');
  });

  router.post('/logout', sameOrigin, async (req, res) => {
    await sessions.end(cookieValue(req.get('cookie'), COOKIE));
    res.clearCookie(COOKIE, cookieOptions);
    res.redirect(303, '/');
  });

  router.get('/v1/dashboard', requireScope(keys, 'read', sessionPrincipal), async (req, res) => {
    const currency = typeof req.query.currency === 'string' ? req.query.currency : undefined;
    if (currency !== undefined && !/^[a-z]{3}$/.test(currency)) throw new EventlineError('bad_request', 'currency must be a lowercase ISO 4217 code');
    const range = monthRange(req.query.from, req.query.to, new Date());
    const admin = hasScope(principalOf(res), 'admin');
    res.json({ ...(await dashboardData(rt.db, currency, range, { revealRecipients: admin })), canReview: admin });
  });

  // The fraud table's review buttons: a key with `admin` labels a scored payment (lib/risk/reviews.ts).
  router.post('/v1/dashboard/reviews', sameOrigin, requireScope(keys, 'admin', sessionPrincipal), rawBody(4096), async (req, res) => {
    const b = validInput(reviewInput, parseJson(bodyBytes(req)), 'invalid review');
    const label = await reviewPayment(rt.db, rt.kafka, { paymentId: b.payment_id, label: b.label, reason: 'dashboard review', actor: `key:${principalOf(res).keyId}` });
    res.status(201).json({ payment_id: label.payment_id, label: label.label, event_id: label.event_id });
  });

  router.get('/v1/dashboard/movements', requireScope(keys, 'read', sessionPrincipal), async (req, res) => {
    const month = typeof req.query.month === 'string' ? req.query.month : '';
    if (!MONTH.test(month)) throw new EventlineError('bad_request', 'month must be a month as YYYY-MM (01 to 12)');
    res.json(await monthMovements(rt.db, requiredCurrency(req), month));
  });

  router.get('/v1/dashboard/movements/:customerId/:seq', requireScope(keys, 'read', sessionPrincipal), async (req, res) => {
    const customerId = String(req.params.customerId);
    const seq = String(req.params.seq);
    if (!CUSTOMER_ID.test(customerId)) throw new EventlineError('bad_request', 'customerId must be a Stripe customer id (letters, digits, _ . -)');
    if (!SEQ.test(seq)) throw new EventlineError('bad_request', 'seq must be a whole number from 0');
    const detail = await movementDetail(rt.db, requiredCurrency(req), customerId, Number(seq));
    if (!detail) throw new EventlineError('not_found', 'no such movement');
    res.json(detail);
  });

  router.get('/v1/dashboard/stripe-events/:customerId/:eventId', requireScope(keys, 'read', sessionPrincipal), async (req, res) => {
    const customerId = String(req.params.customerId);
    const eventId = String(req.params.eventId);
    if (!CUSTOMER_ID.test(customerId)) throw new EventlineError('bad_request', 'customerId must be a Stripe customer id (letters, digits, _ . -)');
    if (!EVENT_ID.test(eventId)) throw new EventlineError('bad_request', 'eventId must be a Stripe event id (evt_…)');
    const shown = await stripeEventShown(rt, customerId, eventId);
    if (!shown) throw new EventlineError('not_found', 'no such event behind a subscription version of this customer (or it has left the topic)');
    res.json(shown);
  });

  router.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  router.get('/assets/:name', (req, res) => {
    const asset = assets.get(String(req.params.name));
    if (!asset) throw new EventlineError('not_found', 'no such asset');
    res.set('Cache-Control', 'public, max-age=300').type(asset.type).send(asset.body);
  });

  return router;
}
