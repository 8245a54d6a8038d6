import type { Logger } from '@registry-core/api';
import { dayOf, type DownloadCache, type DownloadCounts, type DownloadKey, type DownloadStore } from './download-store.js';

/** One file sent to a client, as the host reports it. */
export interface DownloadEvent {
  readonly repository: string;
  readonly format: string;
  readonly name: string;
  readonly version: string;
  readonly cache: DownloadCache;
  /** Bytes sent (the file's size for a redirect to the storage). */
  readonly bytes: number;
  /** False: bytes of the package without a download of it (see `DownloadOf.counted`). */
  readonly counted: boolean;
  /** The stored file's path in `repository`: its `last_downloaded_at` is set at the next flush. */
  readonly assetPath?: string;
}

/** Most distinct rows held between flushes; past it a flush starts at once. */
const MAX_PENDING_ROWS = 50_000;

/**
 * Download counts held in memory and added to the metadata store every `flushMs`: counting
 * costs the serving path a map update, never a query. A crash loses at most one window; a
 * graceful stop flushes ({@link close}). A failed flush keeps its counts for the next one.
 */
export class DownloadCounter {
  private pending = new Map<string, [DownloadKey, DownloadCounts]>();
  /** Files downloaded since the last flush, by repository. */
  private touched = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: DownloadStore,
    private readonly flushMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  record(event: DownloadEvent): void {
    this.add(event, event.bytes, this.idOf(event, this.today()));
  }

  /**
   * A counter of `event` sent again (`bytes` each time), for the host's replayed answers:
   * the row's key is made once per day instead of once per request, so a replay costs a
   * map lookup and two additions.
   */
  repeater(event: Omit<DownloadEvent, 'bytes'>): (bytes: number) => void {
    let day = '';
    let id = '';
    return (bytes) => {
      const today = this.today();
      if (today !== day) {
        day = today;
        id = this.idOf(event, day);
      }
      this.add(event, bytes, id);
    };
  }

  /** Today's `YYYY-MM-DD` (UTC), worked out again only when the day has changed. */
  private day = '';
  private dayEnds = 0;
  private today(): string {
    const now = this.now();
    if (now >= this.dayEnds || now < this.dayEnds - 86_400_000) {
      this.day = dayOf(now);
      this.dayEnds = Date.parse(`${this.day}T00:00:00Z`) + 86_400_000;
    }
    return this.day;
  }

  private idOf(event: Omit<DownloadEvent, 'bytes'>, day: string): string {
    return `${event.repository}\0${day}\0${event.name}\0${event.version}\0${event.cache}`;
  }

  private add(event: Omit<DownloadEvent, 'bytes'>, bytes: number, id: string): void {
    let entry = this.pending.get(id);
    if (!entry) {
      entry = [{ repository: event.repository, format: event.format, name: event.name, version: event.version, day: this.day, cache: event.cache }, { downloads: 0, bytes: 0 }];
      this.pending.set(id, entry);
      if (this.pending.size >= MAX_PENDING_ROWS) void this.flush();
    }
    if (event.counted) entry[1].downloads++;
    entry[1].bytes += bytes;
    if (event.assetPath !== undefined) {
      let paths = this.touched.get(event.repository);
      if (!paths) this.touched.set(event.repository, (paths = new Set()));
      paths.add(event.assetPath);
    }
  }

  /** Rows waiting for the next flush. */
  get pendingRows(): number {
    return this.pending.size;
  }

  /** Add what is held to the store (one flush at a time; resolves when this one is written). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.touched.size > 0) {
      const touched = this.touched;
      this.touched = new Map();
      // Best effort: a lost touch only makes a file look less recently used.
      await this.store.touch(touched, this.now()).catch((error: unknown) => this.logger.warn('could not record when files were downloaded', { error: String((error as Error)?.message ?? error) }));
    }
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.add([...batch.values()]);
    } catch (error) {
      // Kept for the next flush, added to what arrived meanwhile.
      for (const [id, [key, counts]] of batch) {
        const now = this.pending.get(id);
        if (now) {
          now[1].downloads += counts.downloads;
          now[1].bytes += counts.bytes;
        } else this.pending.set(id, [key, counts]);
      }
      this.logger.warn('could not write download counts; kept for the next flush', { error: String((error as Error)?.message ?? error), rows: batch.size });
    }
  }

  /** Remove daily rows older than `retentionDays` (today counts as the first day); resolves how many. */
  pruneOlderThan(retentionDays: number): Promise<number> {
    return this.store.pruneBefore(dayOf(this.now() - (retentionDays - 1) * 86_400_000));
  }

  /** Stop the timer and write what is held. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
