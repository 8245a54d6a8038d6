import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@registry-core/api';
import { WORKER_SLOT_ENV, isClusterMessage, type PrimaryMessage, type WorkerMessage } from './messages.js';
import { NamedLocks } from './named-locks.js';

export interface PrimaryOptions {
  /** How many workers (processes serving HTTP on the one port). */
  readonly workers: number;
  readonly logger: Logger;
  /** What each worker's drain gets at stop (`server.shutdownTimeoutSeconds`); past it and 10 s more, a worker is killed. */
  readonly shutdownTimeoutSeconds: number;
  /** The first time a worker of slot 1 serves, with its port. */
  readonly onReady?: (port: number) => void;
}

/** A worker that died this soon after it started counts as a failed start for the backoff. */
const STABLE_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The primary process of `server.workers: N` (node:cluster): forks N workers that serve
 * one port, is their lock manager (named locks for workers on one SQLite database, released
 * when their holder dies) and relays each worker's "changed" messages to the others, so a
 * publish, a revocation or a user change made through one worker is dropped from every
 * worker's memory caches at once. A worker that dies is forked again in its slot, after a
 * backoff that grows while it keeps dying at start (250 ms doubling up to 30 s). A worker
 * that dies before the first worker serves fails the start: the primary stops them all.
 * `stop()` asks every worker to drain and resolves when all have exited.
 */
export class ClusterPrimary {
  private readonly slots = new Map<number, { worker?: Worker; startedAt: number; failures: number; timer?: NodeJS.Timeout }>();
  private readonly locks = new NamedLocks<Worker>((worker, id) => this.send(worker, { rc: 'granted', id }));
  private stopping: Promise<void> | undefined;
  private serving = false;
  private failedStart: ((error: Error) => void) | undefined;

  constructor(private readonly options: PrimaryOptions) {}

  /** Fork the workers; resolves once one of them serves (with its port), rejects if one dies before. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.failedStart = reject;
      const ready = this.options.onReady;
      this.onFirstReady = (port) => {
        this.serving = true;
        ready?.(port);
        resolve(port);
      };
      for (let slot = 1; slot <= this.options.workers; slot++) this.fork(slot);
    });
  }

  private onFirstReady: ((port: number) => void) | undefined;

  /** Ask every worker to drain and exit; resolves when all have. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  /** Kill every worker at once (a second signal). */
  kill(): void {
    for (const { worker } of this.slots.values()) worker?.process.kill('SIGKILL');
  }

  /** Held named locks (for status). */
  get lockCount(): number {
    return this.locks.size;
  }

  private fork(slot: number): void {
    const state = this.slots.get(slot) ?? { startedAt: 0, failures: 0 };
    this.slots.set(slot, state);
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    state.worker = worker;
    state.startedAt = Date.now();
    worker.on('message', (message: unknown) => {
      if (isClusterMessage(message)) this.receive(worker, slot, message as WorkerMessage);
    });
    worker.on('exit', (code, signal) => this.exited(slot, worker, code, signal));
  }

  private receive(worker: Worker, slot: number, message: WorkerMessage): void {
    switch (message.rc) {
      case 'lock':
        this.locks.acquire(worker, message.id, message.key);
        break;
      case 'unlock':
        this.locks.release(worker, message.id);
        break;
      case 'changed':
        for (const { worker: other } of this.slots.values()) if (other && other !== worker) this.send(other, { rc: 'changed', change: message.change });
        break;
      case 'ready':
        if (slot === 1 && !this.serving) this.onFirstReady?.(message.port);
        break;
    }
  }

  private exited(slot: number, worker: Worker, code: number | null, signal: string | null): void {
    this.locks.releaseAll(worker);
    const state = this.slots.get(slot)!;
    if (state.worker === worker) delete state.worker;
    if (this.stopping) return;
    if (!this.serving) {
      this.options.logger.error(`worker ${slot} exited (${signal ?? `code ${code}`}) before the registry served: stopping`);
      const fail = this.failedStart;
      void this.stop().then(() => fail?.(new Error(`worker ${slot} exited before the registry served`)));
      return;
    }
    state.failures = Date.now() - state.startedAt < STABLE_MS ? state.failures + 1 : 0;
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.max(0, state.failures - 1));
    this.options.logger.warn(`worker ${slot} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}): starting it again in ${delay} ms`);
    state.timer = setTimeout(() => {
      delete state.timer;
      if (!this.stopping) this.fork(slot);
    }, delay);
  }

  private async stopAll(): Promise<void> {
    const running: Promise<void>[] = [];
    for (const state of this.slots.values()) {
      clearTimeout(state.timer);
      const worker = state.worker;
      if (!worker) continue;
      running.push(
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
          this.send(worker, { rc: 'stop' });
          const timer = setTimeout(() => worker.process.kill('SIGKILL'), (this.options.shutdownTimeoutSeconds + 10) * 1000);
          timer.unref();
        }),
      );
    }
    await Promise.all(running);
  }

  private send(worker: Worker, message: PrimaryMessage): void {
    if (worker.isConnected()) worker.send(message);
  }
}
