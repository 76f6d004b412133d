/**
 * The HTTP application: request metrics, the routes each producer contributes, then JSON 404 and
 * error answers. Routes parse their own bodies (webhooks need the raw bytes for signatures).
 */
import express, { type Router } from 'express';
import type { Logger } from '../../lib/log.ts';
import { metrics } from '../../lib/metrics.ts';
import { errorHandler, notFound } from './errors.ts';

export function createApp(routers: readonly Router[], log: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      const label = route ? `${req.baseUrl}${route}` : res.statusCode === 404 ? 'unmatched' : req.path;
      metrics.httpRequests.inc({ route: label, method: req.method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route: label, method: req.method }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  });
  for (const router of routers) app.use(router);
  app.use(notFound);
  app.use(errorHandler(log.child({ component: 'http' })));
  return app;
}
