import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BadRequestError, UpstreamError, isRegistryError, isUpstreamRefusal, type Asset, type Logger, type ProxyRepositoryHandle, type RepositoryInfo } from '@registry-core/api';
import { escapeCase } from './module-path.js';
import { hashZipFile } from './module-zip.js';
import { SUM_GOLANG_ORG_KEY, SumdbVerificationError, checkConsistency, parseVerifierKey, tilePath, verifyLookup, type Tile, type Tree, type VerifierKey } from './tlog.js';

/**
 * A proxy repository checks what it takes from its upstream (a version's `.zip` and `.mod`)
 * against the checksum database before keeping and serving it, as the go command checks a
 * download against go.sum and the database: the record's `h1:` must be the file's, the
 * record must be in the tree signed by the configured key. Keys of the repository block:
 *
 *   sumdb: false | { name, key, url }   (default: sum.golang.org and its published key,
 *          read through the upstream's `sumdb/<name>/` as the go command does)
 *   noSumCheck: [globs]                 (GONOSUMDB-style module path prefixes not checked)
 *   sumdbUnreachable: serve | refuse    (default serve: "checked when the database is reachable")
 */

export interface SumCheckConfig {
  readonly name: string;
  readonly key: VerifierKey;
  /** The database's own URL (trailing slash); absent: `sumdb/<name>/` on the upstream. */
  readonly url?: string;
  readonly noSumCheck: readonly RegExp[];
  readonly unreachable: 'serve' | 'refuse';
}

const parsed = new WeakMap<object, SumCheckConfig | null>();

/** One GONOSUMDB glob (path.Match syntax over path elements) as a regular expression matching a module path prefix. */
export function prefixPattern(glob: string): RegExp {
  const trimmed = glob.replace(/\/+$/, '');
  if (trimmed === '' || /[\\]/.test(trimmed)) throw new BadRequestError(`noSumCheck: invalid pattern ${JSON.stringify(glob)}`);
  let source = '';
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = trimmed.indexOf(']', i + 2);
      const body = end < 0 ? '' : trimmed.slice(i + 1, end);
      if (end < 0 || !/^\^?[^\]/[]+$/.test(body)) throw new BadRequestError(`noSumCheck: invalid character class in ${JSON.stringify(glob)}`);
      source += `[${body.replace(/^\^/, '^/').replace(/[\\]/g, '\\$&')}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${source}(/|$)`);
}

/** A proxy's checksum database settings, `undefined` when checking is off (`sumdb: false`); only proxies take the keys. */
export function sumCheckConfig(repo: { readonly config: Readonly<Record<string, unknown>> }): SumCheckConfig | undefined {
  const cached = parsed.get(repo.config);
  if (cached !== undefined) return cached ?? undefined;
  const raw = repo.config['sumdb'];
  let result: SumCheckConfig | null = null;
  if (raw !== false) {
    const block = (typeof raw === 'object' && raw !== null ? raw : {}) as { name?: string; key?: string; url?: string };
    let key: VerifierKey;
    try {
      key = parseVerifierKey(block.key ?? SUM_GOLANG_ORG_KEY);
    } catch (error) {
      throw new BadRequestError(`sumdb.key: ${(error as Error).message}`);
    }
    const name = block.name ?? key.name;
    if (name !== key.name) throw new BadRequestError(`sumdb.name: ${name} is not the name in sumdb.key (${key.name})`);
    let url: string | undefined;
    if (block.url !== undefined) {
      const u = URL.canParse(block.url) ? new URL(block.url) : undefined;
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash) throw new BadRequestError('sumdb.url: an http(s) URL without credentials, query or fragment');
      url = u.href.endsWith('/') ? u.href : `${u.href}/`;
    }
    const globs = repo.config['noSumCheck'];
    const unreachable = repo.config['sumdbUnreachable'];
    result = {
      name,
      key,
      ...(url ? { url } : {}),
      noSumCheck: (Array.isArray(globs) ? (globs as string[]) : []).map(prefixPattern),
      unreachable: unreachable === 'refuse' ? 'refuse' : 'serve',
    };
  }
  parsed.set(repo.config, result);
  return result ?? undefined;
}

/** Start-time check of the keys (FormatDefinition.validateRepository). */
export function validateSumCheck(repo: RepositoryInfo): void {
  const config = sumCheckConfig(repo);
  // A database on another origin must be one the proxy may ask (else every check would fail).
  const upstream = repo.config['upstream'];
  const allowed = (repo.config['cache'] as { allowedOrigins?: unknown } | undefined)?.allowedOrigins;
  if (config?.url && typeof upstream === 'string' && URL.canParse(upstream) && new URL(config.url).origin !== new URL(upstream).origin) {
    if (!(Array.isArray(allowed) && allowed.includes(new URL(config.url).origin))) throw new BadRequestError(`sumdb.url: its origin ${new URL(config.url).origin} must be in cache.allowedOrigins`);
  }
}

/** The settings that apply to `module`: `undefined` when not checked (off, or a `noSumCheck` prefix). */
export function sumCheckFor(repo: ProxyRepositoryHandle, module: string): SumCheckConfig | undefined {
  const config = sumCheckConfig(repo);
  return config && !config.noSumCheck.some((p) => p.test(module)) ? config : undefined;
}

/** Asset paths of the database's answers: those of the `sumdb/<name>/` passthrough, so both share one cache. */
const dbPath = (config: SumCheckConfig, rest: string) => `sumdb/${config.name}/${rest}`;
const dbFetch = (config: SumCheckConfig, rest: string) => ({ path: dbPath(config, rest), ...(config.url ? { upstreamUrl: `${config.url}${rest}` } : {}) });

const MAX_LOOKUP_BYTES = 64 * 1024;

/** The database could not be asked (down, failing, not proxied by the upstream). */
class Unreachable extends Error {}

/** A failure of the upstream or the network, as opposed to an answer. */
const isFetchFailure = (error: unknown) => isRegistryError(error) && !isUpstreamRefusal(error) && (error.status === 502 || error.status === 503 || error.status === 504);

async function lookup(repo: ProxyRepositoryHandle, config: SumCheckConfig, module: string, version: string): Promise<string> {
  const rest = `lookup/${escapeCase(module)}@${escapeCase(version)}`;
  let result;
  try {
    result = await repo.upstream.fetch({ ...dbFetch(config, rest), kind: 'metadata', contentType: 'text/plain; charset=utf-8', maxBytes: MAX_LOOKUP_BYTES });
  } catch (error) {
    if (isFetchFailure(error)) throw new Unreachable(`the checksum database ${config.name} cannot be asked: ${(error as Error).message}`);
    throw error;
  }
  if (result.found) return (await result.asset.read(MAX_LOOKUP_BYTES)).toString('utf8');
  if (!config.url) {
    // Through the upstream: a 404 for `supported` means it proxies no such database.
    const supported = await repo.upstream.fetch({ path: dbPath(config, 'supported'), kind: 'metadata', maxBytes: 1024 }).catch((error: unknown) => {
      if (isFetchFailure(error)) throw new Unreachable(`the checksum database ${config.name} cannot be asked: ${(error as Error).message}`);
      throw error;
    });
    if (!supported.found) throw new Unreachable(`the upstream does not proxy the checksum database ${config.name}`);
  }
  throw new SumdbVerificationError(`${module}@${version} is not in the checksum database ${config.name} (a private module belongs in the repository's noSumCheck)`);
}

/** Tiles through the cache (kept for good); a partial tile no longer served is cut from the full one, as the go command does. */
function tileReader(repo: ProxyRepositoryHandle, config: SumCheckConfig): (tile: Tile) => Promise<Buffer> {
  const read = async (tile: Tile) => {
    const result = await repo.upstream.fetch({ ...dbFetch(config, tilePath(tile)), kind: 'content', maxBytes: 256 * 32 });
    return result.found ? result.asset.read(256 * 32) : undefined;
  };
  return async (tile) => {
    try {
      const bytes = (await read(tile)) ?? (tile.width < 256 ? (await read({ ...tile, width: 256 }))?.subarray(0, tile.width * 32) : undefined);
      if (!bytes) throw new SumdbVerificationError(`the checksum database has no ${tilePath(tile)}`);
      return bytes;
    } catch (error) {
      if (isFetchFailure(error)) throw new Unreachable(`the checksum database ${config.name} cannot be asked: ${(error as Error).message}`);
      throw error;
    }
  };
}

/**
 * The `h1:` of a module zip asset, as the go command hashes a download (dirhash.HashZip: every
 * entry, nothing else checked; the go command checks the zip's rules itself when it extracts
 * it): the zip is copied to a temporary file, which a zip reader needs.
 */
export async function zipHash(asset: Asset, module: string, version: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rc-go-sum-'));
  try {
    const file = path.join(dir, 'module.zip');
    await pipeline(await asset.open(), createWriteStream(file));
    return await hashZipFile(file);
  } catch (error) {
    if (isRegistryError(error) && error.status < 500) throw new UpstreamError(`the upstream's zip of ${module}@${version} cannot be hashed: ${error.message}`);
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Keep the largest tree head verified so far (per database, in the repository's key-value
 * store), as the go command keeps its latest: every other tree seen must be consistent with
 * it, so the database cannot show this registry one history and its clients another
 * without being caught. Costs the tiles of the newer tree, read through the cache.
 */
async function checkAgainstLatest(repo: ProxyRepositoryHandle, config: SumCheckConfig, tree: Tree): Promise<void> {
  const key = `sumdb-latest:${config.name}`;
  const stored = await repo.kv.get<{ n: number; hash: string }>(key);
  const latest = stored && { n: stored.n, hash: Buffer.from(stored.hash, 'base64') };
  if (latest && latest.n === tree.n && latest.hash.equals(tree.hash)) return;
  if (latest) await checkConsistency(latest, tree, tileReader(repo, config));
  if (!latest || tree.n > latest.n) await repo.kv.set(key, { n: tree.n, hash: tree.hash.toString('base64') });
}

/** kv key of the mark that a cached file (by its sha256) matched the database. */
const markKey = (assetPath: string) => `sumchecked:${assetPath}`;

/**
 * Check a file taken from the upstream against the checksum database. Resolves when it may
 * be served; on a mismatch, a record that does not verify, or (with `sumdbUnreachable:
 * refuse`) a database that cannot be asked, the cached file is deleted and a 502 thrown.
 * A file that matched is marked, so a cache hit costs one key-value read; one served
 * unchecked (database unreachable) is checked again on its next request.
 */
export async function checkUpstreamFile(
  repo: ProxyRepositoryHandle,
  logger: Logger,
  request: { module: string; version: string; kind: 'zip' | 'mod'; asset: Asset; h1: () => Promise<string> },
): Promise<void> {
  const { module, version, kind, asset } = request;
  const config = sumCheckFor(repo, module);
  if (!config) return;
  const sha256 = await asset.digest('sha256');
  if ((await repo.kv.get<string>(markKey(asset.path))) === sha256) return;
  // Clients asking for the same file at once share one check (and one hashing of the zip).
  const key = `${repo.name}\u0000${asset.path}\u0000${sha256}`;
  let running = checking.get(key);
  if (!running) {
    running = verifyFile(repo, logger, config, request, sha256).finally(() => checking.delete(key));
    checking.set(key, running);
  }
  return running;
}

/** Checks under way in this process, by repository, path and content. */
const checking = new Map<string, Promise<void>>();

async function verifyFile(
  repo: ProxyRepositoryHandle,
  logger: Logger,
  config: SumCheckConfig,
  request: { module: string; version: string; kind: 'zip' | 'mod'; asset: Asset; h1: () => Promise<string> },
  sha256: string,
): Promise<void> {
  const { module, version, kind, asset } = request;
  const what = `${module}@${version}${kind === 'mod' ? '/go.mod' : ''}`;
  const refuse = async (why: string, cause?: unknown): Promise<never> => {
    await repo.assets.delete(asset.path).catch(() => undefined);
    logger.error(`go proxy: refused ${what} from the upstream: ${why}`, { repository: repo.name, module, version });
    throw new UpstreamError(`refused ${what}: ${why}`, { cause });
  };
  let expected: string | undefined;
  try {
    const body = await lookup(repo, config, module, version);
    const sums = await verifyLookup(body, module, version, config.key, tileReader(repo, config));
    await checkAgainstLatest(repo, config, sums.tree);
    expected = kind === 'zip' ? sums.zip : sums.mod;
    if (!expected) throw new SumdbVerificationError(`the checksum database's record of ${module}@${version} has no ${kind === 'zip' ? 'zip' : 'go.mod'} hash`);
  } catch (error) {
    if (error instanceof Unreachable) {
      if (config.unreachable === 'refuse') return refuse(`${error.message} (sumdbUnreachable: refuse)`);
      logger.warn(`go proxy: serving ${what} unchecked: ${error.message}`, { repository: repo.name, module, version });
      return;
    }
    if (error instanceof SumdbVerificationError) return refuse(error.message, error);
    throw error;
  }
  let actual: string;
  try {
    actual = await request.h1();
  } catch (error) {
    return refuse((error as Error).message, error);
  }
  if (actual !== expected) return refuse(`its hash ${actual} is not the checksum database's ${expected} (${config.name})`);
  await repo.kv.set(markKey(asset.path), sha256);
}
