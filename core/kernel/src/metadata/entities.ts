import { EntitySchema, type ValueTransformer } from 'typeorm';

/**
 * Entities are EntitySchema definitions rather than decorated classes: no decorator
 * metadata is needed, so the same code runs under tsc output and vitest's transform.
 * Times are epoch milliseconds in BIGINT columns, identical on SQLite and PostgreSQL.
 */

/** pg returns BIGINT as a string; every reader wants a number. */
const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

export interface AssetRow {
  id?: number;
  repository: string;
  path: string;
  kind: string;
  storage: string;
  blobKey: string;
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  contentType: string;
  attributes: string;
  createdAt: number;
  updatedAt: number;
  lastDownloadedAt: number | null;
  /** For cached metadata: when it must be revalidated. */
  expiresAt: number | null;
  upstreamEtag: string | null;
  upstreamLastModified: string | null;
  /**
   * Set while the asset belongs to a publish not committed yet (a random token, so only
   * that publish commits or discards it); `null` once published. Pending rows are never
   * served. Absent: `null`.
   */
  pending?: string | null;
}

export const AssetEntity = new EntitySchema<AssetRow>({
  name: 'Asset',
  tableName: 'asset',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment', transformer: bigintNumber },
    repository: { type: 'varchar', length: 128 },
    path: { type: 'varchar', length: 1024 },
    kind: { type: 'varchar', length: 16 },
    storage: { type: 'varchar', length: 128 },
    blobKey: { type: 'varchar', length: 256, name: 'blob_key' },
    size: { type: 'bigint', transformer: bigintNumber },
    md5: { type: 'varchar', length: 32 },
    sha1: { type: 'varchar', length: 40 },
    sha256: { type: 'varchar', length: 64 },
    sha512: { type: 'varchar', length: 128 },
    contentType: { type: 'varchar', length: 255, name: 'content_type' },
    attributes: { type: 'text' },
    createdAt: { type: 'bigint', name: 'created_at', transformer: bigintNumber },
    updatedAt: { type: 'bigint', name: 'updated_at', transformer: bigintNumber },
    lastDownloadedAt: { type: 'bigint', name: 'last_downloaded_at', nullable: true, transformer: bigintNumber },
    expiresAt: { type: 'bigint', name: 'expires_at', nullable: true, transformer: bigintNumber },
    upstreamEtag: { type: 'varchar', length: 512, name: 'upstream_etag', nullable: true },
    upstreamLastModified: { type: 'varchar', length: 64, name: 'upstream_last_modified', nullable: true },
    pending: { type: 'varchar', length: 64, nullable: true },
  },
  uniques: [{ name: 'uq_asset_repository_path', columns: ['repository', 'path'] }],
  indices: [{ name: 'ix_asset_sha256', columns: ['sha256'] }, { name: 'ix_asset_pending', columns: ['pending', 'updatedAt'] }],
});

export interface NegativeCacheRow {
  repository: string;
  path: string;
  expiresAt: number;
}

export const NegativeCacheEntity = new EntitySchema<NegativeCacheRow>({
  name: 'NegativeCache',
  tableName: 'negative_cache',
  columns: {
    repository: { type: 'varchar', length: 128, primary: true },
    path: { type: 'varchar', length: 1024, primary: true },
    expiresAt: { type: 'bigint', name: 'expires_at', transformer: bigintNumber },
  },
});

export interface DocumentRow {
  repository: string;
  key: string;
  value: string;
  revision: number;
  updatedAt: number;
}

export const DocumentEntity = new EntitySchema<DocumentRow>({
  name: 'Document',
  tableName: 'document',
  columns: {
    repository: { type: 'varchar', length: 128, primary: true },
    key: { type: 'varchar', length: 1024, primary: true },
    value: { type: 'text' },
    revision: { type: 'integer' },
    updatedAt: { type: 'bigint', name: 'updated_at', transformer: bigintNumber },
  },
});

export interface ComponentRow {
  repository: string;
  name: string;
  version: string;
  /** Lower-case text searched by the component index. */
  searchText: string;
  attributes: string;
  updatedAt: number;
}

export const ComponentEntity = new EntitySchema<ComponentRow>({
  name: 'Component',
  tableName: 'component',
  columns: {
    repository: { type: 'varchar', length: 128, primary: true },
    name: { type: 'varchar', length: 512, primary: true },
    version: { type: 'varchar', length: 256, primary: true },
    searchText: { type: 'text', name: 'search_text' },
    attributes: { type: 'text' },
    updatedAt: { type: 'bigint', name: 'updated_at', transformer: bigintNumber },
  },
});

export interface UserRow {
  name: string;
  passwordHash: string;
  roles: string;
  email: string | null;
  createdAt: number;
  /** Bumped when the password changes: tokens issued before are void. */
  passwordChangedAt: number;
  /** When an administrator disabled the user (null: enabled): its logins and tokens are refused. */
  disabledAt?: number | null;
}

export const UserEntity = new EntitySchema<UserRow>({
  name: 'User',
  tableName: 'registry_user',
  columns: {
    name: { type: 'varchar', length: 128, primary: true },
    passwordHash: { type: 'varchar', length: 512, name: 'password_hash' },
    roles: { type: 'text' },
    email: { type: 'varchar', length: 320, nullable: true },
    createdAt: { type: 'bigint', name: 'created_at', transformer: bigintNumber },
    passwordChangedAt: { type: 'bigint', name: 'password_changed_at', transformer: bigintNumber },
    disabledAt: { type: 'bigint', name: 'disabled_at', nullable: true, transformer: bigintNumber },
  },
});

export interface TokenRow {
  id: string;
  userName: string;
  /** sha256 of the token; the token itself is never stored. */
  tokenHash: string;
  /** Shown in listings so a user can tell tokens apart. */
  prefix: string;
  readOnly: boolean;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  description: string | null;
  /** JSON array of repository globs the token may change; null: any. */
  scopeRepositories: string | null;
  /** JSON array of package-name globs the token may change; null: any. */
  scopePackages: string | null;
}

export const TokenEntity = new EntitySchema<TokenRow>({
  name: 'Token',
  tableName: 'token',
  columns: {
    id: { type: 'varchar', length: 64, primary: true },
    userName: { type: 'varchar', length: 128, name: 'user_name' },
    tokenHash: { type: 'varchar', length: 64, name: 'token_hash' },
    prefix: { type: 'varchar', length: 16 },
    readOnly: { type: 'boolean', name: 'read_only' },
    createdAt: { type: 'bigint', name: 'created_at', transformer: bigintNumber },
    expiresAt: { type: 'bigint', name: 'expires_at', nullable: true, transformer: bigintNumber },
    lastUsedAt: { type: 'bigint', name: 'last_used_at', nullable: true, transformer: bigintNumber },
    description: { type: 'varchar', length: 255, nullable: true },
    scopeRepositories: { type: 'text', name: 'scope_repositories', nullable: true },
    scopePackages: { type: 'text', name: 'scope_packages', nullable: true },
  },
  uniques: [{ name: 'uq_token_hash', columns: ['tokenHash'] }],
});

export interface KeyValueRow {
  namespace: string;
  key: string;
  value: string;
}

export const KeyValueEntity = new EntitySchema<KeyValueRow>({
  name: 'KeyValue',
  tableName: 'key_value',
  columns: {
    namespace: { type: 'varchar', length: 256, primary: true },
    key: { type: 'varchar', length: 1024, primary: true },
    value: { type: 'text' },
  },
});

export interface AuditEventRow {
  id?: number;
  at: number;
  action: string;
  outcome: string;
  principal: string;
  repository: string | null;
  package: string | null;
  version: string | null;
  clientAddress: string | null;
  details: string;
}

export const AuditEventEntity = new EntitySchema<AuditEventRow>({
  name: 'AuditEvent',
  tableName: 'audit_event',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment', transformer: bigintNumber },
    at: { type: 'bigint', transformer: bigintNumber },
    action: { type: 'varchar', length: 64 },
    outcome: { type: 'varchar', length: 16 },
    principal: { type: 'varchar', length: 128 },
    repository: { type: 'varchar', length: 128, nullable: true },
    package: { type: 'varchar', length: 512, nullable: true },
    version: { type: 'varchar', length: 256, nullable: true },
    clientAddress: { type: 'varchar', length: 64, name: 'client_address', nullable: true },
    details: { type: 'text' },
  },
});

export interface PackageOwnerRow {
  repository: string;
  package: string;
  /** JSON array of user names, in the order they were added. */
  owners: string;
  updatedAt: number;
}

export const PackageOwnerEntity = new EntitySchema<PackageOwnerRow>({
  name: 'PackageOwner',
  tableName: 'package_owner',
  columns: {
    repository: { type: 'varchar', length: 128, primary: true },
    package: { type: 'varchar', length: 512, primary: true },
    owners: { type: 'text' },
    updatedAt: { type: 'bigint', name: 'updated_at', transformer: bigintNumber },
  },
});

export const ALL_ENTITIES = [AuditEventEntity, AssetEntity, NegativeCacheEntity, DocumentEntity, ComponentEntity, UserEntity, TokenEntity, KeyValueEntity, PackageOwnerEntity];
