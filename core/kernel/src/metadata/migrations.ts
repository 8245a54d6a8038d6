import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migrations are written once for both engines: the few type differences are resolved
 * from the connection. New migrations append to {@link MIGRATIONS}; never edit a shipped one.
 */
function dialect(queryRunner: QueryRunner) {
  const pg = queryRunner.connection.options.type === 'postgres';
  return {
    id: pg ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT',
    bool: pg ? 'BOOLEAN' : 'INTEGER',
    big: pg ? 'BIGINT' : 'INTEGER',
  };
}

export class InitialSchema1732406400000 implements MigrationInterface {
  name = 'InitialSchema1732406400000';

  async up(q: QueryRunner): Promise<void> {
    const t = dialect(q);
    await q.query(`CREATE TABLE asset (
      id ${t.id},
      repository VARCHAR(128) NOT NULL,
      path VARCHAR(1024) NOT NULL,
      kind VARCHAR(16) NOT NULL,
      storage VARCHAR(128) NOT NULL,
      blob_key VARCHAR(256) NOT NULL,
      size ${t.big} NOT NULL,
      md5 VARCHAR(32) NOT NULL,
      sha1 VARCHAR(40) NOT NULL,
      sha256 VARCHAR(64) NOT NULL,
      sha512 VARCHAR(128) NOT NULL,
      content_type VARCHAR(255) NOT NULL,
      attributes TEXT NOT NULL,
      created_at ${t.big} NOT NULL,
      updated_at ${t.big} NOT NULL,
      last_downloaded_at ${t.big},
      expires_at ${t.big},
      upstream_etag VARCHAR(512),
      upstream_last_modified VARCHAR(64),
      CONSTRAINT uq_asset_repository_path UNIQUE (repository, path)
    )`);
    await q.query(`CREATE INDEX ix_asset_sha256 ON asset (sha256)`);
    await q.query(`CREATE TABLE negative_cache (
      repository VARCHAR(128) NOT NULL,
      path VARCHAR(1024) NOT NULL,
      expires_at ${t.big} NOT NULL,
      PRIMARY KEY (repository, path)
    )`);
    await q.query(`CREATE TABLE document (
      repository VARCHAR(128) NOT NULL,
      key VARCHAR(1024) NOT NULL,
      value TEXT NOT NULL,
      revision INTEGER NOT NULL,
      updated_at ${t.big} NOT NULL,
      PRIMARY KEY (repository, key)
    )`);
    await q.query(`CREATE TABLE component (
      repository VARCHAR(128) NOT NULL,
      name VARCHAR(512) NOT NULL,
      version VARCHAR(256) NOT NULL,
      search_text TEXT NOT NULL,
      attributes TEXT NOT NULL,
      updated_at ${t.big} NOT NULL,
      PRIMARY KEY (repository, name, version)
    )`);
    await q.query(`CREATE TABLE registry_user (
      name VARCHAR(128) PRIMARY KEY,
      password_hash VARCHAR(512) NOT NULL,
      roles TEXT NOT NULL,
      email VARCHAR(320),
      created_at ${t.big} NOT NULL,
      password_changed_at ${t.big} NOT NULL
    )`);
    await q.query(`CREATE TABLE token (
      id VARCHAR(64) PRIMARY KEY,
      user_name VARCHAR(128) NOT NULL,
      token_hash VARCHAR(64) NOT NULL,
      prefix VARCHAR(16) NOT NULL,
      read_only ${t.bool} NOT NULL,
      created_at ${t.big} NOT NULL,
      expires_at ${t.big},
      last_used_at ${t.big},
      description VARCHAR(255),
      CONSTRAINT uq_token_hash UNIQUE (token_hash)
    )`);
    await q.query(`CREATE INDEX ix_token_user ON token (user_name)`);
    await q.query(`CREATE TABLE key_value (
      namespace VARCHAR(256) NOT NULL,
      key VARCHAR(1024) NOT NULL,
      value TEXT NOT NULL,
      PRIMARY KEY (namespace, key)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['key_value', 'token', 'registry_user', 'component', 'document', 'negative_cache', 'asset']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}

/** The audit log: who did what, where and when (issue 4). */
export class AuditLog1764000000000 implements MigrationInterface {
  name = 'AuditLog1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const t = dialect(q);
    await q.query(`CREATE TABLE audit_event (
      id ${t.id},
      at ${t.big} NOT NULL,
      action VARCHAR(64) NOT NULL,
      outcome VARCHAR(16) NOT NULL,
      principal VARCHAR(128) NOT NULL,
      repository VARCHAR(128),
      package VARCHAR(512),
      version VARCHAR(256),
      client_address VARCHAR(64),
      details TEXT NOT NULL
    )`);
    await q.query('CREATE INDEX ix_audit_event_at ON audit_event (at)');
    await q.query('CREATE INDEX ix_audit_event_principal ON audit_event (principal, at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE audit_event');
  }
}

/** Token scopes: the repositories and package names a token may change (issue 4). */
export class TokenScopes1764000100000 implements MigrationInterface {
  name = 'TokenScopes1764000100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE token ADD COLUMN scope_repositories TEXT');
    await q.query('ALTER TABLE token ADD COLUMN scope_packages TEXT');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE token DROP COLUMN scope_packages');
    await q.query('ALTER TABLE token DROP COLUMN scope_repositories');
  }
}

/**
 * Pending assets: stored by a publish that has not committed its metadata yet, never served
 * (issue 16). Indexed by age for the sweep of those a crash left behind.
 */
export class PendingAssets1767000000000 implements MigrationInterface {
  name = 'PendingAssets1767000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE asset ADD COLUMN pending VARCHAR(64)');
    await q.query('CREATE INDEX ix_asset_pending ON asset (pending, updated_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX ix_asset_pending');
    await q.query('ALTER TABLE asset DROP COLUMN pending');
  }
}

/**
 * Package owners (issue 17): per repository and package name, the users who may write to
 * it. Names published before have no row: the next write by a user with write permission
 * claims them (see docs/configuration.md, package ownership).
 */
export class PackageOwners1768000000000 implements MigrationInterface {
  name = 'PackageOwners1768000000000';

  async up(q: QueryRunner): Promise<void> {
    const t = dialect(q);
    await q.query(`CREATE TABLE package_owner (
      repository VARCHAR(128) NOT NULL,
      package VARCHAR(512) NOT NULL,
      owners TEXT NOT NULL,
      updated_at ${t.big} NOT NULL,
      PRIMARY KEY (repository, package)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE package_owner');
  }
}

/**
 * Download analytics (issue 24): downloads and bytes sent per repository, UTC day, package,
 * version and cache result, added to by every node (an upsert) and pruned after
 * `analytics.retentionDays`.
 */
export class DownloadCounts1769000000000 implements MigrationInterface {
  name = 'DownloadCounts1769000000000';

  async up(q: QueryRunner): Promise<void> {
    const t = dialect(q);
    await q.query(`CREATE TABLE download_count (
      repository VARCHAR(128) NOT NULL,
      day VARCHAR(10) NOT NULL,
      name VARCHAR(512) NOT NULL,
      version VARCHAR(256) NOT NULL,
      cache VARCHAR(8) NOT NULL,
      format VARCHAR(64) NOT NULL,
      downloads ${t.big} NOT NULL,
      bytes ${t.big} NOT NULL,
      PRIMARY KEY (repository, day, name, version, cache)
    )`);
    await q.query('CREATE INDEX ix_download_count_day ON download_count (day)');
    await q.query('CREATE INDEX ix_download_count_package ON download_count (name, repository, day)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE download_count');
  }
}

/**
 * Disabled users (issue 25): when an administrator disabled a stored user (null: enabled).
 * A disabled user's password logins and tokens are refused; enabling gives them back.
 */
export class UserDisabled1770000000000 implements MigrationInterface {
  name = 'UserDisabled1770000000000';

  async up(q: QueryRunner): Promise<void> {
    const t = dialect(q);
    await q.query(`ALTER TABLE registry_user ADD COLUMN disabled_at ${t.big}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE registry_user DROP COLUMN disabled_at');
  }
}

export const MIGRATIONS = [
  InitialSchema1732406400000,
  AuditLog1764000000000,
  TokenScopes1764000100000,
  PendingAssets1767000000000,
  PackageOwners1768000000000,
  DownloadCounts1769000000000,
  UserDisabled1770000000000,
];
