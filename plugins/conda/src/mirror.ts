// The mirror job: conda packages from anywhere on the web (package URLs, or every package of an
// upstream channel's subdirs that matches some specs) into a repository of a running
// registry-core, over HTTP. Each file is downloaded to a temporary file while it is hashed,
// checked against the source's repodata (or the hash the URL carries), then uploaded from
// that file through the repository's upload API, which checks it again like any upload.
import { createHash } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseMatchSpec } from './match-spec.js';
import { isValidSubdir, tryParsePackageFilename } from './names.js';
import { postPackage } from './upload-client.js';

export interface MirrorOptions {
  /** The target repository's URL, with a trailing slash. */
  readonly repositoryUrl: string;
  /** `Authorization` for the target (never sent to a source). */
  readonly authorization?: string;
  /** Package URLs, each optionally with `#sha256=<hex>`, `#md5=<hex>` or a bare `#<hex>`. */
  readonly urls?: readonly string[];
  /** An upstream channel URL, its `subdirs` and `specs`: every package of those subdirs matching a spec. */
  readonly channel?: string;
  readonly subdirs?: readonly string[];
  readonly specs?: readonly string[];
  /** Files in flight at once (default 5). */
  readonly concurrency?: number;
  /** Retries after a failed attempt (network error, timeout, 5xx, 408, 429), with exponential backoff (default 3). */
  readonly retries?: number;
  /** First backoff delay, doubled after each retry (default 1000 ms). */
  readonly backoffMs?: number;
  /** Limit of one download (or upload) attempt (default 300 000 ms). */
  readonly timeoutMs?: number;
  /** Where temporary files go (default the OS's). */
  readonly tempDir?: string;
  /** Called whenever a file is done (mirrored, skipped or failed) and as bytes arrive. */
  onProgress?(progress: MirrorProgress): void;
}

export interface MirrorProgress {
  readonly total: number;
  readonly done: number;
  readonly mirrored: number;
  readonly skipped: number;
  readonly failed: number;
  readonly bytes: number;
  readonly current?: string;
}

export interface MirrorFailure {
  /** The package URL (or the spec that matched nothing, or the line that is no package URL). */
  readonly source: string;
  readonly reason: string;
  readonly attempts: number;
}

export interface MirrorSummary {
  /** Files selected (after duplicates are dropped), plus specs that matched nothing and lines that are no package URL: mirrored + skipped + failed. */
  readonly total: number;
  /** Downloaded, verified and uploaded now. */
  readonly mirrored: number;
  /** Already in the target with the same sha256 (a run resumed after a stop). */
  readonly skipped: number;
  readonly failed: number;
  /** Bytes downloaded and uploaded for the mirrored files. */
  readonly bytes: number;
  /** Attempts that failed and were retried, over all files. */
  readonly retried: number;
  readonly failures: readonly MirrorFailure[];
}

/** One file to mirror. */
interface Item {
  readonly url: string;
  readonly subdir: string;
  readonly filename: string;
  readonly sha256?: string;
  readonly md5?: string;
  readonly size?: number;
  /** Where the expected digests come from, for messages. */
  readonly checkedAgainst: string;
}

type SourceRecord = { readonly sha256?: unknown; readonly md5?: unknown; readonly size?: unknown; readonly name?: unknown; readonly version?: unknown; readonly build?: unknown };
interface SourceRepodata {
  readonly info?: { readonly base_url?: unknown };
  readonly packages?: Readonly<Record<string, SourceRecord>>;
  readonly 'packages.conda'?: Readonly<Record<string, SourceRecord>>;
  readonly removed?: readonly unknown[];
}

/** A failure that another attempt would not change (a 404, a digest mismatch, a refused upload). */
class Permanent extends Error {}

const hex = (value: unknown, length: number) => (typeof value === 'string' && new RegExp(`^[0-9a-f]{${length}}$`).test(value) ? value : undefined);

/** The digests a source record gives, checked for shape (a source is not trusted to be well-formed). */
function digestsOf(record: SourceRecord): { sha256?: string; md5?: string; size?: number } {
  const sha256 = hex(record.sha256, 64);
  const md5 = hex(record.md5, 32);
  const size = typeof record.size === 'number' && Number.isSafeInteger(record.size) && record.size >= 0 ? record.size : undefined;
  return { ...(sha256 ? { sha256 } : {}), ...(md5 ? { md5 } : {}), ...(size !== undefined ? { size } : {}) };
}

function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `work` with up to `retries` more attempts after failures that are not {@link Permanent},
 * waiting `backoffMs`, then twice that, and so on. Resolves the result and the attempts made;
 * rejects with the last error, its `attempts` set.
 */
async function withRetries<T>(retries: number, backoffMs: number, onRetry: () => void, work: () => Promise<T>): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await work(), attempts: attempt };
    } catch (error) {
      if (error instanceof Permanent || attempt > retries) throw Object.assign(error as Error, { attempts: attempt });
      onRetry();
      await sleep(backoffMs * 2 ** (attempt - 1));
    }
  }
}

/** `fetch` that gives up after `timeoutMs` (also while the body is read: the signal stays armed until `done`). */
async function timedFetch(url: string, timeoutMs: number, init: RequestInit = {}): Promise<{ response: Response; done: () => void }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    const response = await fetch(url, { ...init, signal: controller.signal });
    return { response, done: () => clearTimeout(timer) };
  } catch (error) {
    clearTimeout(timer);
    throw controller.signal.aborted ? (controller.signal.reason as Error) : error;
  }
}

async function fetchJson<T>(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<T | undefined> {
  const { response, done } = await timedFetch(url, timeoutMs, { headers: { accept: 'application/json', ...headers } });
  try {
    if (response.status === 404) return undefined;
    if (!response.ok) {
      const message = `${url}: ${response.status} ${response.statusText}`;
      throw retryable(response.status) ? new Error(message) : new Permanent(message);
    }
    return (await response.json()) as T;
  } finally {
    done();
  }
}

/** A package URL's parts: where to fetch it, its subdir and file name (checked by conda's rules), and the hash after `#`. */
function parsePackageUrl(line: string): Item {
  let url: URL;
  try {
    url = new URL(line);
  } catch {
    throw new Permanent('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Permanent('not an http(s) URL');
  const fragment = url.hash.slice(1);
  url.hash = '';
  const segments = url.pathname.split('/');
  const filename = decodeURIComponent(segments.at(-1) ?? '');
  const subdir = decodeURIComponent(segments.at(-2) ?? '');
  if (!tryParsePackageFilename(filename)) throw new Permanent(`${JSON.stringify(filename)} is not a conda package file name (<name>-<version>-<build>.conda or .tar.bz2)`);
  if (!isValidSubdir(subdir)) throw new Permanent(`${JSON.stringify(subdir)} (the folder the file is in) is not a conda subdir`);
  const item: { url: string; subdir: string; filename: string; sha256?: string; md5?: string; checkedAgainst: string } = { url: url.href, subdir, filename, checkedAgainst: 'the hash given with the URL' };
  if (fragment) {
    const m = /^(?:(sha256|md5)[=:])?([0-9a-fA-F]+)$/.exec(fragment);
    const value = m?.[2]?.toLowerCase();
    const kind = m?.[1] ?? (value?.length === 64 ? 'sha256' : value?.length === 32 ? 'md5' : undefined);
    if (!value || !kind || value.length !== (kind === 'sha256' ? 64 : 32)) throw new Permanent(`#${fragment} is not a hash (#sha256=<64 hex>, #md5=<32 hex> or a bare one)`);
    item[kind as 'sha256' | 'md5'] = value;
  }
  return item;
}

/** Lines of a URL list: blank lines, `#` comments and conda's `@EXPLICIT` marker are not URLs. */
export function urlsOfList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && line !== '@EXPLICIT');
}

/**
 * Mirror the packages `options` name into the target repository. Never throws for a file
 * that fails (it is in the summary's `failures`); throws when the target cannot be read.
 */
export async function mirror(options: MirrorOptions): Promise<MirrorSummary> {
  const concurrency = Math.max(1, options.concurrency ?? 5);
  const retries = Math.max(0, options.retries ?? 3);
  const backoffMs = Math.max(0, options.backoffMs ?? 1000);
  const timeoutMs = Math.max(1, options.timeoutMs ?? 300_000);
  const failures: MirrorFailure[] = [];
  let retried = 0;
  const onRetry = () => void retried++;
  const fail = (source: string, error: unknown) => failures.push({ source, reason: (error as Error).message, attempts: (error as { attempts?: number }).attempts ?? 1 });
  const retrying = <T>(work: () => Promise<T>) => withRetries(retries, backoffMs, onRetry, work);

  // A source's repodata, fetched once per URL.
  const repodataOf = new Map<string, Promise<SourceRepodata | undefined>>();
  const sourceRepodata = (url: string) => {
    let loaded = repodataOf.get(url);
    if (!loaded) repodataOf.set(url, (loaded = retrying(() => fetchJson<SourceRepodata>(url, timeoutMs)).then((r) => r.value)));
    return loaded;
  };
  const recordIn = (repodata: SourceRepodata | undefined, filename: string) => repodata?.[filename.endsWith('.conda') ? 'packages.conda' : 'packages']?.[filename];

  // What to mirror.
  const items = new Map<string, Item>();
  const add = (item: Item) => {
    const key = `${item.subdir}/${item.filename}`;
    if (!items.has(key)) items.set(key, item);
  };
  if (options.channel !== undefined) {
    const channel = options.channel.endsWith('/') ? options.channel : `${options.channel}/`;
    const specs = (options.specs ?? []).map(parseMatchSpec);
    const matched = new Set<string>();
    for (const subdir of options.subdirs ?? []) {
      if (!isValidSubdir(subdir)) throw new Error(`${JSON.stringify(subdir)} is not a conda subdir`);
      const repodataUrl = new URL(`${subdir}/repodata.json`, channel).href;
      let repodata: SourceRepodata | undefined;
      try {
        repodata = await sourceRepodata(repodataUrl);
        if (!repodata) throw new Permanent(`${repodataUrl}: 404`);
      } catch (error) {
        fail(repodataUrl, error);
        continue;
      }
      let base: string;
      try {
        // repodata v2 may put the files elsewhere (info.base_url); only over http(s).
        base = typeof repodata.info?.base_url === 'string' ? new URL(repodata.info.base_url.replace(/\/?$/, '/'), repodataUrl).href : new URL('./', repodataUrl).href;
        if (!/^https?:$/.test(new URL(base).protocol)) throw new Error('not http(s)');
      } catch {
        fail(repodataUrl, new Error(`info.base_url ${JSON.stringify(repodata.info?.base_url)} is not an http(s) URL`));
        continue;
      }
      for (const section of ['packages', 'packages.conda'] as const) {
        for (const [filename, record] of Object.entries(repodata[section] ?? {})) {
          const spec = specs.find((s) => s.matches({ name: String(record.name), version: String(record.version), build: String(record.build) }));
          if (!spec) continue;
          matched.add(spec.spec);
          if (!tryParsePackageFilename(filename)) {
            fail(`${base}${filename}`, new Error('not a conda package file name'));
            continue;
          }
          add({ url: new URL(encodeURIComponent(filename), base).href, subdir, filename, ...digestsOf(record), checkedAgainst: repodataUrl });
        }
      }
    }
    for (const spec of specs) if (!matched.has(spec.spec)) failures.push({ source: spec.spec, reason: `no package of ${(options.subdirs ?? []).join(', ')} in ${channel} matches`, attempts: 1 });
  }
  for (const line of options.urls ?? []) {
    let item: Item;
    try {
      item = parsePackageUrl(line);
    } catch (error) {
      fail(line, error);
      continue;
    }
    if (!item.sha256 && !item.md5) {
      // No hash given: the source's own repodata (next to the file) says what it must be.
      const repodataUrl = new URL('repodata.json', item.url).href;
      try {
        const record = recordIn(await sourceRepodata(repodataUrl), item.filename);
        const digests = record ? digestsOf(record) : {};
        if (!digests.sha256 && !digests.md5) throw new Permanent(`no digest to check it against: not listed with sha256 or md5 in ${repodataUrl}, and the URL has no #sha256=`);
        item = { ...item, ...digests, checkedAgainst: repodataUrl };
      } catch (error) {
        fail(line, error);
        continue;
      }
    }
    add(item);
  }

  // What the target has already (a resumed run skips it).
  const present = new Map<string, Map<string, string | undefined>>();
  for (const subdir of new Set([...items.values()].map((i) => i.subdir))) {
    const headers: Record<string, string> = options.authorization ? { authorization: options.authorization } : {};
    const { value: repodata } = await retrying(() => fetchJson<SourceRepodata>(new URL(`${subdir}/repodata.json`, options.repositoryUrl).href, timeoutMs, headers));
    const files = new Map<string, string | undefined>();
    for (const section of ['packages', 'packages.conda'] as const) for (const [filename, record] of Object.entries(repodata?.[section] ?? {})) files.set(filename, hex(record.sha256, 64));
    for (const filename of repodata?.removed ?? []) if (typeof filename === 'string' && !files.has(filename)) files.set(filename, undefined);
    present.set(subdir, files);
  }

  // Everything asked for: what the planning already refused counts too (total = mirrored + skipped + failed at the end).
  const total = items.size + failures.length;
  let mirrored = 0;
  let skipped = 0;
  let bytes = 0;
  let inFlightBytes = 0;
  const progress = (current?: string) =>
    options.onProgress?.({ total, done: mirrored + skipped + failures.length, mirrored, skipped, failed: failures.length, bytes: bytes + inFlightBytes, ...(current ? { current } : {}) });

  const temp = await mkdtemp(path.join(options.tempDir ?? os.tmpdir(), 'rc-conda-mirror-'));
  let next = 0;
  const queue = [...items.values()];
  const worker = async () => {
    while (next < queue.length) {
      const item = queue[next++]!;
      const there = present.get(item.subdir)?.get(item.filename);
      if (present.get(item.subdir)?.has(item.filename)) {
        if (there !== undefined && item.sha256 !== undefined && there !== item.sha256) fail(item.url, new Error(`the target already has ${item.subdir}/${item.filename} with another sha256 (${there}); delete it there to mirror this one`));
        else skipped++;
        progress();
        continue;
      }
      const file = path.join(temp, `${next}-${item.filename}`);
      let received = 0;
      try {
        const downloaded = await retrying(() => {
          received = 0;
          return download(item, file, timeoutMs, (n) => {
            received += n;
            inFlightBytes += n;
            progress(item.filename);
          }).finally(() => {
            inFlightBytes -= received;
          });
        });
        const uploaded = await retrying(async () => {
          const answer = await postPackage(options.repositoryUrl, await openAsBlob(file), item.filename, { subdir: item.subdir, ...(options.authorization ? { authorization: options.authorization } : {}), signal: AbortSignal.timeout(timeoutMs) });
          if (answer.ok) return 'uploaded';
          // A file name is never replaced: another run put it there meanwhile.
          if (answer.status === 409) return 'present';
          const message = `upload refused: ${answer.status} ${answer.message}`;
          throw retryable(answer.status) ? new Error(message) : new Permanent(message);
        });
        if (uploaded.value === 'present') skipped++;
        else {
          mirrored++;
          bytes += downloaded.value;
        }
      } catch (error) {
        fail(item.url, error);
      } finally {
        await rm(file, { force: true });
      }
      progress();
    }
  };
  try {
    progress();
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, queue.length)) }, worker));
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { total, mirrored, skipped, failed: failures.length, bytes, retried, failures };
}

/**
 * One download attempt of `item` into `file`, hashed as it is written; resolves its size once
 * md5, sha256 and size agree with what `item` expects. A digest that disagrees is
 * {@link Permanent}: the source serves other bytes than its index says.
 */
async function download(item: Item, file: string, timeoutMs: number, onBytes: (n: number) => void): Promise<number> {
  const { response, done } = await timedFetch(item.url, timeoutMs);
  try {
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      const message = `download: ${response.status} ${response.statusText}`;
      throw retryable(response.status) ? new Error(message) : new Permanent(message);
    }
    const sha256 = createHash('sha256');
    const md5 = createHash('md5');
    let size = 0;
    const limit = item.size;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (limit !== undefined && size > limit) return callback(new Permanent(`the download is larger than the ${limit} bytes ${item.checkedAgainst} says`));
        sha256.update(chunk);
        md5.update(chunk);
        onBytes(chunk.length);
        callback(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), hashing, createWriteStream(file));
    const got = { sha256: sha256.digest('hex'), md5: md5.digest('hex') };
    if (item.sha256 !== undefined && got.sha256 !== item.sha256) throw new Permanent(`sha256 mismatch: ${item.checkedAgainst} says ${item.sha256}, the download is ${got.sha256}`);
    if (item.md5 !== undefined && got.md5 !== item.md5) throw new Permanent(`md5 mismatch: ${item.checkedAgainst} says ${item.md5}, the download is ${got.md5}`);
    if (item.size !== undefined && size !== item.size) throw new Permanent(`size mismatch: ${item.checkedAgainst} says ${item.size} bytes, the download is ${size}`);
    return size;
  } finally {
    done();
  }
}
