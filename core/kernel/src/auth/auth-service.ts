import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  ConflictError,
  ForbiddenError,
  UnauthorizedError,
  type AccessGrant,
  type AuthenticatedUser,
  type AuthProvider,
  type FormatAuthService,
  type TokenDescription,
  type Permission,
  type Principal,
} from '@registry-core/api';
import { ACCESS_TOKEN_PREFIX, AccessTokens, grantsAllow } from './access-tokens.js';
import { AuditLog } from './audit-log.js';
import { LoginThrottle } from './login-throttle.js';
import { PermissionRules, globToRegExp } from './permissions.js';
import type { AuthConfig } from '../config/types.js';
import type { TokenRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { parseAuthorization } from './credentials.js';
import { hashPassword, verifyPassword } from './password.js';

export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', anonymous: true, roles: [], via: 'anonymous', readOnly: true });

const USER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;
const TOKEN_PREFIX = 'rc_';
const VERIFIED_TTL_MS = 60_000;

/** A token as listed (never the secret). */
/** A token as listed (never its secret). */
export type TokenInfo = TokenDescription;

/**
 * Users, tokens and permission checks. Users come from the config (password hashes) and
 * from the metadata store; auth-provider plugins are chained before them. Tokens are
 * stored as sha256 hashes only.
 */
/**
 * At most this many password hashes at once: scrypt runs on libuv's thread pool, which file
 * I/O shares, so a burst of bad logins must not stall every download.
 */
const MAX_CONCURRENT_HASHES = 2;

export class AuthService {
  private hashing = 0;
  private readonly hashQueue: Array<() => void> = [];
  /** sha256(user:password) of recent successful checks, so Basic on every request stays cheap. */
  private readonly verified = new Map<string, { user: AuthenticatedUser; until: number }>();

  private readonly rules: PermissionRules;

  /** Who did what: logins, users and tokens here; publishes and the like from formats. */
  readonly audit: AuditLog;
  private readonly throttle = new LoginThrottle();
  private readonly accessTokens: AccessTokens;
  /** Repositories as the permission checks of access tokens need them (set by the registry). */
  private repositoryFacts: (name: string) => { anonymousRead?: boolean; members?: readonly string[] } | undefined = () => undefined;

  constructor(
    private readonly config: AuthConfig,
    private readonly metadata: MetadataStore,
    private readonly providers: readonly AuthProvider[] = [],
    onAuditError?: (error: unknown) => void,
  ) {
    this.rules = new PermissionRules(config.permissions);
    this.audit = new AuditLog(metadata, onAuditError);
    this.accessTokens = new AccessTokens(metadata);
  }

  /** Tell the service which repositories exist (their anonymous-read setting and group members). */
  useRepositories(facts: (name: string) => { anonymousRead?: boolean; members?: readonly string[] } | undefined): void {
    this.repositoryFacts = facts;
  }

  /**
   * Of `requested`, what `principal` may do now; a grant on a group extends to its members
   * (recursively) with the actions the principal has there, since a group serves through them.
   */
  grantable(principal: Principal, requested: readonly AccessGrant[]): AccessGrant[] {
    const out: AccessGrant[] = [];
    const visit = (grant: AccessGrant, depth: number) => {
      const facts = this.repositoryFacts(grant.repository);
      if (!facts || depth > 8) return;
      const target = { name: grant.repository, ...(facts.anonymousRead !== undefined ? { anonymousRead: facts.anonymousRead } : {}) };
      const actions = [...new Set(grant.actions)].filter((action) => {
        try {
          this.authorize(principal, action, target, grant.package);
          return true;
        } catch {
          return false;
        }
      });
      if (actions.length === 0) return;
      out.push({ repository: grant.repository, ...(grant.package !== undefined ? { package: grant.package } : {}), actions });
      for (const member of facts.members ?? []) visit({ ...grant, repository: member, actions }, depth + 1);
    };
    for (const grant of requested) visit(grant, 0);
    return out;
  }

  /** The login and token services of a format's login endpoints, for one request. */
  forRequest(context: { principal: Principal; clientAddress: string }): FormatAuthService {
    const { principal, clientAddress } = context;
    return {
      login: async (name, password) => {
        const user = await this.checkPassword(name, password, clientAddress);
        if (!user) throw new UnauthorizedError('bad user name or password');
        await this.audit.record({ action: 'login', principal: user.name, clientAddress });
        const { token } = await this.createToken(user.name, { description: 'login', actor: { principal: user.name, clientAddress } });
        return { token };
      },
      addUser: async (name, password, email) => {
        const user = await this.addUser(name, password, { email, selfRegistration: true, actor: { principal: name, clientAddress } });
        const { token } = await this.createToken(user.name, { description: 'adduser', actor: { principal: user.name, clientAddress } });
        return { token };
      },
      revokeToken: async (token) => {
        if (principal.anonymous) return false;
        const revoked = await this.revokeOwnToken(token, principal.name);
        if (revoked) await this.audit.record({ action: 'logout', principal: principal.name, clientAddress });
        return revoked;
      },
      createToken: async (password, options = {}) => {
        if (principal.anonymous) throw new UnauthorizedError('log in to create tokens');
        // A token cannot mint a wider one: read-only and scoped tokens may not create tokens.
        if (principal.readOnly || principal.scope) throw new ForbiddenError('the token used may not create tokens; use a full token or a password');
        const user = await this.checkPassword(principal.name, password, clientAddress);
        if (!user) throw new UnauthorizedError('bad password');
        return this.createToken(principal.name, { ...options, description: options.description ?? 'token API', actor: { principal: principal.name, clientAddress } });
      },
      listTokens: async () => {
        if (principal.anonymous) throw new UnauthorizedError('log in to list tokens');
        return this.listTokens(principal.name);
      },
      issueAccessToken: async (requested, ttlSeconds) => {
        // An access token never mints another one wider than itself.
        const base = principal.grants ? { ...principal, grants: undefined } : principal;
        let granted = this.grantable(base, requested);
        if (principal.grants) {
          const held = principal.grants;
          granted = granted
            .map((g) => ({ ...g, actions: g.actions.filter((a) => grantsAllow(held, a, g.repository, g.package)) }))
            .filter((g) => g.actions.length > 0);
        }
        const issued = await this.accessTokens.issue(principal, granted, ttlSeconds);
        return { ...issued, granted };
      },
      revokeTokenById: async (id) => {
        if (principal.anonymous) throw new UnauthorizedError('log in to revoke tokens');
        const owned = (await this.listTokens(principal.name)).some((t) => t.id === id);
        return owned ? this.revokeToken(id, { principal: principal.name, clientAddress }) : false;
      },
    };
  }

  /** Establish the principal from an `Authorization` header; throws 401 on bad credentials. */
  async authenticate(header: string | undefined, clientAddress?: string): Promise<Principal> {
    const credentials = parseAuthorization(header);
    switch (credentials.kind) {
      case 'none':
        return ANONYMOUS;
      case 'invalid':
        throw new UnauthorizedError(credentials.reason);
      case 'bearer':
        if (credentials.token.startsWith(ACCESS_TOKEN_PREFIX)) return this.accessTokens.verify(credentials.token);
        return this.principalForToken(credentials.token);
      case 'basic': {
        // A token may stand in for a password (`__token__` for twine, or any user name).
        if (credentials.password.startsWith(TOKEN_PREFIX)) {
          const principal = await this.principalForToken(credentials.password).catch(() => undefined);
          if (principal && (credentials.user === '__token__' || credentials.user === principal.name)) return principal;
        }
        const user = await this.checkPassword(credentials.user, credentials.password, clientAddress);
        if (!user) throw new UnauthorizedError('bad user name or password');
        return { name: user.name, anonymous: false, roles: user.roles, via: 'password', readOnly: false };
      }
    }
  }

  /**
   * Throw 401 (no credentials) or 403 (not enough) unless `principal` may do `permission`
   * on a repository, and on `packageName` there when given. Order: a read-only token never
   * writes; the `admin` role may do everything; a repository's own `anonymousRead` decides
   * anonymous reads; then the config's `auth.permissions` rules; where no rule speaks, the
   * defaults (reads as `auth.anonymousRead` says, write and delete for any signed-in user,
   * admin for the admin role).
   */
  authorize(principal: Principal, permission: Permission, repository: { name: string; anonymousRead?: boolean }, packageName?: string): void {
    const what = packageName === undefined ? repository.name : `${packageName} in ${repository.name}`;
    const deny = (): never => {
      if (principal.anonymous) throw new UnauthorizedError(`authentication required to ${permission} ${what}`);
      throw new ForbiddenError(`${principal.name} may not ${permission === 'admin' ? 'administer' : permission} ${what}`);
    };
    // An access token does only what it grants, reads included. When its holder may do it,
    // 401, so that the client asks for a token with the scope the challenge names; when the
    // holder may not, the holder's own refusal (403): no token would help.
    if (principal.grants && !grantsAllow(principal.grants, permission, repository.name, packageName)) {
      const { grants: _grants, ...holder } = principal;
      this.authorize(holder, permission, repository, packageName);
      throw new UnauthorizedError(`the access token used does not grant ${permission} on ${what}`);
    }
    if (permission !== 'read' && principal.anonymous && this.rules.decide(principal, permission, repository.name, packageName) !== true) deny();
    if (permission !== 'read' && principal.readOnly && !principal.anonymous) {
      throw new ForbiddenError(`the token used is read-only; ${permission} in ${repository.name} needs a read-write token`);
    }
    if (permission !== 'read' && principal.scope) {
      const { repositories, packages } = principal.scope;
      if (repositories && !repositories.some((glob) => globToRegExp(glob).test(repository.name))) {
        throw new ForbiddenError(`the token used is limited to ${repositories.join(', ')}; not valid to ${permission} in ${repository.name}`);
      }
      if (packages && packageName !== undefined && !packages.some((glob) => globToRegExp(glob).test(packageName))) {
        throw new ForbiddenError(`the token used is limited to packages ${packages.join(', ')}; not valid to ${permission} ${packageName}`);
      }
    }
    if (principal.roles.includes('admin')) return;
    if (permission === 'read' && principal.anonymous && repository.anonymousRead !== undefined) {
      if (!repository.anonymousRead) deny();
      return;
    }
    const decided = this.rules.decide(principal, permission, repository.name, packageName);
    if (decided === true) return;
    if (decided === false) deny();
    if (permission === 'read') {
      if (principal.anonymous && !this.config.anonymousRead) deny();
      return;
    }
    if (principal.anonymous || permission === 'admin') deny();
  }

  /** Check a password through the provider chain, then config users, then stored users. */
  /**
   * Check a password (throttled per user and client address: 429 while backing off);
   * failures are recorded in the audit log.
   */
  async checkPassword(name: string, password: string, clientAddress?: string): Promise<AuthenticatedUser | undefined> {
    this.throttle.check(name, clientAddress);
    const user = await this.checkPasswordOnce(name, password);
    if (typeof user === 'object') {
      this.throttle.succeeded(name, clientAddress);
      return user;
    }
    this.throttle.failed(name, clientAddress);
    await this.audit.record({ action: 'login', outcome: 'failed', principal: name, ...(clientAddress ? { clientAddress } : {}), details: { reason: user } });
    return undefined;
  }

  private async checkPasswordOnce(name: string, password: string): Promise<AuthenticatedUser | 'wrong password' | 'unknown user'> {
    const cacheKey = createHash('sha256').update(`${name}\u0000${password}`).digest('hex');
    const cached = this.verified.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.user;
    for (const provider of this.providers) {
      const result = await provider.authenticate(name, password);
      if (result === false) return 'wrong password';
      if (result) return this.remember(cacheKey, result);
    }
    const fromConfig = this.config.users[name];
    if (fromConfig) {
      return (await this.verify(password, fromConfig.passwordHash)) ? this.remember(cacheKey, { name, roles: fromConfig.roles }) : 'wrong password';
    }
    const stored = await this.metadata.users.findOneBy({ name });
    if (!stored) return 'unknown user';
    if (await this.verify(password, stored.passwordHash)) return this.remember(cacheKey, { name, roles: JSON.parse(stored.roles) as string[] });
    return 'wrong password';
  }


  /** {@link verifyPassword} through the concurrency limit. */
  private async verify(password: string, hash: string): Promise<boolean> {
    if (this.hashing >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => this.hashQueue.push(resolve));
    this.hashing++;
    try {
      return await verifyPassword(password, hash);
    } finally {
      this.hashing--;
      this.hashQueue.shift()?.();
    }
  }

  private remember(key: string, user: AuthenticatedUser): AuthenticatedUser {
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, { user, until: Date.now() + VERIFIED_TTL_MS });
    return user;
  }

  /** Create a user in the metadata store (CLI, self-registration). */
  async addUser(name: string, password: string, options: { email?: string; roles?: string[]; selfRegistration?: boolean; actor?: AuditActor } = {}): Promise<AuthenticatedUser> {
    const user = await this.createUser(name, password, options);
    await this.audit.record({ action: 'user.create', ...actorFields(options.actor), details: { user: name, roles: user.roles, selfRegistration: options.selfRegistration ?? false } });
    return user;
  }

  private async createUser(name: string, password: string, options: { email?: string; roles?: string[]; selfRegistration?: boolean }): Promise<AuthenticatedUser> {
    // Existence first: a known user with a mistyped password must hear "exists", not "registration disabled".
    if (this.config.users[name] || (await this.metadata.users.findOneBy({ name }))) throw new ConflictError(`user ${name} already exists`);
    if (options.selfRegistration && !this.config.allowRegistration) throw new ForbiddenError('self-registration is disabled on this registry');
    if (!USER_NAME.test(name)) throw new ForbiddenError(`invalid user name "${name}"`);
    if (password.length < 8) throw new ForbiddenError('password must have at least 8 characters');
    for (const provider of this.providers) {
      if (provider.addUser) {
        const created = await provider.addUser(name, password, { email: options.email });
        if (created === false) throw new ConflictError(`user ${name} already exists`);
        return created;
      }
    }
    const now = Date.now();
    const roles = options.roles ?? [];
    await this.metadata.users.insert({
      name,
      passwordHash: await hashPassword(password),
      roles: JSON.stringify(roles),
      email: options.email ?? null,
      createdAt: now,
      passwordChangedAt: now,
    });
    return { name, roles };
  }

  /** Change a stored user's password; tokens issued before stop working. */
  async setPassword(name: string, password: string, actor?: AuditActor): Promise<void> {
    this.tokenPrincipals.clear();
    const stored = await this.metadata.users.findOneBy({ name });
    if (!stored) throw new ConflictError(`no stored user ${name}`);
    if (password.length < 8) throw new ForbiddenError('password must have at least 8 characters');
    await this.metadata.users.update({ name }, { passwordHash: await hashPassword(password), passwordChangedAt: Date.now() });
    const revoked = await this.metadata.tokens.delete({ userName: name });
    this.verified.clear();
    await this.audit.record({ action: 'user.password', ...actorFields(actor), details: { user: name, tokensRevoked: revoked.affected ?? 0 } });
  }

  /** Issue a token; the secret is returned once and stored only as a hash. */
  async createToken(
    user: string,
    options: {
      readOnly?: boolean;
      description?: string;
      ttlSeconds?: number;
      actor?: AuditActor;
      /** Repository globs the token may change. */
      repositories?: readonly string[];
      /** Package-name globs the token may change. */
      packages?: readonly string[];
    } = {},
  ): Promise<{ token: string; info: TokenInfo }> {
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const ttl = options.ttlSeconds ?? this.config.tokenTtlSeconds;
    const row: TokenRow = {
      id: randomUUID(),
      userName: user,
      tokenHash: hashToken(secret),
      prefix: secret.slice(0, 10),
      readOnly: options.readOnly ?? false,
      createdAt: now,
      expiresAt: ttl > 0 ? now + ttl * 1000 : null,
      lastUsedAt: null,
      description: options.description ?? null,
      scopeRepositories: options.repositories?.length ? JSON.stringify(options.repositories) : null,
      scopePackages: options.packages?.length ? JSON.stringify(options.packages) : null,
    };
    await this.metadata.tokens.insert(row);
    await this.audit.record({
      action: 'token.create',
      ...actorFields(options.actor),
      details: { user, tokenId: row.id, readOnly: row.readOnly, ...(row.description ? { description: row.description } : {}), ...(row.expiresAt ? { expiresAt: new Date(row.expiresAt).toISOString() } : {}), ...(options.repositories?.length ? { repositories: options.repositories } : {}), ...(options.packages?.length ? { packages: options.packages } : {}) },
    });
    return { token: secret, info: toInfo(row) };
  }

  async listTokens(user?: string): Promise<TokenInfo[]> {
    const rows = await this.metadata.tokens.find({ where: user ? { userName: user } : {}, order: { createdAt: 'ASC' } });
    return rows.map(toInfo);
  }

  /** Revoke a token given in clear if it belongs to `user` (logout). */
  async revokeOwnToken(token: string, user: string): Promise<boolean> {
    this.tokenPrincipals.clear();
    const result = await this.metadata.tokens.delete({ tokenHash: hashToken(token), userName: user });
    return (result.affected ?? 0) > 0;
  }

  /** Revoke by secret (logout) or by id / prefix (CLI). */
  async revokeToken(tokenOrId: string, actor?: AuditActor): Promise<boolean> {
    this.tokenPrincipals.clear();
    const revoked = await this.deleteToken(tokenOrId);
    if (revoked) await this.audit.record({ action: 'token.revoke', ...actorFields(actor), details: { token: tokenOrId.startsWith(TOKEN_PREFIX) ? `${tokenOrId.slice(0, 10)}...` : tokenOrId } });
    return revoked;
  }

  private async deleteToken(tokenOrId: string): Promise<boolean> {
    const byHash = await this.metadata.tokens.delete({ tokenHash: hashToken(tokenOrId) });
    if (byHash.affected) return true;
    const byId = await this.metadata.tokens.delete({ id: tokenOrId });
    return (byId.affected ?? 0) > 0;
  }

  async userExists(name: string): Promise<boolean> {
    return !!this.config.users[name] || !!(await this.metadata.users.findOneBy({ name }));
  }

  /**
   * Tokens checked in the last {@link TOKEN_CACHE_MS}, so a client's every request does not
   * cost two queries. A revocation in this process empties it at once; one made elsewhere
   * (the CLI, another node) takes effect within that time.
   */
  private readonly tokenPrincipals = new Map<string, { principal: Principal; until: number }>();

  private async principalForToken(token: string): Promise<Principal> {
    const tokenHash = hashToken(token);
    const now = Date.now();
    const cached = this.tokenPrincipals.get(tokenHash);
    if (cached && cached.until > now) return cached.principal;
    this.tokenPrincipals.delete(tokenHash);
    const principal = await this.lookUpToken(tokenHash, now);
    if (this.tokenPrincipals.size >= 10_000) this.tokenPrincipals.delete(this.tokenPrincipals.keys().next().value!);
    this.tokenPrincipals.set(tokenHash, { principal, until: Math.min(now + TOKEN_CACHE_MS, principal.tokenExpiresAt ?? Infinity) });
    return principal;
  }

  private async lookUpToken(tokenHash: string, now: number): Promise<Principal & { tokenExpiresAt?: number }> {
    const row = await this.metadata.tokens.findOneBy({ tokenHash });
    if (!row || (row.expiresAt !== null && row.expiresAt <= now)) throw new UnauthorizedError('invalid or expired token');
    const roles = await this.rolesOf(row.userName);
    if (roles === undefined) throw new UnauthorizedError('the token belongs to a user that no longer exists');
    if (row.lastUsedAt === null || now - row.lastUsedAt > 60_000) {
      void this.metadata.tokens.update({ id: row.id }, { lastUsedAt: now }).catch(() => undefined);
    }
    const scope =
      row.scopeRepositories || row.scopePackages
        ? {
            ...(row.scopeRepositories ? { repositories: JSON.parse(row.scopeRepositories) as string[] } : {}),
            ...(row.scopePackages ? { packages: JSON.parse(row.scopePackages) as string[] } : {}),
          }
        : undefined;
    return {
      name: row.userName,
      anonymous: false,
      roles,
      via: 'token',
      readOnly: !!row.readOnly,
      tokenId: row.id,
      ...(scope ? { scope } : {}),
      ...(row.expiresAt !== null ? { tokenExpiresAt: row.expiresAt } : {}),
    };
  }

  private async rolesOf(name: string): Promise<string[] | undefined> {
    const fromConfig = this.config.users[name];
    if (fromConfig) return [...fromConfig.roles];
    const stored = await this.metadata.users.findOneBy({ name });
    if (stored) return JSON.parse(stored.roles) as string[];
    // Users of provider plugins are not stored: their roles come from the provider that
    // knows them; a provider that cannot tell gives its users' tokens no roles.
    for (const provider of this.providers) {
      const roles = await provider.rolesOf?.(name);
      if (roles) return [...roles];
    }
    return this.providers.length > 0 ? [] : undefined;
  }
}

/** Who made a change, for the audit log; the command line on the server when absent. */
export interface AuditActor {
  readonly principal: string;
  readonly clientAddress?: string;
}

function actorFields(actor: AuditActor | undefined): { principal: string; clientAddress?: string } {
  if (!actor) return { principal: 'cli' };
  return { principal: actor.principal, ...(actor.clientAddress ? { clientAddress: actor.clientAddress } : {}) };
}

/** How long a checked token is trusted without asking the metadata store again. */
const TOKEN_CACHE_MS = 5_000;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    user: row.userName,
    prefix: row.prefix,
    readOnly: !!row.readOnly,
    createdAt: new Date(row.createdAt),
    ...(row.expiresAt !== null ? { expiresAt: new Date(row.expiresAt) } : {}),
    ...(row.lastUsedAt !== null ? { lastUsedAt: new Date(row.lastUsedAt) } : {}),
    ...(row.description ? { description: row.description } : {}),
    ...(row.scopeRepositories ? { repositories: JSON.parse(row.scopeRepositories) as string[] } : {}),
    ...(row.scopePackages ? { packages: JSON.parse(row.scopePackages) as string[] } : {}),
  };
}
