/**
 * The primary's lock table for workers on one SQLite database (which has no advisory
 * locks): named locks, granted in the order asked, each held by one owner (a worker) at a
 * time. An owner that goes away (a worker that died) loses what it held and what it was
 * waiting for, so the next waiter is granted at once.
 */
export class NamedLocks<Owner> {
  private readonly held = new Map<string, { owner: Owner; id: number; waiting: { owner: Owner; id: number }[] }>();
  /** Each (owner, request id) to its key, to release by id. */
  private readonly keys = new Map<Owner, Map<number, string>>();

  constructor(
    /** Called when `owner`'s request `id` holds its lock. */
    private readonly granted: (owner: Owner, id: number) => void,
  ) {}

  acquire(owner: Owner, id: number, key: string): void {
    let ids = this.keys.get(owner);
    if (!ids) this.keys.set(owner, (ids = new Map()));
    ids.set(id, key);
    const entry = this.held.get(key);
    if (entry) {
      entry.waiting.push({ owner, id });
      return;
    }
    this.held.set(key, { owner, id, waiting: [] });
    this.granted(owner, id);
  }

  /** Release (or stop waiting for) `owner`'s request `id`. */
  release(owner: Owner, id: number): void {
    const key = this.keys.get(owner)?.get(id);
    if (key === undefined) return;
    this.keys.get(owner)!.delete(id);
    const entry = this.held.get(key)!;
    if (entry.owner === owner && entry.id === id) this.handOn(key, entry.waiting);
    else entry.waiting = entry.waiting.filter((w) => !(w.owner === owner && w.id === id));
  }

  /** `owner` is gone: everything it held or waited for is released. */
  releaseAll(owner: Owner): void {
    const ids = this.keys.get(owner);
    if (!ids) return;
    for (const id of [...ids.keys()]) this.release(owner, id);
    this.keys.delete(owner);
  }

  /** Keys held now (for tests and status). */
  get size(): number {
    return this.held.size;
  }

  private handOn(key: string, waiting: { owner: Owner; id: number }[]): void {
    const next = waiting.shift();
    if (!next) {
      this.held.delete(key);
      return;
    }
    this.held.set(key, { owner: next.owner, id: next.id, waiting });
    this.granted(next.owner, next.id);
  }
}
