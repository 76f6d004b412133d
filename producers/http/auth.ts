/**
 * Bearer API-key authentication for /v1 routes: 401 without a valid key, 403 when the key lacks the
 * route's scope. The principal is kept on `res.locals.principal` (its key id is the audit "actor").
 */
import type { RequestHandler, Response } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { hasScope, type ApiKeys, type Principal, type Scope } from '../keys/store.ts';

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new EventlineError('internal', 'route is not behind requireScope');
  return p;
}

/** Reads the key from `Authorization: Bearer <key>` (or from a resolver such as a session cookie). */
export function requireScope(keys: ApiKeys, scope: Scope, fallback?: (req: Parameters<RequestHandler>[0]) => Promise<Principal | null>): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    let principal: Principal | null = null;
    if (m?.[1]) principal = await keys.authenticate(m[1]);
    else if (fallback) principal = await fallback(req);
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="eventline"');
      throw new EventlineError('unauthorized', m ? 'the API key is not valid or was revoked' : 'an API key is required: Authorization: Bearer <key>');
    }
    if (!hasScope(principal, scope)) throw new EventlineError('forbidden', `this key lacks the "${scope}" scope`);
    res.locals.principal = principal;
    next();
  };
}
