/**
 * Bearer API-key authentication for /v1 routes: 401 without a valid key, 403 when the key lacks the
 * route's scope. The principal is kept on `res.locals.principal` (its key id is the audit "actor").
 *
 * The routes see keys only through `Authenticator`; the key store (producers/keys/store.ts)
 * implements it and the HTTP composition root (producers/http/routes.ts) hands it to every router.
 */
import type { RequestHandler, Response } from 'express';
import { EventlineError } from '../errors.ts';

/**
 * - publish: domain events and notifications (of non-essential categories)
 * - essential: with publish, notifications of the essential categories (security, payment), which
 *   reach users past their opt-outs and daily cap
 * - preferences: read and change notification preferences (not the email and phone in them)
 * - contacts: with preferences, change a user's email and phone
 * - read: notification status, the dashboard
 * - admin: everything
 */
export const scopes = ['publish', 'preferences', 'read', 'admin', 'contacts', 'essential'] as const;
export type Scope = (typeof scopes)[number];

export interface Principal {
  readonly keyId: string;
  readonly scopes: readonly Scope[];
}

/** Who a presented key, or the key id behind a dashboard session, stands for; null when unknown or revoked. */
export interface Authenticator {
  authenticate(presented: string): Promise<Principal | null>;
  principalById(keyId: string): Promise<Principal | null>;
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new EventlineError('internal', 'route is not behind requireScope');
  return p;
}

/** Reads the key from `Authorization: Bearer <key>` (or from a resolver such as a session cookie). */
export function requireScope(keys: Authenticator, scope: Scope, fallback?: (req: Parameters<RequestHandler>[0]) => Promise<Principal | null>): RequestHandler {
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
