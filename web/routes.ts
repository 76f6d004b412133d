/**
 * GET /            the analyst dashboard (sign-in page without a session)
 * POST /login      exchange an API key for a session cookie; POST /logout ends it
 * GET /v1/dashboard?currency=usd   the dashboard's data (scope read; session cookie or bearer key)
 * GET /assets/*    the dashboard's script, style and Chart.js
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Router, type Request } from 'express';
import { EventlineError } from '../lib/errors.ts';
import { requireScope, type Authenticator, type Principal } from '../lib/http/auth.ts';
import { bodyBytes, rawBody } from '../lib/http/body.ts';
import type { Runtime } from '../lib/runtime.ts';
import { dashboardData } from './data.ts';
import { dashboardPage, loginPage } from './page.ts';
import { COOKIE, SESSION_HOURS, Sessions, cookieValue } from './session.ts';

const require = createRequire(import.meta.url);
const assets: Record<string, { type: string; body: Buffer }> = {
  'dashboard.js': { type: 'text/javascript', body: readFileSync(new URL('./assets/dashboard.js', import.meta.url)) },
  'dashboard.css': { type: 'text/css', body: readFileSync(new URL('./assets/dashboard.css', import.meta.url)) },
  // The UMD build sits next to the package entry (its exports map does not list it).
  'chart.js': { type: 'text/javascript', body: readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js')) },
};

const securityHeaders = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export function dashboardRoutes(rt: Runtime, keys: Authenticator): Router {
  const router = Router();
  const sessions = new Sessions(rt.config.sessionSecret);
  const secure = rt.config.http.publicUrl.startsWith('https://');

  async function sessionPrincipal(req: Request): Promise<Principal | null> {
    const keyId = sessions.read(cookieValue(req.get('cookie'), COOKIE), Date.now());
    return keyId ? keys.principalById(keyId) : null;
  }

  router.get('/', async (req, res) => {
    res.set(securityHeaders);
    if (await sessionPrincipal(req)) res.type('html').send(dashboardPage(rt.config.namespace));
    else res.type('html').send(loginPage(null));
  });

  router.post('/login', rawBody(4096), async (req, res) => {
    res.set(securityHeaders);
    const key = new URLSearchParams(bodyBytes(req).toString('utf8')).get('key')?.trim() ?? '';
    const principal = key ? await keys.authenticate(key) : null;
    if (!principal) {
      res.status(401).type('html').send(loginPage('That key is not valid or was revoked.'));
      return;
    }
    res.cookie(COOKIE, sessions.create(principal.keyId, Date.now()), { httpOnly: true, sameSite: 'strict', secure, maxAge: SESSION_HOURS * 3600_000, path: '/' });
    res.redirect(303, '/');
  });

  router.post('/logout', (_req, res) => {
    res.clearCookie(COOKIE, { path: '/' });
    res.redirect(303, '/');
  });

  router.get('/v1/dashboard', requireScope(keys, 'read', sessionPrincipal), async (req, res) => {
    const currency = typeof req.query.currency === 'string' ? req.query.currency : undefined;
    if (currency !== undefined && !/^[a-z]{3}$/.test(currency)) throw new EventlineError('bad_request', 'currency must be a lowercase ISO 4217 code');
    res.json(await dashboardData(rt.db, currency));
  });

  router.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  router.get('/assets/:name', (req, res) => {
    const asset = assets[String(req.params.name)];
    if (!asset) throw new EventlineError('not_found', 'no such asset');
    res.set({ 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' }).type(asset.type).send(asset.body);
  });

  return router;
}
