/**
 * Bearer API-key authentication for /v1 routes: 401 without a valid key, 403 when the key lacks the
 * route's scope. The principal is kept on `res.locals.principal` (its key id is the audit "actor").
 *
 * The routes see keys only through `Authenticator`; the key store (producers/keys/store.ts)
 * implements it and the HTTP composition root (producers/http/routes.ts) hands it to every router.
 *
 * User tokens (user-token.ts) are the other credential, accepted only where a route opts in with
 * `userTokens` (a user's inbox and preferences): a valid token opens the routes of the user the
 * route's `:userId` names and no other (403 for another user's), with the scopes in
 * USER_TOKEN_SCOPES; an expired, tampered or unsigned one is a 401, and so is any user token on a
 * route that takes API keys only.
 */
import type { Request, RequestHandler, Response } from 'express';
import { EventlineError } from '../errors.ts';
import { isUserTokenShaped, verifyUserToken } from './user-token.ts';

/**
 * - publish: domain events and notifications (of non-essential categories)
 * - essential: with publish, notifications of the essential categories (security, payment), which
 *   reach users past their opt-outs and daily cap
 * - preferences: what a user's own front end does for them: read and change their notification
 *   preferences (not the email and phone in them), read and change their in-app inbox
 * - contacts: with preferences, change a user's email and phone
 * - read: notification status, the dashboard
 * - admin: everything
 */
export const scopes = ['publish', 'preferences', 'read', 'admin', 'contacts', 'essential'] as const;
export type Scope = (typeof scopes)[number];

export interface Principal {
  /** The API key id; for a user token `user:<user id>` (the audit "actor"). */
  readonly keyId: string;
  readonly scopes: readonly Scope[];
  /** Set for a user token: the one user whose routes it opens. */
  readonly userId?: string;
}

/** What a user token may do, on the routes that accept one, for its own user. */
export const USER_TOKEN_SCOPES: readonly Scope[] = ['preferences'];

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

type Fallback = (req: Request) => Promise<Principal | null>;

export interface AccessOptions {
  /** Resolves a principal when the request has no Authorization header (the dashboard's session cookie). */
  readonly fallback?: Fallback;
  /**
   * Also accept user tokens signed with this secret, for the user the route's `:userId` names
   * only. null: the secret is not configured, so no user token verifies (401).
   */
  readonly userTokens?: { readonly secret: string | null };
}

function unauthorized(res: Response, detail: string, invalidToken: boolean): EventlineError {
  res.setHeader('WWW-Authenticate', `Bearer realm="eventline"${invalidToken ? ', error="invalid_token"' : ''}`);
  return new EventlineError('unauthorized', detail);
}

/** The principal of a user token on a route that accepts them; throws 401 or 403. */
function userTokenPrincipal(req: Request, res: Response, presented: string, secret: string | null): Principal {
  const check = secret === null ? ({ ok: false, reason: 'signature' } as const) : verifyUserToken(secret, presented, Date.now());
  if (!check.ok) {
    throw unauthorized(res, check.reason === 'expired' ? 'the user token expired; ask for a new one' : 'the user token is not valid', true);
  }
  const routeUser = typeof req.params.userId === 'string' ? req.params.userId : null;
  if (routeUser !== check.claims.userId) throw new EventlineError('forbidden', "this user token opens only its own user's inbox and preferences");
  return { keyId: `user:${check.claims.userId}`, scopes: USER_TOKEN_SCOPES, userId: check.claims.userId };
}

/**
 * Reads the key from `Authorization: Bearer <key>` (or from a resolver such as a session cookie);
 * with `userTokens`, a user token for the route's user instead. The third argument may be the
 * fallback alone.
 */
export function requireScope(keys: Authenticator, scope: Scope, options: AccessOptions | Fallback = {}): RequestHandler {
  const { fallback, userTokens } = typeof options === 'function' ? { fallback: options, userTokens: undefined } : options;
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const presented = m?.[1];
    let principal: Principal | null = null;
    if (presented && isUserTokenShaped(presented)) {
      if (!userTokens) throw unauthorized(res, 'a user token opens only its user\'s inbox and preferences; this route needs an API key', true);
      principal = userTokenPrincipal(req, res, presented, userTokens.secret);
    } else if (presented) principal = await keys.authenticate(presented);
    else if (fallback) principal = await fallback(req);
    if (!principal) throw unauthorized(res, m ? 'the API key is not valid or was revoked' : 'an API key is required: Authorization: Bearer <key>', false);
    if (!hasScope(principal, scope)) throw new EventlineError('forbidden', `this ${principal.userId === undefined ? 'key' : 'user token'} lacks the "${scope}" scope`);
    res.locals.principal = principal;
    next();
  };
}
