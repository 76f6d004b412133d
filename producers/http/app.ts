/**
 * The HTTP application: security headers and request metrics for every answer, the routes each
 * producer contributes, then JSON 404 and error answers. Routes parse their own bodies (webhooks
 * need the raw bytes for signatures).
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import { beginSpan, contextFrom, SpanKind, SpanStatusCode, tracingOn, withContext } from '../../lib/tracing.ts';
import { errorHandler, notFound } from './errors.ts';

/** The route label of a request no route matched (404, 405, a malformed path …): one series, whatever the path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Headers on every answer, set before any route runs, so 404s and errors carry them too. A route
 * may replace one: the dashboard sets its own Content-Security-Policy (scripts and Chart.js from
 * /assets), the assets a public Cache-Control. The default policy runs no script at all; inline
 * styles are allowed for the small self-contained pages (unsubscribe).
 */
export const securityHeaders: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // API answers and pages carry personal data (preferences, timelines, the dashboard): never cached.
  'Cache-Control': 'no-store',
};

const withSecurityHeaders: RequestHandler = (_req, res, next) => {
  res.set(securityHeaders);
  next();
};

/** Labels are bounded: a matched route's pattern (never the path), else UNMATCHED_ROUTE. */
const countRequests: RequestHandler = (req, res, next) => {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const route = (req.route as { path?: unknown } | undefined)?.path;
    const label = typeof route === 'string' ? `${req.baseUrl}${route}` : UNMATCHED_ROUTE;
    metrics.httpRequests.inc({ route: label, method: req.method, status: String(res.statusCode) });
    metrics.httpDuration.observe({ route: label, method: req.method }, Number(process.hrtime.bigint() - started) / 1e9);
  });
  next();
};

/** Paths scraped or probed every few seconds: never traced. */
const UNTRACED = new Set(['/metrics', '/healthz', '/readyz']);

/**
 * Each request is a server span, the parent of what handling it does (the append and, through the
 * records' headers, everything downstream). A caller's `traceparent` makes it part of the caller's
 * trace. Named by the matched route's pattern, never the path (ids in paths are personal data).
 */
const traceRequests: RequestHandler = (req, res, next) => {
  if (!tracingOn() || UNTRACED.has(req.path)) return next();
  const { span, context: ctx } = beginSpan(`${req.method}`, {
    kind: SpanKind.SERVER,
    parent: contextFrom(req.headers),
    attributes: { 'http.request.method': req.method, 'url.scheme': req.protocol },
  });
  res.on('finish', () => {
    const route = (req.route as { path?: unknown } | undefined)?.path;
    if (typeof route === 'string') {
      span.updateName(`${req.method} ${req.baseUrl}${route}`);
      span.setAttribute('http.route', `${req.baseUrl}${route}`);
    }
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  withContext(ctx, next);
};

export function createApp(routers: readonly Router[], log: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(withSecurityHeaders);
  app.use(countRequests);
  app.use(traceRequests);
  for (const router of routers) app.use(router);
  app.use(notFound);
  app.use(errorHandler(log.child({ component: 'http' })));
  return app;
}
