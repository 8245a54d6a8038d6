import type { Context } from 'koa';
import type { FormatResponse, ResponseBody } from '@registry-core/api';
import { assetMemoryRef } from '../engine/asset-store.js';
import type { RepositoryRuntime } from '../http/dispatcher.js';
import type { DownloadCounter, DownloadEvent } from './download-counter.js';

/** The repository whose handler made a file answer (a group's member), by the answer's body. */
const servedBy = new WeakMap<object, string>();

/**
 * Remember that `repository` answered with `response`'s file, unless a repository nearer the
 * file already said so (the dispatcher marks every answer; a group's member marks it first).
 */
export function markServedBy(response: FormatResponse, repository: string): void {
  const body = response.body;
  if (body && (body.kind === 'asset' || body.kind === 'incoming') && !servedBy.has(body)) servedBy.set(body, repository);
}

/** Longest names and versions kept (the columns' sizes). */
const MAX_NAME = 512;
const MAX_VERSION = 256;

/** `bytes S-E/T` of a 206 answer. */
function rangeOf(contentRange: string): { start: number; length: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\//.exec(contentRange);
  return m ? { start: Number(m[1]), length: Number(m[2]) - Number(m[1]) + 1 } : undefined;
}

/**
 * The host's one place where downloads are seen: after an answer to a GET is written, a
 * stored file sent whole or from its first byte (200, a 206 from byte 0, a redirect to the
 * storage) is counted for the repository that holds it, as its format's
 * {@link FormatDefinition.downloadOf} names it, with the cache result and the bytes sent.
 * Ranges further in add their bytes only (a resumed download counts once); HEAD and 304
 * count nothing.
 */
export class DownloadRecorder {
  constructor(
    private readonly counter: DownloadCounter,
    private readonly repositories: ReadonlyMap<string, RepositoryRuntime>,
  ) {}

  /**
   * Count the answer `ctx` was given; resolves the event (for the access log, and for the
   * replays of a whole answer: the host replays only those).
   */
  served(ctx: Context, addressed: RepositoryRuntime, requestPath: string, response: FormatResponse): DownloadEvent | undefined {
    if (ctx.method !== 'GET') return undefined;
    const body: ResponseBody | undefined = response.body;
    if (!body || (body.kind !== 'asset' && body.kind !== 'incoming')) return undefined;
    const status = ctx.status;
    if (status !== 200 && status !== 206 && status !== 307) return undefined;
    const file = body.kind === 'asset' ? body.asset : body.incoming;
    // A stored file knows its repository; one still arriving, the answer's mark.
    const holder = (body.kind === 'asset' ? assetMemoryRef(body.asset)?.repository : undefined) ?? servedBy.get(body);
    const runtime = (holder !== undefined ? this.repositories.get(holder) : undefined) ?? addressed;
    const of = runtime.format.downloadOf?.({ requestPath, assetPath: file.path, kind: file.kind });
    if (!of) return undefined;
    let counted = of.counted !== false;
    let bytes: number | undefined = body.kind === 'asset' ? body.asset.size : body.incoming.size;
    if (status === 206) {
      const range = rangeOf(ctx.response.get('Content-Range'));
      if (!range) return undefined;
      counted &&= range.start === 0;
      bytes = range.length;
    }
    const event: Omit<DownloadEvent, 'bytes'> = {
      repository: runtime.name,
      format: runtime.config.format,
      name: of.name.slice(0, MAX_NAME),
      version: of.version.slice(0, MAX_VERSION),
      cache: response.cache ?? 'HOSTED',
      counted,
      assetPath: file.path,
    };
    if (bytes === undefined && body.kind === 'incoming') {
      // Still arriving, of unknown length: counted once it is stored (a failed download is no download).
      body.incoming.stored.then(
        (asset) => this.counter.record({ ...event, bytes: asset.size }),
        () => undefined,
      );
      return { ...event, bytes: 0 };
    }
    const recorded = { ...event, bytes: bytes ?? 0 };
    this.counter.record(recorded);
    return recorded;
  }

  /**
   * What counts each replay of `first` by the host's hot answers: a cache HIT (or a hosted
   * read again) of the bytes sent; nothing for a HEAD or a 304 (0 bytes).
   */
  replayer(first: DownloadEvent): (bytesSent: number) => void {
    const { bytes: _bytes, ...event } = first;
    const count = this.counter.repeater({ ...event, cache: first.cache === 'HOSTED' ? 'HOSTED' : 'HIT' });
    return (bytesSent) => {
      if (bytesSent !== 0) count(bytesSent);
    };
  }
}
