import { BadRequestError, NotFoundError, assetResponse, type FormatRequestContext, type FormatResponse, type ProxyRepositoryHandle } from '@registry-core/api';
import { decodeModulePath, escapeCase, versionProblem } from './module-path.js';
import { sumCheckConfig } from './sumcheck.js';

/**
 * The checksum database proxied under `sumdb/<name>/` (https://go.dev/ref/mod#checksum-database):
 * the go command asks `<GOPROXY>/sumdb/<name>/supported` and, on a 200, reads `lookup/` and
 * `tile/` through the proxy instead of the database's own host. Nothing here is trusted: the go
 * command checks every answer against the database's signed tree heads and its public key,
 * so a proxy passes the bytes on and caches them (tiles for good, as their paths fix their
 * content; `supported`, `latest` and lookups, which carry the current tree head, as metadata).
 * An upstream that fails is a 502, never a 404: a 404 would send the go command around the
 * registry, a failure must stop it (fail closed).
 */

/** The largest sumdb answer taken from an upstream (a data tile of 256 records is far below). */
const MAX_SUMDB_BYTES = 4 * 1024 * 1024;

/** A checksum database's name: a host name (`sum.golang.org`). */
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
/** tlog tile paths: `tile/<H>/<L or data>/[x<NNN>/...]<NNN>[.p/<W>]`. */
const TILE = /^tile\/([1-9]|[1-2]\d|30)\/(data|\d{1,2})\/(x\d{3}\/){0,6}\d{3}(\.p\/([1-9]\d{0,2}))?$/;

/** What a `sumdb/<name>/<rest>` path asks for, checked; its asset kind. */
export function parseSumdbRequest(rawPath: string): { name: string; rest: string; kind: 'metadata' | 'content' } {
  const m = /^\/sumdb\/([^/]+)\/(.+)$/.exec(rawPath);
  if (!m) throw new NotFoundError('not a checksum database path: sumdb/<name>/supported, latest, lookup/<module>@<version> or tile/...');
  const [, name, rest] = m as unknown as [string, string, string];
  if (!NAME.test(name) || name.length > 253) throw new BadRequestError(`invalid checksum database name ${JSON.stringify(name.slice(0, 100))}`);
  if (rest === 'supported' || rest === 'latest') return { name, rest, kind: 'metadata' };
  if (rest.startsWith('lookup/')) {
    const key = rest.slice('lookup/'.length);
    const at = key.lastIndexOf('@');
    if (at <= 0) throw new BadRequestError('a lookup names <module>@<version>');
    const module = decodeModulePath(percentDecoded(key.slice(0, at)));
    const version = percentDecoded(key.slice(at + 1));
    // The version is case-encoded as module paths are.
    const problem = /[A-Z]/.test(version) ? 'upper-case letters must be written !x' : versionProblem(module, version.replace(/!([a-z])/g, (_m, c: string) => c.toUpperCase()));
    if (problem) throw new BadRequestError(`invalid lookup ${JSON.stringify(key.slice(0, 200))}: ${problem}`);
    // One cache entry however the go command percent-encodes it (it writes `!` as %21).
    return { name, rest: `lookup/${escapeCase(module)}@${version}`, kind: 'metadata' };
  }
  if (TILE.test(rest)) {
    const width = /\.p\/(\d+)$/.exec(rest);
    if (width && Number(width[1]) >= 256) throw new BadRequestError('a partial tile is narrower than 256');
    return { name, rest, kind: 'content' };
  }
  throw new NotFoundError(`not a checksum database path: ${rest.slice(0, 100)}`);
}

function percentDecoded(text: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw new BadRequestError('bad percent-encoding');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\\%\u0000-\u001f\u007f]/.test(decoded)) throw new BadRequestError('invalid characters in a checksum database path');
  return decoded;
}

/**
 * `GET sumdb/<name>/...`: passed to the proxy's upstream (its own `sumdb/` paths) and cached;
 * the database the repository checks against (`sumdb.name`), when `sumdb.url` gives its own
 * URL, is read from there (and `supported` answered here), sharing the check's cache.
 */
export async function sumdb(ctx: FormatRequestContext, repo: ProxyRepositoryHandle): Promise<FormatResponse> {
  const { name, rest, kind } = parseSumdbRequest(ctx.path);
  const checked = sumCheckConfig(repo);
  const own = checked?.url !== undefined && checked.name === name ? checked.url : undefined;
  if (own && rest === 'supported') return { body: { kind: 'text', value: '', contentType: 'text/plain; charset=utf-8' } };
  const path = `sumdb/${name}/${rest}`;
  const result = await repo.upstream.fetch({ path, ...(own ? { upstreamUrl: `${own}${rest}` } : {}), kind, contentType: 'text/plain; charset=utf-8', maxBytes: MAX_SUMDB_BYTES });
  if (!result.found) throw new NotFoundError(`the upstream proxies no ${path}`);
  return assetResponse(result.asset, { cache: result.cache });
}
