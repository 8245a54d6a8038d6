import { hostname } from 'node:os';
import path from 'node:path';
import { mkdir, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import type { RenderedJson } from '@registry-core/api';
import { processAlive } from './process-alive.js';

/** What `/-/stats` shows of the derived memory's files (`derived.disk`). */
export interface DerivedDiskStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  /** Renderings written when the memory let them go, and read back instead of rendered again. */
  readonly writes: number;
  readonly reads: number;
  /** Writes and reads that failed (the rendering is made again instead). */
  readonly failures: number;
}

interface Spilled {
  readonly file: string;
  readonly size: number;
  readonly etag: string;
  /** The rendering while its file is being written (served from memory until then). */
  writing?: RenderedJson;
}

/** The folder name's prefix: `derived-<host>-<pid>-<random>` under the data folder's `tmp`. */
const PREFIX = 'derived-';

/**
 * Renderings the derived memory let go, kept in files of this process (one folder of its own,
 * removed at stop): a memory miss reads one back instead of parsing and rendering its document
 * again. An install of a few hundred packages asks for more renderings than the memory keeps
 * (16 MB by default); each is written once, when the memory first lets it go, and read back
 * as often as asked.
 *
 * Files are named by a counter, never by a key (keys carry names from clients and upstreams).
 * An entry is listed (and counted) when the memory lets its rendering go, in that order however
 * the writes finish, and entries go least recently used first past `maxBytes`; until its file is
 * written an entry is read from the rendering it holds, so a read never sees a partial file. A
 * read that fails (the file removed, short) drops the entry and the caller renders again. Keys
 * never go stale (see `DerivedMemory`), so neither do files.
 */
export class DerivedDisk {
  /** Kept files (and those being written) by key, least recently used first. */
  private readonly entries = new Map<string, Spilled>();
  private total = 0;
  private counter = 0;
  private folder: Promise<void> | undefined;
  private writes = 0;
  private reads = 0;
  private failures = 0;
  private closed = false;
  /** Writes and removals under way (see {@link settled}). */
  private readonly pending = new Set<Promise<unknown>>();

  /** Called with a key whose file went (evicted, or failed): its owner forgets what it keeps for it. */
  onForget: (key: string) => void = () => {};

  constructor(
    /** This process's folder (created on first write). */
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /**
   * A folder for this process under `parent` (the data folder's `tmp`), after removing those
   * other processes of this host left behind (their process is gone, or it had this one's id).
   */
  static async create(parent: string, maxBytes: number, onError?: (error: unknown) => void): Promise<DerivedDisk> {
    const host = hostname().replace(/[^A-Za-z0-9.-]/g, '_');
    const mine = `${PREFIX}${host}-`;
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      if (!name.startsWith(mine)) continue;
      const pid = Number(/^(\d+)-/.exec(name.slice(mine.length))?.[1]);
      if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) continue;
      await rm(path.join(parent, name), { recursive: true, force: true }).catch(() => {});
    }
    const dir = path.join(parent, `${mine}${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    return new DerivedDisk(dir, maxBytes, onError);
  }

  /** Whether `key` has a file (or one being written). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * Write `rendered` under `key`, the memory letting it go (nothing when kept already, too
   * large or closed). Whether `key` is kept (or being written) now.
   */
  keep(key: string, rendered: RenderedJson): boolean {
    if (this.closed || this.has(key)) return !this.closed;
    if (rendered.size > this.maxBytes / 8) return false;
    const entry: Spilled = { file: path.join(this.dir, String(++this.counter)), size: rendered.size, etag: rendered.etag, writing: rendered };
    this.entries.set(key, entry);
    this.total += entry.size;
    for (const [oldest] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.drop(oldest);
      this.onForget(oldest);
    }
    this.track(this.write(key, entry));
    return true;
  }

  private async write(key: string, entry: Spilled): Promise<void> {
    const rendered = entry.writing!;
    try {
      // The process's user alone: renderings of private packages are in there.
      this.folder ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => {});
      await this.folder;
      await writeFile(entry.file, rendered.chunks, { mode: 0o600 });
    } catch (error) {
      if (this.closed) return;
      this.failures++;
      this.onError(error);
      if (this.entries.get(key) === entry) {
        this.drop(key);
        this.onForget(key);
      }
      await unlink(entry.file).catch(() => {});
      return;
    }
    // Dropped while being written (evicted, its slot replaced), or the process stopping.
    if (this.entries.get(key) !== entry || this.closed) {
      await unlink(entry.file).catch(() => {});
      return;
    }
    entry.writing = undefined;
    this.writes++;
  }

  /** The rendering kept under `key`, read back; `undefined` when none is (or it could not be read). */
  async read(key: string): Promise<RenderedJson | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (entry.writing) return entry.writing;
    let bytes: Buffer;
    try {
      bytes = await readFile(entry.file);
      if (bytes.length !== entry.size) throw new Error(`${entry.file} holds ${bytes.length} bytes, not ${entry.size}`);
    } catch (error) {
      this.failures++;
      if (this.entries.get(key) === entry) {
        this.drop(key);
        this.onForget(key);
      }
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(error);
      return undefined;
    }
    this.reads++;
    return { chunks: [bytes], size: entry.size, etag: entry.etag };
  }

  /** Remove what is kept under `key` (a slot's newer value replaced it). */
  drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.size;
    // A file being written is removed by its writer, which finds its entry gone.
    if (!entry.writing) this.track(unlink(entry.file).catch(() => {}));
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** When the writes and removals under way are done. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  stats(): DerivedDiskStats {
    return { entries: this.entries.size, bytes: this.total, maxBytes: this.maxBytes, writes: this.writes, reads: this.reads, failures: this.failures };
  }

  /** Remove the folder: the process is stopping. */
  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
    this.total = 0;
    await this.settled();
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }
}
