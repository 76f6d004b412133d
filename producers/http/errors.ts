/**
 * HTTP error answers: every failure is a JSON `{error, detail}` body with the right status.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { EventlineError, errorCodes, isEventlineError, type ErrorCode } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';

/** `detail` is always a sentence for people; `problems` lists each invalid field when there are several. */
export interface ErrorBody {
  readonly error: string;
  readonly detail: string;
  readonly problems?: readonly string[];
}

export function sendError(res: Response, code: ErrorCode, detail: string, problems?: readonly string[], status: number = errorCodes[code].status): void {
  if (res.headersSent) return;
  if (code === 'kafka_unavailable' || code === 'registry_unavailable' || code === 'database_unavailable' || code === 'redis_unavailable' || code === 'state_rebuilding') res.setHeader('Retry-After', '5');
  res.status(status).json({ error: code, detail, ...(problems && problems.length > 0 ? { problems } : {}) } satisfies ErrorBody);
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, 'not_found', `no route for ${req.method} ${req.path}`);
};

/**
 * The route a request matched, as its pattern (`/v1/unsubscribe/:token`), never the path itself:
 * paths carry tokens and user ids, which have no place in logs (§8: erasure reaches the logs too).
 */
function routeOf(req: Parameters<RequestHandler>[0]): string {
  const pattern = (req.route as { path?: string } | undefined)?.path;
  return pattern ? `${req.baseUrl}${pattern}` : 'unmatched';
}

/** The status of an error the HTTP stack (router, body parsers) marked as the client's fault, else null. */
function clientErrorStatus(err: unknown): number | null {
  if (!err || typeof err !== 'object') return null;
  const status = 'status' in err ? err.status : 'statusCode' in err ? err.statusCode : undefined;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
}

/**
 * The last middleware: maps body-parser errors and EventlineErrors to JSON answers. A malformed
 * percent-escape (in a path parameter, a cookie, anywhere something decodes it) is the client's
 * fault: 400, logged at debug without a stack, whatever throws the URIError.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    void _next;
    if (err instanceof URIError) {
      log.debug({ method: req.method, err: err.message }, 'malformed percent-escape');
      return sendError(res, 'bad_request', 'the request has a malformed percent-escape (%XX) in its path or parameters');
    }
    const type = err && typeof err === 'object' && 'type' in err ? String(err.type) : '';
    if (type === 'entity.too.large') return sendError(res, 'payload_too_large', 'request body exceeds the size limit');
    if (type === 'entity.parse.failed') return sendError(res, 'bad_request', 'request body is not valid JSON');
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') return sendError(res, 'unsupported_media_type', 'unsupported body encoding');
    if (type === 'request.aborted') return sendError(res, 'bad_request', 'request aborted');
    if (isEventlineError(err)) {
      if (err.status >= 500) log.error({ err: err.message, code: err.code, method: req.method, route: routeOf(req) }, 'request failed');
      const problems = Array.isArray(err.detail) ? err.detail.map(String) : undefined;
      return sendError(res, err.code, problems && problems.length > 0 ? `${err.message}: ${problems.slice(0, 5).join('; ')}` : err.message, problems);
    }
    const status = clientErrorStatus(err);
    if (status !== null) {
      log.debug({ method: req.method, status, err: err instanceof Error ? err.message : String(err) }, 'client error');
      return sendError(res, status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'bad_request', err instanceof Error && 'expose' in err && err.expose === true ? err.message : 'bad request', undefined, status);
    }
    log.error({ err: err instanceof Error ? err.stack : String(err), method: req.method, route: routeOf(req) }, 'unexpected error');
    sendError(res, 'internal', 'internal error');
  };
}

export { EventlineError };
