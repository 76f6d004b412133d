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
  if (code === 'kafka_unavailable' || code === 'registry_unavailable' || code === 'database_unavailable') res.setHeader('Retry-After', '5');
  res.status(status).json({ error: code, detail, ...(problems && problems.length > 0 ? { problems } : {}) } satisfies ErrorBody);
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, 'not_found', `no route for ${req.method} ${req.path}`);
};

/** The last middleware: maps body-parser errors and EventlineErrors to JSON answers. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    void _next;
    const type = err && typeof err === 'object' && 'type' in err ? String(err.type) : '';
    if (type === 'entity.too.large') return sendError(res, 'payload_too_large', 'request body exceeds the size limit');
    if (type === 'entity.parse.failed') return sendError(res, 'bad_request', 'request body is not valid JSON');
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') return sendError(res, 'unsupported_media_type', 'unsupported body encoding');
    if (type === 'request.aborted') return sendError(res, 'bad_request', 'request aborted');
    if (isEventlineError(err)) {
      if (err.status >= 500) log.error({ err: err.message, code: err.code, path: req.path }, 'request failed');
      const problems = Array.isArray(err.detail) ? err.detail.map(String) : undefined;
      return sendError(res, err.code, problems && problems.length > 0 ? `${err.message}: ${problems.slice(0, 5).join('; ')}` : err.message, problems);
    }
    log.error({ err: err instanceof Error ? err.stack : String(err), path: req.path }, 'unexpected error');
    sendError(res, 'internal', 'internal error');
  };
}

export { EventlineError };
