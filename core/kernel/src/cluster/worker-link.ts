import cluster from 'node:cluster';
import { WORKER_SLOT_ENV, isClusterMessage, type ClusterChange, type PrimaryMessage, type WorkerMessage } from './messages.js';

/**
 * A worker's side of `server.workers`: its slot, the primary's named locks (the
 * cross-process lock of workers on one SQLite database) and the broadcast of changes to
 * the other workers. `WorkerLink.current()` is `undefined` in a process that is not a
 * worker of a registry-core primary (one process per node, as before).
 */
export class WorkerLink {
  private static instance: WorkerLink | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, () => void>();
  private readonly changeListeners = new Set<(change: ClusterChange) => void>();
  private readonly stopListeners = new Set<() => void>();
  /** Set while changes from another worker are applied: what they trigger here is not sent back. */
  private applying = false;

  private constructor(
    /** This worker's slot, 1..N; a restarted worker keeps its slot. */
    readonly slot: number,
  ) {
    process.on('message', (message: unknown) => {
      if (!isClusterMessage(message)) return;
      this.receive(message as PrimaryMessage);
    });
  }

  /** This process's link, when it is a worker started by a registry-core primary. */
  static current(): WorkerLink | undefined {
    if (WorkerLink.instance) return WorkerLink.instance;
    const slot = Number(process.env[WORKER_SLOT_ENV]);
    if (!cluster.isWorker || !Number.isInteger(slot) || slot < 1) return undefined;
    return (WorkerLink.instance = new WorkerLink(slot));
  }

  /** Whether this worker runs the registry's periodic tasks (cleanup, sweeps, retention): slot 1 only. */
  get leader(): boolean {
    return this.slot === 1;
  }

  /**
   * Take the named lock `key` from the primary (every worker respects it); resolves its
   * release. A worker that dies releases its locks with it.
   */
  acquire(key: string): Promise<() => Promise<void>> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, () => {
        let released = false;
        resolve(async () => {
          if (released) return;
          released = true;
          this.send({ rc: 'unlock', id });
        });
      });
      this.send({ rc: 'lock', id, key });
    });
  }

  /** Tell the other workers about a change made here (not one being applied from another worker). */
  announce(change: ClusterChange): void {
    if (!this.applying) this.send({ rc: 'changed', change });
  }

  /** Be told of other workers' changes. */
  onChange(listener: (change: ClusterChange) => void): void {
    this.changeListeners.add(listener);
  }

  /** Be told when the primary asks this worker to stop (drain and exit). */
  onStop(listener: () => void): void {
    this.stopListeners.add(listener);
  }

  /** Tell the primary this worker serves, on `port`. */
  ready(port: number): void {
    this.send({ rc: 'ready', port });
  }

  private receive(message: PrimaryMessage): void {
    switch (message.rc) {
      case 'granted':
        this.waiting.get(message.id)?.();
        this.waiting.delete(message.id);
        break;
      case 'changed':
        this.applying = true;
        try {
          for (const listener of this.changeListeners) listener(message.change);
        } finally {
          this.applying = false;
        }
        break;
      case 'stop':
        for (const listener of this.stopListeners) listener();
        break;
    }
  }

  private send(message: WorkerMessage): void {
    // The channel closes only when the primary is gone, and this worker with it.
    if (process.connected) process.send!(message);
  }
}
