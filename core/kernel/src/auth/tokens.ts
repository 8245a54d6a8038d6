import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { UnauthorizedError, type TokenDescription, type TokenOptions } from '@registry-core/api';
import type { AuthConfig } from '../config/types.js';
import type { TokenRow } from '../metadata/entities.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { actorFields, type AuditActor, type AuditLog } from './audit-log.js';

/** Prefix of stored tokens' secrets. */
export const TOKEN_PREFIX = 'rc_';

/** A token as listed (never its secret). */
export type TokenInfo = TokenDescription;

/** What a stored token says about its holder, before the holder's roles are known. */
export interface TokenFacts {
  readonly id: string;
  readonly user: string;
  readonly readOnly: boolean;
  readonly scope?: { repositories?: string[]; packages?: string[] };
  readonly expiresAt?: number;
  readonly lastUsedAt?: number;
}

/** Options of a new token: the contract's, and who asked for it. */
export interface NewTokenOptions extends TokenOptions {
  readonly actor?: AuditActor;
}

/**
 * Users' long-lived tokens (`rc_...`), stored as sha256 hashes only: issue, list, look
 * up, revoke. Whoever caches what a token resolves to subscribes to {@link onRevoked}.
 */
export class UserTokens {
  private readonly revokedListeners: Array<() => void> = [];

  constructor(
    private readonly config: Pick<AuthConfig, 'tokenTtlSeconds'>,
    private readonly metadata: MetadataStore,
    private readonly audit: AuditLog,
  ) {}

  /** Called after any revocation made through this process. */
  onRevoked(listener: () => void): void {
    this.revokedListeners.push(listener);
  }

  /** Another worker of this node revoked a token: tell the listeners as if it had been here. */
  revokedElsewhere(): void {
    for (const listener of this.revokedListeners) listener();
  }

  /** Issue a token; the secret is returned once and stored only as a hash. */
  async create(user: string, options: NewTokenOptions = {}): Promise<{ token: string; info: TokenInfo }> {
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

  async list(user?: string): Promise<TokenInfo[]> {
    const rows = await this.metadata.tokens.find({ where: user ? { userName: user } : {}, order: { createdAt: 'ASC' } });
    return rows.map(toInfo);
  }

  /** The token whose secret is `token`, unless unknown or expired (401). */
  async lookUp(token: string, now: number): Promise<TokenFacts> {
    const row = await this.metadata.tokens.findOneBy({ tokenHash: hashToken(token) });
    if (!row || (row.expiresAt !== null && row.expiresAt <= now)) throw new UnauthorizedError('invalid or expired token');
    const scope =
      row.scopeRepositories || row.scopePackages
        ? {
            ...(row.scopeRepositories ? { repositories: JSON.parse(row.scopeRepositories) as string[] } : {}),
            ...(row.scopePackages ? { packages: JSON.parse(row.scopePackages) as string[] } : {}),
          }
        : undefined;
    return { id: row.id, user: row.userName, readOnly: !!row.readOnly, ...(scope ? { scope } : {}), ...(row.expiresAt !== null ? { expiresAt: row.expiresAt } : {}), ...(row.lastUsedAt !== null ? { lastUsedAt: row.lastUsedAt } : {}) };
  }

  /** Whether the token with this id still exists and has not expired. */
  async isLive(id: string, now: number): Promise<boolean> {
    const row = await this.metadata.tokens.findOneBy({ id });
    return !!row && (row.expiresAt === null || row.expiresAt > now);
  }

  /** Note that a token was used now (at most once a minute, in the background). */
  markUsed(token: TokenFacts, now: number): void {
    if (token.lastUsedAt === undefined || now - token.lastUsedAt > 60_000) {
      void this.metadata.tokens.update({ id: token.id }, { lastUsedAt: now }).catch(() => undefined);
    }
  }

  /** Revoke a token given in clear if it belongs to `user` (logout). */
  async revokeOwn(token: string, user: string): Promise<boolean> {
    const result = await this.metadata.tokens.delete({ tokenHash: hashToken(token), userName: user });
    this.revoked();
    return (result.affected ?? 0) > 0;
  }

  /** Revoke by secret (logout) or by id / prefix (CLI). */
  async revoke(tokenOrId: string, actor?: AuditActor): Promise<boolean> {
    const revoked = await this.delete(tokenOrId);
    this.revoked();
    if (revoked) await this.audit.record({ action: 'token.revoke', ...actorFields(actor), details: { token: tokenOrId.startsWith(TOKEN_PREFIX) ? `${tokenOrId.slice(0, 10)}...` : tokenOrId } });
    return revoked;
  }

  /** Revoke every token of `user` (a password change); resolves how many. */
  async revokeAllOf(user: string): Promise<number> {
    const result = await this.metadata.tokens.delete({ userName: user });
    this.revoked();
    return result.affected ?? 0;
  }

  private async delete(tokenOrId: string): Promise<boolean> {
    const byHash = await this.metadata.tokens.delete({ tokenHash: hashToken(tokenOrId) });
    if (byHash.affected) return true;
    const byId = await this.metadata.tokens.delete({ id: tokenOrId });
    return (byId.affected ?? 0) > 0;
  }

  private revoked(): void {
    for (const listener of this.revokedListeners) listener();
  }
}

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
