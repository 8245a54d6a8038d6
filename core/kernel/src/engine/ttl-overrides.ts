import type { MetadataStore } from '../metadata/metadata-store.js';

const NAMESPACE = (repository: string) => `kernel:ttl:${repository}`;
const RELOAD_MS = 10_000;

/** A TTL set for one artifact path or for every path under a prefix (`pattern` ending in `*`). */
export interface TtlOverride {
  readonly repository: string;
  readonly pattern: string;
  readonly seconds: number;
}

/**
 * Per-artifact TTL overrides of proxy repositories, kept in the metadata store (so the CLI,
 * the server and several nodes share them) and read through a short in-memory cache: a
 * change made elsewhere is in force within ten seconds.
 */
export class TtlOverrides {
  private readonly cached = new Map<string, { loaded: number; entries: Array<[string, number]> }>();

  constructor(private readonly metadata: MetadataStore) {}

  async set(repository: string, pattern: string, seconds: number): Promise<void> {
    await this.metadata.setValue(NAMESPACE(repository), pattern, JSON.stringify(seconds));
    this.cached.delete(repository);
  }

  async unset(repository: string, pattern: string): Promise<boolean> {
    this.cached.delete(repository);
    return this.metadata.deleteValue(NAMESPACE(repository), pattern);
  }

  async list(repository?: string): Promise<TtlOverride[]> {
    const query = this.metadata.keyValues.createQueryBuilder('kv');
    if (repository) query.where('kv.namespace = :ns', { ns: NAMESPACE(repository) });
    else query.where('kv.namespace LIKE :prefix', { prefix: 'kernel:ttl:%' });
    const rows = await query.orderBy('kv.namespace').addOrderBy('kv.key').getMany();
    return rows.map((r) => ({ repository: r.namespace.slice('kernel:ttl:'.length), pattern: r.key, seconds: Number(JSON.parse(r.value)) }));
  }

  /** The TTL for `path`: an exact override, else the longest matching prefix, else undefined. */
  async lookup(repository: string, path: string): Promise<number | undefined> {
    let entry = this.cached.get(repository);
    if (!entry || Date.now() - entry.loaded > RELOAD_MS) {
      const overrides = await this.list(repository);
      entry = { loaded: Date.now(), entries: overrides.map((o) => [o.pattern, o.seconds]) };
      this.cached.set(repository, entry);
    }
    let best: [string, number] | undefined;
    for (const [pattern, seconds] of entry.entries) {
      if (pattern === path) return seconds;
      if (pattern.endsWith('*') && path.startsWith(pattern.slice(0, -1)) && (!best || pattern.length > best[0].length)) best = [pattern, seconds];
    }
    return best?.[1];
  }
}
