import { createHash } from 'node:crypto';
import { UnauthorizedError, type AuthenticatedUser, type AuthProvider, type Principal } from '@registry-core/api';
import { ACCESS_TOKEN_PREFIX, accessTokenBinding, type AccessTokens, type CredentialBinding, type CredentialSource } from './access-tokens.js';
import type { AuditLog } from './audit-log.js';
import { parseAuthorization } from './credentials.js';
import { LoginThrottle } from './login-throttle.js';
import { verifyPassword } from './password.js';
import { TOKEN_PREFIX, hashToken, type UserTokens } from './tokens.js';
import type { Users } from './users.js';

export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', anonymous: true, roles: [], via: 'anonymous', readOnly: true });

const VERIFIED_TTL_MS = 60_000;
/** How long a checked token is trusted without asking the metadata store again (`auth.cacheSeconds`). */
const TOKEN_CACHE_MS = 5_000;
/**
 * At most this many password hashes at once: scrypt runs on libuv's thread pool, which file
 * I/O shares, so a burst of bad logins must not stall every download.
 */
const MAX_CONCURRENT_HASHES = 2;

/**
 * Credentials to a principal: an `Authorization` header (none, Basic with a password or a
 * token, Bearer with a stored or a signed access token) becomes who is asking, or a 401.
 * Passwords are checked through the provider chain, then config users, then stored users,
 * throttled per user and client address; recent checks are remembered so that clients
 * sending credentials on every request stay cheap.
 */
export class Authentication {
  private hashing = 0;
  private readonly hashQueue: Array<() => void> = [];
  /**
   * sha256(user:password) of recent successful checks, so Basic on every request stays cheap.
   * A stored user's entry keeps the password epoch it was checked against and is checked
   * against the store again after {@link TOKEN_CACHE_MS}: a password changed elsewhere (the
   * CLI, another node) stops the old one within that time, not after the whole TTL.
   */
  private readonly verified = new Map<string, { user: AuthenticatedUser; until: number; epoch?: string; checkedAt: number }>();
  private readonly throttle = new LoginThrottle();
  /**
   * Tokens checked in the last {@link TOKEN_CACHE_MS}, so a client's every request does not
   * cost two queries. A revocation in this process empties it at once; one made elsewhere
   * (the CLI, another node) takes effect within that time.
   */
  private readonly tokenPrincipals = new Map<string, { principal: Principal; until: number }>();
  /** Access tokens' sources found valid in the last {@link TOKEN_CACHE_MS}, emptied like the above. */
  private readonly liveSources = new Map<string, number>();
  /** Look-ups of tokens under way, by the hash of the secret (concurrent requests share one). */
  private readonly lookingUp = new Map<string, Promise<Principal>>();
  /** Bumped by every revocation and password change here: a look-up begun before one is not cached. */
  private generation = 0;

  constructor(
    private readonly users: Users,
    private readonly tokens: UserTokens,
    private readonly accessTokens: AccessTokens,
    private readonly providers: readonly AuthProvider[],
    private readonly audit: AuditLog,
    /** The trust window (`auth.cacheSeconds`): within it, a revocation, password change, role change, disabling or removal made elsewhere may not show yet. */
    private readonly cacheMs = TOKEN_CACHE_MS,
  ) {
    tokens.onRevoked(() => {
      this.generation++;
      this.lookingUp.clear();
      this.tokenPrincipals.clear();
      this.liveSources.clear();
    });
    users.onPasswordChanged(() => {
      this.generation++;
      this.lookingUp.clear();
      this.tokenPrincipals.clear();
      this.verified.clear();
      this.liveSources.clear();
    });
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
        if (credentials.token.startsWith(ACCESS_TOKEN_PREFIX)) return this.principalForAccessToken(credentials.token);
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
   * Check a password (throttled per user and client address: 429 while backing off);
   * failures and throttled attempts are recorded in the audit log.
   */
  async checkPassword(name: string, password: string, clientAddress?: string): Promise<AuthenticatedUser | undefined> {
    try {
      this.throttle.check(name, clientAddress);
    } catch (error) {
      // Refused unchecked, but a login attempt all the same: the audit log shows it.
      await this.audit.record({ action: 'login', outcome: 'denied', principal: name, ...(clientAddress ? { clientAddress } : {}), details: { reason: 'throttled' } });
      throw error;
    }
    const user = await this.checkPasswordOnce(name, password);
    if (typeof user === 'object') {
      this.throttle.succeeded(name, clientAddress);
      return user;
    }
    this.throttle.failed(name, clientAddress);
    await this.audit.record({ action: 'login', outcome: 'failed', principal: name, ...(clientAddress ? { clientAddress } : {}), details: { reason: user } });
    return undefined;
  }

  /** Through the provider chain, then config users, then stored users. */
  private async checkPasswordOnce(name: string, password: string): Promise<AuthenticatedUser | 'wrong password' | 'unknown user' | 'user disabled'> {
    const cacheKey = createHash('sha256').update(`${name}\u0000${password}`).digest('hex');
    const cached = this.verified.get(cacheKey);
    const now = Date.now();
    if (cached && cached.until > now) {
      if (cached.epoch === undefined || now - cached.checkedAt < this.cacheMs) return cached.user;
      if ((await this.users.passwordEpochOf(name)) === cached.epoch) {
        cached.checkedAt = now;
        return cached.user;
      }
    }
    this.verified.delete(cacheKey);
    for (const provider of this.providers) {
      const result = await provider.authenticate(name, password);
      if (result === false) return 'wrong password';
      if (result) return this.remember(cacheKey, result);
    }
    const known = await this.users.credentialsOf(name);
    if (!known) return 'unknown user';
    // The epoch is read before the hash is checked: a change racing this check makes the
    // entry stale rather than trusted.
    const epoch = await this.users.passwordEpochOf(name);
    if (!(await this.verify(password, known.passwordHash))) return 'wrong password';
    // Told only to whoever knows the password (the answer is a 401 all the same).
    if (known.disabled) return 'user disabled';
    return this.remember(cacheKey, { name, roles: known.roles }, epoch);
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

  private remember(key: string, user: AuthenticatedUser, epoch?: string): AuthenticatedUser {
    if (this.verified.size > 10_000) this.verified.clear();
    const now = Date.now();
    this.verified.set(key, { user, until: now + VERIFIED_TTL_MS, checkedAt: now, ...(epoch !== undefined ? { epoch } : {}) });
    return user;
  }

  /** An access token's principal, while the credential it was minted from is still valid. */
  private async principalForAccessToken(token: string): Promise<Principal> {
    const principal = await this.accessTokens.verify(token);
    const source = accessTokenBinding(principal)?.source;
    if (source && !(await this.sourceIsLive(principal.name, source))) {
      throw new UnauthorizedError('the credential this access token was issued for has been revoked, has expired or its password changed');
    }
    return principal;
  }

  private async sourceIsLive(user: string, source: CredentialSource): Promise<boolean> {
    const now = Date.now();
    const key = 'tokenId' in source ? `t\u0000${source.tokenId}` : `p\u0000${user}\u0000${source.passwordEpoch}`;
    if ((this.liveSources.get(key) ?? 0) > now) return true;
    // A disabled user's password epoch differs from every one a token was bound to.
    const live =
      'tokenId' in source
        ? (await this.tokens.isLive(source.tokenId, now)) && (await this.users.standingOf(user))?.disabled === false
        : (await this.users.passwordEpochOf(user)) === source.passwordEpoch;
    if (!live) return false;
    if (this.liveSources.size >= 10_000) this.liveSources.clear();
    this.liveSources.set(key, now + this.cacheMs);
    return true;
  }

  /**
   * What an access token minted for `principal` is bound to: the access token's own
   * source and expiry when it came from one, the stored token used, or the password login.
   */
  async bindingFor(principal: Principal): Promise<CredentialBinding> {
    const inherited = accessTokenBinding(principal);
    if (inherited) return inherited;
    if (principal.anonymous) return {};
    if (principal.via === 'token' && principal.tokenId) {
      const expiresAt = (principal as Principal & { tokenExpiresAt?: number }).tokenExpiresAt;
      return { source: { tokenId: principal.tokenId }, ...(expiresAt !== undefined ? { expiresAt } : {}) };
    }
    const epoch = await this.users.passwordEpochOf(principal.name);
    if (epoch === undefined) throw new UnauthorizedError('unknown user');
    return { source: { passwordEpoch: epoch } };
  }

  /**
   * The principal of a stored token sent as `Bearer rc_...`, only when it was checked
   * against the metadata store within the trust window and has not expired since (the
   * cached entry ends at the token's expiry): no query, no await, for the hot path's
   * replay of authenticated reads. `key` is the hash of the secret (never the secret).
   * Anything else (no entry, other credentials) is `undefined`: the full path decides.
   */
  cachedTokenPrincipal(header: string): { principal: Principal; key: string } | undefined {
    if (!header.startsWith('Bearer ')) return undefined;
    const token = header.slice(7).trim();
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const key = hashToken(token);
    const cached = this.tokenPrincipals.get(key);
    if (!cached || cached.until <= Date.now()) return undefined;
    return { principal: cached.principal, key };
  }

  private async principalForToken(token: string): Promise<Principal> {
    const tokenHash = hashToken(token);
    const now = Date.now();
    const cached = this.tokenPrincipals.get(tokenHash);
    if (cached && cached.until > now) return cached.principal;
    this.tokenPrincipals.delete(tokenHash);
    // When the window ends under load, every connection of the client misses at once: one
    // look-up answers them all.
    const pending = this.lookingUp.get(tokenHash);
    if (pending) return pending;
    const lookUp = this.lookUpToken(token, tokenHash, now).finally(() => {
      if (this.lookingUp.get(tokenHash) === lookUp) this.lookingUp.delete(tokenHash);
    });
    this.lookingUp.set(tokenHash, lookUp);
    return lookUp;
  }

  private async lookUpToken(token: string, tokenHash: string, now: number): Promise<Principal> {
    const generation = this.generation;
    const facts = await this.tokens.lookUp(token, now);
    const standing = await this.users.standingOf(facts.user);
    if (standing === undefined) throw new UnauthorizedError('the token belongs to a user that no longer exists');
    if (standing.disabled) throw new UnauthorizedError('the token belongs to a disabled user');
    const { roles } = standing;
    this.tokens.markUsed(facts, now);
    const principal: Principal & { tokenExpiresAt?: number } = {
      name: facts.user,
      anonymous: false,
      roles,
      via: 'token',
      readOnly: facts.readOnly,
      tokenId: facts.id,
      ...(facts.scope ? { scope: facts.scope } : {}),
      ...(facts.expiresAt !== undefined ? { tokenExpiresAt: facts.expiresAt } : {}),
    };
    // A revocation or password change made here while the store was asked: not remembered.
    if (generation !== this.generation) return principal;
    if (this.tokenPrincipals.size >= 10_000) this.tokenPrincipals.delete(this.tokenPrincipals.keys().next().value!);
    this.tokenPrincipals.set(tokenHash, { principal, until: Math.min(now + this.cacheMs, facts.expiresAt ?? Infinity) });
    return principal;
  }
}
