import { ForbiddenError, UnauthorizedError, type FormatAuthService, type Principal } from '@registry-core/api';
import { grantsAllow, type AccessTokens } from './access-tokens.js';
import type { AuditLog } from './audit-log.js';
import type { Authentication } from './authentication.js';
import type { Authorization } from './authorization.js';
import type { UserTokens } from './tokens.js';
import type { Users } from './users.js';

/** The auth services a format's login and token endpoints are built from. */
export interface FormatAuthParts {
  readonly authentication: Authentication;
  readonly authorization: Authorization;
  readonly users: Users;
  readonly tokens: UserTokens;
  readonly accessTokens: AccessTokens;
  readonly audit: AuditLog;
}

/** The login and token services of a format's login endpoints, for one request. */
export function formatAuthService(parts: FormatAuthParts, context: { principal: Principal; clientAddress: string }): FormatAuthService {
  const { authentication, authorization, users, tokens, accessTokens, audit } = parts;
  const { principal, clientAddress } = context;
  return {
    login: async (name, password) => {
      const user = await authentication.checkPassword(name, password, clientAddress);
      if (!user) throw new UnauthorizedError('bad user name or password');
      await audit.record({ action: 'login', principal: user.name, clientAddress });
      const { token } = await tokens.create(user.name, { description: 'login', actor: { principal: user.name, clientAddress } });
      return { token };
    },
    addUser: async (name, password, email) => {
      const user = await users.add(name, password, { email, selfRegistration: true, actor: { principal: name, clientAddress } });
      const { token } = await tokens.create(user.name, { description: 'adduser', actor: { principal: user.name, clientAddress } });
      return { token };
    },
    revokeToken: async (token) => {
      if (principal.anonymous) return false;
      const revoked = await tokens.revokeOwn(token, principal.name);
      if (revoked) await audit.record({ action: 'logout', principal: principal.name, clientAddress });
      return revoked;
    },
    createToken: async (password, options = {}) => {
      if (principal.anonymous) throw new UnauthorizedError('log in to create tokens');
      // A token cannot mint a wider one: read-only and scoped tokens may not create tokens.
      if (principal.readOnly || principal.scope) throw new ForbiddenError('the token used may not create tokens; use a full token or a password');
      const user = await authentication.checkPassword(principal.name, password, clientAddress);
      if (!user) throw new UnauthorizedError('bad password');
      return tokens.create(principal.name, { ...options, description: options.description ?? 'token API', actor: { principal: principal.name, clientAddress } });
    },
    listTokens: async () => {
      if (principal.anonymous) throw new UnauthorizedError('log in to list tokens');
      return tokens.list(principal.name);
    },
    issueAccessToken: async (requested, ttlSeconds) => {
      // An access token never mints another one wider than itself.
      const base = principal.grants ? { ...principal, grants: undefined } : principal;
      let granted = authorization.grantable(base, requested);
      if (principal.grants) {
        const held = principal.grants;
        granted = granted
          .map((g) => ({ ...g, actions: g.actions.filter((a) => grantsAllow(held, a, g.repository, g.package)) }))
          .filter((g) => g.actions.length > 0);
      }
      // Bound to the credential used (checked on every use) and never outliving it.
      const issued = await accessTokens.issue(principal, granted, ttlSeconds, await authentication.bindingFor(principal));
      return { ...issued, granted };
    },
    revokeTokenById: async (id) => {
      if (principal.anonymous) throw new UnauthorizedError('log in to revoke tokens');
      const owned = (await tokens.list(principal.name)).some((t) => t.id === id);
      return owned ? tokens.revoke(id, { principal: principal.name, clientAddress }) : false;
    },
  };
}
