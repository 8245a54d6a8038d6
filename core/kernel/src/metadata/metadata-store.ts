import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DataSource, LessThan, type QueryRunner, type Repository } from 'typeorm';
import { BadRequestError, ConflictError } from '@registry-core/api';
import type { MetadataConfig } from '../config/types.js';
import { KeyedMutex } from '../engine/keyed-mutex.js';
import {
  ALL_ENTITIES,
  AssetEntity,
  AuditEventEntity,
  type AuditEventRow,
  ComponentEntity,
  DocumentEntity,
  KeyValueEntity,
  NegativeCacheEntity,
  PackageOwnerEntity,
  TokenEntity,
  UserEntity,
  type AssetRow,
  type ComponentRow,
  type DocumentRow,
  type PackageOwnerRow,
  type TokenRow,
  type UserRow,
} from './entities.js';
import { MIGRATIONS } from './migrations.js';

/** How long a content row is served from memory (other nodes' changes show within it). */
const ASSET_ROW_TTL_MS = 10_000;
/** Most content rows kept in memory. */
const ASSET_ROW_CACHE_ENTRIES = 20_000;

/**
 * The metadata store: one typeorm DataSource (SQLite by default, PostgreSQL for several
 * nodes) and the queries the engine needs, so no other module writes SQL.
 */
export class MetadataStore {
  private readonly documentLocks = new KeyedMutex();
  readonly assets: Repository<AssetRow>;
  readonly negatives: Repository<{ repository: string; path: string; expiresAt: number }>;
  readonly documents: Repository<DocumentRow>;
  readonly components: Repository<ComponentRow>;
  readonly users: Repository<UserRow>;
  readonly tokens: Repository<TokenRow>;
  readonly audit: Repository<AuditEventRow>;
  readonly keyValues: Repository<{ namespace: string; key: string; value: string }>;
  readonly ownerRows: Repository<PackageOwnerRow>;

  private constructor(readonly dataSource: DataSource) {
    this.assets = dataSource.getRepository(AssetEntity);
    this.negatives = dataSource.getRepository(NegativeCacheEntity);
    this.documents = dataSource.getRepository(DocumentEntity);
    this.components = dataSource.getRepository(ComponentEntity);
    this.users = dataSource.getRepository(UserEntity);
    this.tokens = dataSource.getRepository(TokenEntity);
    this.audit = dataSource.getRepository(AuditEventEntity);
    this.keyValues = dataSource.getRepository(KeyValueEntity);
    this.ownerRows = dataSource.getRepository(PackageOwnerEntity);
  }

  /** Open the store and run pending migrations (unless `migrate` is false). */
  static async open(config: MetadataConfig, options: { migrate?: boolean; check?: boolean } = {}): Promise<MetadataStore> {
    let dataSource: DataSource;
    if (config.type === 'sqlite') {
      mkdirSync(path.dirname(config.path), { recursive: true });
      dataSource = new DataSource({
        type: 'better-sqlite3',
        database: config.path,
        entities: ALL_ENTITIES,
        migrations: MIGRATIONS,
        migrationsTransactionMode: 'each',
        enableWAL: true,
        timeout: 10_000,
        prepareDatabase: (db: { pragma(s: string): unknown }) => {
          db.pragma('synchronous = NORMAL');
          db.pragma('foreign_keys = ON');
        },
      });
    } else {
      dataSource = new DataSource({
        type: 'postgres',
        url: config.url,
        entities: ALL_ENTITIES,
        migrations: MIGRATIONS,
        migrationsTransactionMode: 'each',
        poolSize: config.poolSize ?? 10,
        ssl: config.ssl as boolean | undefined,
        extra: config.statementTimeoutMs ? { statement_timeout: config.statementTimeoutMs } : undefined,
      });
    }
    await dataSource.initialize();
    if (options.migrate ?? config.migrate ?? true) await dataSource.runMigrations({ transaction: 'each' });
    else if (options.check !== false && (await dataSource.showMigrations())) {
      await dataSource.destroy();
      throw new Error('the metadata store needs migrations: run `registry-core db migrate` (metadata.migrate is false)');
    }
    return new MetadataStore(dataSource);
  }

  /** Run pending migrations; resolves the names of those applied. */
  async migrate(): Promise<string[]> {
    return (await this.dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
  }

  async close(): Promise<void> {
    await this.lockQueue;
    if (this.lockRunner && !this.lockRunner.isReleased) await this.lockRunner.release().catch(() => undefined);
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  // ---- assets

  /**
   * Rows of immutable content, by repository and path, for {@link ASSET_ROW_TTL_MS}: a
   * cached artifact is served without a query. Every change through this store drops its
   * entry; a change made by another node is seen within the TTL.
   */
  private readonly contentRows = new Map<string, { row: AssetRow; until: number }>();
  /**
   * Bumped after every asset write of this store: a row read while a write was under way
   * may be the old one, and is not cached.
   */
  private assetWrites = 0;

  /** Content rows held in memory now (for `/-/stats`). */
  get contentRowCount(): number {
    return this.contentRows.size;
  }

  async findAsset(repository: string, assetPath: string): Promise<AssetRow | null> {
    const key = `${repository}\u0000${assetPath}`;
    const cached = this.contentRows.get(key);
    const now = Date.now();
    if (cached && cached.until > now) return cached.row;
    const writes = this.assetWrites;
    const row = await this.queryAsset(repository, assetPath);
    if (cached) this.contentRows.delete(key);
    if (row && row.kind === 'content' && writes === this.assetWrites) {
      this.dropExpiredRows(Date.now());
      if (this.contentRows.size >= ASSET_ROW_CACHE_ENTRIES) this.contentRows.delete(this.contentRows.keys().next().value!);
      this.contentRows.set(key, { row, until: now + ASSET_ROW_TTL_MS });
    }
    return row;
  }

  /**
   * Forget rows past their TTL: they are never served again, and kept until 20,000 newer ones
   * pushed them out they were memory held for nothing (a publishing load, every new file read
   * once, filled the map in minutes and held it full). Rows are in the order they were kept,
   * so the expired ones are at the front.
   */
  private dropExpiredRows(now: number): void {
    for (const [key, entry] of this.contentRows) {
      if (entry.until > now) break;
      this.contentRows.delete(key);
    }
  }

  /**
   * The hottest query of the registry (every download, and every miss a group asks its
   * members) as plain SQL: typeorm's query builder costs several times the query itself.
   */
  private async queryAsset(repository: string, assetPath: string): Promise<AssetRow | null> {
    const rows = (await this.dataSource.query(
      `SELECT id, repository, path, kind, storage, blob_key, size, md5, sha1, sha256, sha512, content_type, attributes, created_at, updated_at, last_downloaded_at, expires_at, upstream_etag, upstream_last_modified, pending FROM asset WHERE repository = ${this.placeholder(1)} AND path = ${this.placeholder(2)}`,
      [repository, assetPath],
    )) as Record<string, unknown>[];
    const r = rows[0];
    if (!r) return null;
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return {
      id: Number(r['id']),
      repository: r['repository'] as string,
      path: r['path'] as string,
      kind: r['kind'] as string,
      storage: r['storage'] as string,
      blobKey: r['blob_key'] as string,
      size: Number(r['size']),
      md5: r['md5'] as string,
      sha1: r['sha1'] as string,
      sha256: r['sha256'] as string,
      sha512: r['sha512'] as string,
      contentType: r['content_type'] as string,
      attributes: r['attributes'] as string,
      createdAt: Number(r['created_at']),
      updatedAt: Number(r['updated_at']),
      lastDownloadedAt: num(r['last_downloaded_at']),
      expiresAt: num(r['expires_at']),
      upstreamEtag: (r['upstream_etag'] as string | null) ?? null,
      upstreamLastModified: (r['upstream_last_modified'] as string | null) ?? null,
      // Absent when published (the row as written by a caller that knows no pending).
      ...(r['pending'] ? { pending: r['pending'] as string } : {}),
    };
  }

  /** A query parameter in the dialect of the database (`?` for SQLite, `$n` for PostgreSQL). */
  private placeholder(n: number): string {
    return this.dataSource.options.type === 'postgres' ? `$${n}` : '?';
  }

  /** After a write: drop the cached row (and any read racing the write), then notify. */
  private forgetAsset(repository: string, assetPath: string, notify = true): void {
    this.assetWrites++;
    this.contentRows.delete(`${repository}\u0000${assetPath}`);
    if (notify) this.changed(repository, assetPath);
  }

  private readonly changeListeners = new Set<(repository: string, assetPath?: string) => void>();

  /** The last `PRAGMA data_version` (SQLite) or WAL position (PostgreSQL) {@link committedElsewhere} saw. */
  private lastVersion: unknown;
  /** PostgreSQL: a probe under way, and whether one that ended saw a change not reported yet. */
  private probing = false;
  private probedChange = false;

  /**
   * Whether another process (a node, a worker on the same database, the CLI) may have
   * committed changes since the last call; this process's own are told by {@link onChange}.
   * SQLite: `PRAGMA data_version` on the one connection (synchronous, no query of the tables;
   * it moves only for other connections' commits). PostgreSQL: the WAL position
   * (`pg_current_wal_lsn()`) asked in the background; a call reports what the previous
   * probe found (so a change shows one call later), and a failed probe counts as a change.
   * The first call reports a change. Meant to be called at most every few hundred ms.
   * (Workers of this node also tell each other their changes at once: {@link changedElsewhere}.)
   */
  committedElsewhere(): boolean {
    if (this.dataSource.options.type !== 'postgres') {
      const db = (this.dataSource.driver as unknown as { databaseConnection?: { pragma(sql: string, options: { simple: true }): unknown } }).databaseConnection;
      const version = db ? db.pragma('data_version', { simple: true }) : undefined;
      const changed = version === undefined || version !== this.lastVersion;
      this.lastVersion = version;
      return changed;
    }
    const changed = this.probedChange || this.lastVersion === undefined;
    this.probedChange = false;
    if (!this.probing) {
      this.probing = true;
      this.dataSource
        .query('SELECT pg_current_wal_lsn()::text AS lsn')
        .then(
          (rows: Array<{ lsn: string }>) => {
            const lsn = rows[0]?.lsn;
            if (lsn === undefined || lsn !== this.lastVersion) this.probedChange = true;
            this.lastVersion = lsn ?? null;
          },
          () => {
            this.probedChange = true;
          },
        )
        .finally(() => {
          this.probing = false;
        });
    }
    return changed;
  }

  /**
   * Be told when this process changes a repository's assets or documents (a publish, a
   * delete, a newly cached file), e.g. to drop answers built from them; `assetPath` when
   * the change was of one asset. Listeners are called once the change is written, so what
   * they read then is new. Other nodes' changes are not reported; other workers' of this
   * node are, when they are passed to {@link changedElsewhere}.
   */
  onChange(listener: (repository: string, assetPath?: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(repository: string, assetPath?: string): void {
    for (const listener of this.changeListeners) listener(repository, assetPath);
  }

  /**
   * Another process on this database (a worker of `server.workers`) changed `repository`
   * (the asset at `assetPath`, or anything in it): drop what this process would have
   * dropped had it made the change (the cached content rows, and whatever listeners keep).
   */
  changedElsewhere(repository: string, assetPath?: string): void {
    this.assetWrites++;
    if (assetPath !== undefined) this.contentRows.delete(`${repository}\u0000${assetPath}`);
    else for (const [key, entry] of this.contentRows) if (entry.row.repository === repository) this.contentRows.delete(key);
    this.changed(repository, assetPath);
  }

  /**
   * Insert or replace the asset at (repository, path); resolves the previous row, if any.
   * Each statement is atomic on its own (no transaction: typeorm's SQLite driver has one
   * connection, on which concurrent transactions of one process collide); an insert that
   * loses a race with another node's insert of the same path becomes an update.
   */
  async saveAsset(row: Omit<AssetRow, 'id'>): Promise<AssetRow | null> {
    checkLength(row.path, MAX_PATH_CHARS, 'the asset path');
    try {
      for (let attempt = 0; ; attempt++) {
        const previous = await this.queryAsset(row.repository, row.path);
        if (previous) {
          const result = await this.assets.update({ id: previous.id }, { ...row, pending: row.pending ?? null, createdAt: previous.createdAt });
          if (result.affected) return previous;
          // Deleted meanwhile: insert it.
        } else {
          try {
            await this.assets.insert({ ...row, pending: row.pending ?? null });
            return null;
          } catch (error) {
            // Inserted meanwhile by another node: replace that one.
            if (!/unique|duplicate key/i.test((error as Error).message) || attempt >= 5) throw error;
          }
        }
        if (attempt >= 5) throw new ConflictError(`${row.path} changed concurrently; retry`);
      }
    } finally {
      this.forgetAsset(row.repository, row.path);
    }
  }

  /**
   * Record a digest computed later (on demand) on every asset of the same bytes that lacks
   * it: digests belong to the content, so one computation serves them all.
   */
  async fillDigest(storage: string, blobKey: string, algorithm: 'md5' | 'sha1' | 'sha256' | 'sha512', hex: string): Promise<void> {
    await this.assets.update({ storage, blobKey, [algorithm]: '' }, { [algorithm]: hex });
    for (const entry of this.contentRows.values()) if (entry.row.blobKey === blobKey && entry.row.storage === storage && entry.row[algorithm] === '') entry.row[algorithm] = hex;
  }

  async updateAsset(repository: string, assetPath: string, change: Partial<AssetRow>): Promise<void> {
    try {
      await this.assets.update({ repository, path: assetPath }, change);
    } finally {
      // Bookkeeping (last download, expiry): the cached row goes, but nothing served changes.
      this.forgetAsset(repository, assetPath, false);
    }
  }

  async deleteAsset(repository: string, assetPath: string): Promise<AssetRow | null> {
    try {
      const row = await this.queryAsset(repository, assetPath);
      if (row) await this.assets.delete({ id: row.id });
      return row;
    } finally {
      this.forgetAsset(repository, assetPath);
    }
  }

  /**
   * Delete the pending row at (repository, path) if it still carries `token` (nobody
   * replaced or published it meanwhile); resolves the row deleted.
   */
  async deletePendingAsset(repository: string, assetPath: string, token: string): Promise<AssetRow | null> {
    try {
      const row = await this.queryAsset(repository, assetPath);
      if (!row || row.pending !== token) return null;
      const result = await this.assets.delete({ id: row.id, pending: token });
      return result.affected ? row : null;
    } finally {
      this.forgetAsset(repository, assetPath);
    }
  }

  /** Pending rows (of any repository) last written before `before`: publishes a crash cut short. */
  async stalePendingAssets(before: number, limit = 1000): Promise<AssetRow[]> {
    return this.assets
      .createQueryBuilder('a')
      .where('a.pending IS NOT NULL')
      .andWhere('a.updated_at < :before', { before })
      .orderBy('a.updated_at', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Delete one row as read earlier (maintenance), by id. */
  async deleteAssetRow(row: AssetRow): Promise<void> {
    try {
      await this.assets.delete({ id: row.id });
    } finally {
      this.forgetAsset(row.repository, row.path);
    }
  }

  async deleteAssetsByPrefix(repository: string, prefix: string): Promise<AssetRow[]> {
    const rows = await this.assets
      .createQueryBuilder('a')
      .where('a.repository = :repository', { repository })
      .andWhere(`a.path LIKE :pattern ESCAPE '\\'`, { pattern: `${escapeLike(prefix)}%` })
      .getMany();
    const exact = rows.filter((r) => r.path.startsWith(prefix));
    try {
      if (exact.length) await this.assets.delete(exact.map((r) => r.id!));
    } finally {
      for (const r of exact) this.forgetAsset(repository, r.path);
    }
    return exact;
  }

  /**
   * Rows whose path starts with `prefix`, after the path `after`, in byte order of their
   * paths (PostgreSQL compares with the "C" collation so both engines page alike).
   */
  async listAssets(repository: string, prefix: string, after: string | undefined, limit: number): Promise<AssetRow[]> {
    const collate = this.dataSource.options.type === 'postgres' ? ' COLLATE "C"' : '';
    let query = this.assets
      .createQueryBuilder('a')
      .where('a.repository = :repository', { repository })
      // substr, not LIKE: LIKE ignores ASCII case on SQLite, which would break paging.
      .andWhere('substr(a.path, 1, :length) = :prefix', { length: [...prefix].length, prefix })
      // Pending assets (a publish not committed) are not listed.
      .andWhere('a.pending IS NULL');
    if (after !== undefined) query = query.andWhere(`a.path${collate} > :after${collate}`, { after });
    return query.orderBy(`a.path${collate}`, 'ASC').limit(limit).getMany();
  }

  /** True when another asset (any repository) still references the blob. */
  async blobInUse(storage: string, blobKey: string): Promise<boolean> {
    return (await this.assets.countBy({ storage, blobKey })) > 0;
  }

  // ---- negative cache

  async isNegativeCached(repository: string, assetPath: string, now: number): Promise<boolean> {
    const row = await this.negatives.findOneBy({ repository, path: assetPath });
    return !!row && row.expiresAt > now;
  }

  /** Whether the upstream once said it lacks this path, expired or not (for stale answers). */
  async wasNegativeCached(repository: string, assetPath: string): Promise<boolean> {
    return (await this.negatives.countBy({ repository, path: assetPath })) > 0;
  }

  async setNegativeCached(repository: string, assetPath: string, expiresAt: number): Promise<void> {
    checkLength(assetPath, MAX_PATH_CHARS, 'the asset path');
    await this.negatives.upsert({ repository, path: assetPath, expiresAt }, ['repository', 'path']);
  }

  async clearNegativeCached(repository: string, assetPath: string): Promise<void> {
    await this.negatives.delete({ repository, path: assetPath });
  }

  async purgeExpiredNegatives(now: number): Promise<void> {
    await this.negatives.delete({ expiresAt: LessThan(now) });
  }

  // ---- documents

  async getDocument(repository: string, key: string): Promise<DocumentRow | null> {
    const rows = (await this.dataSource.query(
      `SELECT repository, ${this.quote('key')}, value, revision, updated_at FROM document WHERE repository = ${this.placeholder(1)} AND ${this.quote('key')} = ${this.placeholder(2)}`,
      [repository, key],
    )) as Record<string, unknown>[];
    const r = rows[0];
    if (!r) return null;
    return { repository: r['repository'] as string, key: r['key'] as string, value: r['value'] as string, revision: Number(r['revision']), updatedAt: Number(r['updated_at']) };
  }

  private quote(identifier: string): string {
    return `"${identifier}"`;
  }

  /**
   * Read-modify-write of one document, serialised per key. `change` gets the current
   * text and returns the new text, `null` to delete, or `undefined` to keep it.
   */
  async updateDocument(
    repository: string,
    key: string,
    change: (current: DocumentRow | null) => Promise<string | null | undefined>,
    publish: readonly { readonly path: string; readonly token: string }[] = [],
  ): Promise<DocumentRow | null> {
    checkLength(key, MAX_PATH_CHARS, 'the document key');
    // (No NUL in it: PostgreSQL text cannot hold one.)
    const lockKey = `document\n${repository}\n${key}`;
    return this.documentLocks.run(lockKey, () => this.withClusterLock(lockKey, async () => {
      const current = await this.getDocument(repository, key);
      const next = await change(current);
      if (publish.length > 0) return this.commitPublish(repository, key, current, next, publish);
      if (next === undefined) return current;
      if (next === null) {
        if (current) {
          await this.documents.delete({ repository, key });
          this.changed(repository);
        }
        return null;
      }
      const row: DocumentRow = { repository, key, value: next, revision: (current?.revision ?? 0) + 1, updatedAt: Date.now() };
      if (current) {
        const result = await this.documents.update({ repository, key, revision: current.revision }, row);
        if (!result.affected) throw new ConflictError(`${key} changed concurrently; retry`);
      } else {
        try {
          await this.documents.insert(row);
        } catch (error) {
          // Created meanwhile by another process (a second node on SQLite): same as above.
          if (/unique|duplicate key/i.test((error as Error).message)) throw new ConflictError(`${key} changed concurrently; retry`);
          throw error;
        }
      }
      this.changed(repository);
      return row;
    }));
  }

  /**
   * The commit point of a publish: the document's new value (or delete, or none) and the
   * pending assets made visible, in one transaction. A pending asset replaced meanwhile
   * (its token gone) or a document changed by another node is a ConflictError, and
   * nothing is written.
   */
  private async commitPublish(
    repository: string,
    key: string,
    current: DocumentRow | null,
    next: string | null | undefined,
    publish: readonly { readonly path: string; readonly token: string }[],
  ): Promise<DocumentRow | null> {
    const now = Date.now();
    const k = this.quote('key');
    const statements: { sql: string; params: unknown[]; conflict: string }[] = [];
    const changed = `${key} changed concurrently; retry`;
    let result: DocumentRow | null = current;
    if (next === null) {
      if (current) statements.push({ sql: `DELETE FROM document WHERE repository = ? AND ${k} = ? AND revision = ?`, params: [repository, key, current.revision], conflict: changed });
      result = null;
    } else if (next !== undefined) {
      const row: DocumentRow = { repository, key, value: next, revision: (current?.revision ?? 0) + 1, updatedAt: now };
      statements.push(
        current
          ? { sql: `UPDATE document SET value = ?, revision = ?, updated_at = ? WHERE repository = ? AND ${k} = ? AND revision = ?`, params: [row.value, row.revision, now, repository, key, current.revision], conflict: changed }
          : { sql: `INSERT INTO document (repository, ${k}, value, revision, updated_at) VALUES (?, ?, ?, ?, ?)`, params: [repository, key, row.value, row.revision, now], conflict: changed },
      );
      result = row;
    }
    for (const asset of publish) {
      checkLength(asset.path, MAX_PATH_CHARS, 'the asset path');
      statements.push({
        sql: 'UPDATE asset SET pending = NULL, updated_at = ? WHERE repository = ? AND path = ? AND pending = ?',
        params: [now, repository, asset.path, asset.token],
        conflict: `${asset.path} was replaced by another publish; retry`,
      });
    }
    try {
      await this.transaction(statements);
    } finally {
      for (const asset of publish) this.forgetAsset(repository, asset.path, false);
    }
    this.changed(repository);
    return result;
  }

  /**
   * Run statements (`?` placeholders) in one transaction, each of which must change a row
   * (else a ConflictError with its message, and everything is rolled back). SQLite: a
   * synchronous transaction on the one connection, so no other query of this process runs
   * inside it; PostgreSQL: a transaction on a connection of its own.
   */
  private async transaction(statements: readonly { sql: string; params: unknown[]; conflict: string }[]): Promise<void> {
    const unique = (error: unknown) => /unique|duplicate key/i.test((error as Error).message);
    if (this.dataSource.options.type !== 'postgres') {
      const db = (this.dataSource.driver as unknown as { databaseConnection: { prepare(sql: string): { run(...params: unknown[]): { changes: number } }; transaction(fn: () => void): () => void } }).databaseConnection;
      db.transaction(() => {
        for (const statement of statements) {
          let changes: number;
          try {
            changes = db.prepare(statement.sql).run(...statement.params).changes;
          } catch (error) {
            if (unique(error)) throw new ConflictError(statement.conflict);
            throw error;
          }
          if (changes === 0) throw new ConflictError(statement.conflict);
        }
      })();
      return;
    }
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      await runner.startTransaction();
      try {
        for (const statement of statements) {
          let n = 0;
          const sql = statement.sql.replace(/\?/g, () => `$${++n}`);
          let affected: number | undefined;
          try {
            affected = ((await runner.query(sql, statement.params, true)) as { affected?: number }).affected;
          } catch (error) {
            if (unique(error)) throw new ConflictError(statement.conflict);
            throw error;
          }
          if (!affected) throw new ConflictError(statement.conflict);
        }
        await runner.commitTransaction();
      } catch (error) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    } finally {
      await runner.release();
    }
  }

  /** The lock every process on this SQLite database respects (the primary's, with `server.workers`). */
  private processLocks: ((key: string) => Promise<() => Promise<void>>) | undefined;

  /**
   * Take cluster locks from `acquire` on SQLite (workers of one node share the database
   * file, and SQLite has no advisory locks); PostgreSQL keeps its advisory locks.
   */
  useProcessLocks(acquire: (key: string) => Promise<() => Promise<void>>): void {
    this.processLocks = acquire;
  }

  /** The connection holding this node's advisory locks (PostgreSQL), opened on first use. */
  private lockRunner: QueryRunner | undefined;
  private lockQueue: Promise<unknown> = Promise.resolve();

  /**
   * Run `work` while holding a lock every node on this database respects (see
   * {@link acquireClusterLock}).
   */
  async withClusterLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const release = await this.acquireClusterLock(key);
    try {
      return await work();
    } finally {
      await release();
    }
  }

  /**
   * Take a lock every node on this database respects, resolving its release. PostgreSQL:
   * a session advisory lock on the key's hash, all taken with `pg_try_advisory_lock` on
   * one connection of their own (polled, so a wait never holds a pooled connection, and a
   * node that dies releases its locks with its connection). SQLite has one node: with one
   * process the caller's in-process locks are enough, and this resolves at once; with
   * several workers it is the primary's named lock ({@link useProcessLocks}). Callers must
   * not take one key twice in one process (in-process locks come first).
   */
  async acquireClusterLock(key: string): Promise<() => Promise<void>> {
    if (this.dataSource.options.type !== 'postgres') return this.processLocks ? this.processLocks(key) : async () => undefined;
    const query = async (sql: string): Promise<boolean> => {
      // One statement at a time on the lock connection.
      const run = this.lockQueue.then(async () => {
        if (!this.lockRunner || this.lockRunner.isReleased) {
          this.lockRunner = this.dataSource.createQueryRunner();
          await this.lockRunner.connect();
        }
        const rows = (await this.lockRunner.query(sql, [key])) as { ok: boolean }[];
        return rows[0]?.ok === true;
      });
      this.lockQueue = run.catch(() => undefined);
      return run;
    };
    for (let attempt = 0; !(await query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok')); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 10 * 2 ** Math.min(attempt, 4))));
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await query('SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS ok').catch(() => undefined);
    };
  }


  /** Documents of any repository whose key starts with `prefix`, unchanged since `updatedBefore`. */
  async staleDocuments(prefix: string, updatedBefore: number, limit = 1000): Promise<{ repository: string; key: string }[]> {
    const rows = await this.documents
      .createQueryBuilder('d')
      .select(['d.repository', 'd.key'])
      .where(`d.key LIKE :pattern ESCAPE '\\'`, { pattern: `${escapeLike(prefix)}%` })
      .andWhere('d.updatedAt < :before', { before: updatedBefore })
      .limit(limit)
      .getMany();
    return rows.filter((r) => r.key.startsWith(prefix)).map((r) => ({ repository: r.repository, key: r.key }));
  }

  async deleteDocument(repository: string, key: string): Promise<boolean> {
    const result = await this.documents.delete({ repository, key });
    const deleted = (result.affected ?? 0) > 0;
    if (deleted) this.changed(repository);
    return deleted;
  }

  // ---- components

  async upsertComponent(row: ComponentRow): Promise<void> {
    await this.components.upsert(row, ['repository', 'name', 'version']);
  }

  async removeComponents(repository: string, name: string, version?: string): Promise<number> {
    const result = await this.components.delete(version === undefined ? { repository, name } : { repository, name, version });
    return result.affected ?? 0;
  }

  componentVersions(repository: string, name: string): Promise<ComponentRow[]> {
    return this.components.find({ where: { repository, name }, order: { updatedAt: 'ASC' } });
  }

  /**
   * Names matching `text` (newest row per name), paged. Grouping by name keeps one hit
   * per package whatever its number of versions.
   */
  async searchComponents(repository: string, text: string, offset: number, limit: number) {
    const pattern = `%${escapeLike(text.toLowerCase())}%`;
    const base = this.components
      .createQueryBuilder('c')
      .where('c.repository = :repository', { repository })
      .andWhere(`c.search_text LIKE :pattern ESCAPE '\\'`, { pattern });
    const totalRow = await base.clone().select('COUNT(DISTINCT c.name)', 'total').getRawOne<{ total: string | number }>();
    const names = await base
      .clone()
      .select('c.name', 'name')
      .addSelect('MAX(c.updated_at)', 'updated')
      .groupBy('c.name')
      .orderBy('c.name', 'ASC')
      .offset(offset)
      .limit(limit)
      .getRawMany<{ name: string }>();
    const rows: ComponentRow[] = [];
    for (const { name } of names) {
      const versions = await this.components.find({ where: { repository, name }, order: { updatedAt: 'DESC' }, take: 1 });
      if (versions[0]) rows.push(versions[0]);
    }
    return { total: Number(totalRow?.total ?? 0), rows };
  }

  /** Per repository: bytes and files stored (published assets), and package names in the component index. */
  async repositoryTotals(): Promise<Map<string, { bytes: number; files: number; packages: number }>> {
    const totals = new Map<string, { bytes: number; files: number; packages: number }>();
    const at = (name: string) => totals.get(name) ?? (totals.set(name, { bytes: 0, files: 0, packages: 0 }), totals.get(name)!);
    const assets = await this.assets
      .createQueryBuilder('a')
      .select('a.repository', 'repository')
      .addSelect('SUM(a.size)', 'bytes')
      .addSelect('COUNT(*)', 'files')
      .where('a.pending IS NULL')
      .groupBy('a.repository')
      .getRawMany<{ repository: string; bytes: string | number; files: string | number }>();
    for (const row of assets) Object.assign(at(row.repository), { bytes: Number(row.bytes ?? 0), files: Number(row.files) });
    const components = await this.components
      .createQueryBuilder('c')
      .select('c.repository', 'repository')
      .addSelect('COUNT(DISTINCT c.name)', 'packages')
      .groupBy('c.repository')
      .getRawMany<{ repository: string; packages: string | number }>();
    for (const row of components) at(row.repository).packages = Number(row.packages);
    return totals;
  }

  // ---- package owners

  /** The owners of a package (user names in the order added); `undefined`: no row (nobody claimed it). */
  async packageOwners(repository: string, packageName: string): Promise<string[] | undefined> {
    const row = await this.ownerRows.findOneBy({ repository, package: packageName });
    return row ? (JSON.parse(row.owners) as string[]) : undefined;
  }

  /**
   * Claim an unowned package for `owner`: true when this call created its owners row, false
   * when it has one already (one insert: of concurrent claims on any node, one wins).
   */
  async claimPackage(repository: string, packageName: string, owner: string): Promise<boolean> {
    checkLength(packageName, 512, 'the package name');
    try {
      await this.ownerRows.insert({ repository, package: packageName, owners: JSON.stringify([owner]), updatedAt: Date.now() });
    } catch (error) {
      if (/unique|duplicate key/i.test((error as Error).message)) return false;
      throw error;
    }
    this.changed(repository);
    return true;
  }

  /**
   * Read-modify-write of a package's owners, serialised per name (across nodes too):
   * `change` gets the current list (`undefined`: no row) and returns the new one, or
   * `undefined` to delete the row. Resolves the list stored.
   */
  async changePackageOwners(repository: string, packageName: string, change: (current: string[] | undefined) => string[] | undefined): Promise<string[] | undefined> {
    checkLength(packageName, 512, 'the package name');
    const lockKey = `owners\n${repository}\n${packageName}`;
    return this.documentLocks.run(lockKey, () => this.withClusterLock(lockKey, async () => {
      const current = await this.packageOwners(repository, packageName);
      const next = change(current === undefined ? undefined : [...current]);
      if (next === undefined) {
        if (current !== undefined) await this.ownerRows.delete({ repository, package: packageName });
      } else {
        await this.ownerRows.upsert({ repository, package: packageName, owners: JSON.stringify(next), updatedAt: Date.now() }, ['repository', 'package']);
      }
      this.changed(repository);
      return next;
    }));
  }

  // ---- key-value

  async getValue(namespace: string, key: string): Promise<string | undefined> {
    return (await this.keyValues.findOneBy({ namespace, key }))?.value;
  }

  async setValue(namespace: string, key: string, value: string): Promise<void> {
    checkLength(key, MAX_PATH_CHARS, 'the key');
    await this.keyValues.upsert({ namespace, key, value }, ['namespace', 'key']);
  }

  async deleteValue(namespace: string, key: string): Promise<boolean> {
    return ((await this.keyValues.delete({ namespace, key })).affected ?? 0) > 0;
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The longest text a key column holds (characters, as PostgreSQL counts them). SQLite does
 * not enforce column lengths, so the store does, and both engines refuse alike (and NUL,
 * which only SQLite could store).
 */
export const MAX_PATH_CHARS = 1024;

function checkLength(value: string, max: number, what: string): void {
  // Code points, as PostgreSQL's varchar counts; the UTF-16 length is never smaller.
  if (value.length > max && [...value].length > max) throw new BadRequestError(`${what} is longer than ${max} characters`);
  // PostgreSQL text cannot hold NUL; SQLite can: refused on both.
  if (value.includes('\0')) throw new BadRequestError(`${what} contains a NUL character`);
}
