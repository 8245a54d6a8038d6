import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError, type AccessGrant, type Permission, type Principal } from '@registry-core/api';
import type { MetadataStore } from '../metadata/metadata-store.js';

/** Prefix of signed access tokens (never confused with stored `rc_` tokens). */
export const ACCESS_TOKEN_PREFIX = 'rca.';
const KEY_DOCUMENT = { repository: '.kernel', key: 'access-token-signing-key' } as const;
const PERMISSIONS: readonly Permission[] = ['read', 'write', 'delete', 'admin'];
/** Longest lifetime a format may ask for. */
export const MAX_ACCESS_TOKEN_SECONDS = 3600;

/**
 * The credential an access token was minted from, checked on every use: a stored token
 * (revoked or expired: the access token is dead too) or a password (changed since: dead).
 */
export type CredentialSource = { readonly tokenId: string } | { readonly passwordEpoch: string };

/** What an access token is bound to: its source and the latest it may expire (epoch ms). */
export interface CredentialBinding {
  readonly source?: CredentialSource;
  readonly expiresAt?: number;
}

/** Bindings of the principals access tokens stand for (a principal is a plain contract object). */
const bindings = new WeakMap<Principal, CredentialBinding>();

/** The binding of a principal that came from an access token; undefined for any other. */
export function accessTokenBinding(principal: Principal): CredentialBinding | undefined {
  return bindings.get(principal);
}

interface Payload {
  /** Subject: the user name. */
  readonly s: string;
  /** Anonymous subject. */
  readonly a?: 1;
  /** Roles when issued. */
  readonly r: readonly string[];
  readonly g: readonly AccessGrant[];
  /** Issued and expiry, seconds since the epoch. */
  readonly i: number;
  readonly e: number;
  /** Source: the id of the stored token it was minted from... */
  readonly t?: string;
  /** ...or the password epoch of the user who logged in. */
  readonly p?: string;
}

/**
 * Short-lived, stateless, HMAC-signed access tokens (the Bearer token flow of OCI
 * registries). The signing key is made once and kept in the metadata store, so every
 * node sharing it issues and accepts the same tokens.
 */
export class AccessTokens {
  private key: Buffer | undefined;

  constructor(private readonly metadata: MetadataStore) {}

  private async signingKey(): Promise<Buffer> {
    if (this.key) return this.key;
    // Create-if-absent under the document lock, so two nodes starting at once agree.
    const row = await this.metadata.updateDocument(KEY_DOCUMENT.repository, KEY_DOCUMENT.key, async (current) =>
      current ? undefined : JSON.stringify(randomBytes(32).toString('base64')),
    );
    this.key = Buffer.from(JSON.parse(row!.value) as string, 'base64');
    return this.key;
  }

  /**
   * Sign a token for `principal`, bound to `binding`: it names the source credential and
   * never outlives it (nor the access token it was minted from).
   */
  async issue(principal: Principal, grants: readonly AccessGrant[], ttlSeconds: number, binding: CredentialBinding = {}): Promise<{ token: string; expiresIn: number; issuedAt: Date }> {
    const ttl = Math.max(1, Math.min(MAX_ACCESS_TOKEN_SECONDS, Math.floor(ttlSeconds)));
    const now = Math.floor(Date.now() / 1000);
    const expires = Math.max(now, Math.min(now + ttl, binding.expiresAt !== undefined ? Math.floor(binding.expiresAt / 1000) : Infinity));
    const source = binding.source;
    const payload: Payload = {
      s: principal.name,
      ...(principal.anonymous ? { a: 1 as const } : {}),
      r: principal.roles,
      g: grants,
      i: now,
      e: expires,
      ...(source && 'tokenId' in source ? { t: source.tokenId } : {}),
      ...(source && 'passwordEpoch' in source ? { p: source.passwordEpoch } : {}),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const signature = createHmac('sha256', await this.signingKey()).update(body).digest('base64url');
    return { token: `${ACCESS_TOKEN_PREFIX}${body}.${signature}`, expiresIn: expires - now, issuedAt: new Date(now * 1000) };
  }

  /**
   * The principal an access token stands for; 401 when it is forged, malformed or expired.
   * Its source credential is not checked here (see `Authentication`): it is in
   * {@link accessTokenBinding} of the principal.
   */
  async verify(token: string): Promise<Principal> {
    const [body, signature, extra] = token.slice(ACCESS_TOKEN_PREFIX.length).split('.');
    if (!body || !signature || extra !== undefined || body.length > 64 * 1024) throw new UnauthorizedError('malformed access token');
    const expected = createHmac('sha256', await this.signingKey()).update(body).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthorizedError('invalid access token');
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      throw new UnauthorizedError('malformed access token');
    }
    if (typeof payload.e !== 'number' || payload.e * 1000 <= Date.now()) throw new UnauthorizedError('the access token has expired');
    const grants = (Array.isArray(payload.g) ? payload.g : []).filter(
      (g) => typeof g?.repository === 'string' && Array.isArray(g.actions) && (g.actions as unknown[]).every((a) => PERMISSIONS.includes(a as Permission)) && (g.package === undefined || typeof g.package === 'string'),
    );
    const anonymous = payload.a === 1;
    const principal: Principal = {
      name: anonymous ? 'anonymous' : String(payload.s),
      anonymous,
      roles: anonymous ? [] : (payload.r ?? []).filter((r): r is string => typeof r === 'string'),
      via: 'token',
      readOnly: anonymous,
      grants,
    };
    const source: CredentialSource | undefined =
      typeof payload.t === 'string' ? { tokenId: payload.t } : typeof payload.p === 'string' ? { passwordEpoch: payload.p } : undefined;
    // A user's token bound to nothing cannot be checked against revocation: refused.
    if (!anonymous && !source) throw new UnauthorizedError('the access token is not bound to a credential; ask for a new one');
    bindings.set(principal, { ...(source ? { source } : {}), expiresAt: payload.e * 1000 });
    return principal;
  }
}

/** Whether `grants` allow `permission` on a repository (and on `packageName` when given). */
export function grantsAllow(grants: readonly AccessGrant[], permission: Permission, repository: string, packageName?: string): boolean {
  return grants.some(
    (g) => g.repository === repository && g.actions.includes(permission) && (packageName === undefined || g.package === undefined || g.package === packageName),
  );
}
