import type { FormatTask, Logger } from '@registry-core/api';
import type { CleanupConfig } from '../config/types.js';
import type { RepositoryRuntime } from '../http/dispatcher.js';
import type { AdminService } from './admin-service.js';

/**
 * The registry's timers while it serves: the upload-session and pending-asset sweep (at start, then hourly),
 * each format task that declares an interval, and the cache cleanup every
 * `cleanup.intervalHours`. Timers never keep the process alive.
 */
export class Scheduler {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly admin: Pick<AdminService, 'sweepUploads' | 'runTask' | 'cleanCache'>,
    private readonly repositories: ReadonlyMap<string, RepositoryRuntime>,
    private readonly cleanup: Pick<CleanupConfig, 'intervalHours'>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const sweep = () => this.admin.sweepUploads().then(
      (n) => (n.sessions > 0 || n.orphans > 0 || n.pending > 0) && this.logger.info(`removed ${n.sessions} expired upload sessions, ${n.orphans} orphaned upload objects and ${n.pending} pending assets of interrupted publishes`),
      (error: unknown) => this.logger.warn('upload session sweep failed', { error: String(error) }),
    );
    void sweep();
    this.every(3_600_000, () => void sweep());
    const scheduled = new Map<string, { format: string; task: FormatTask }>();
    for (const runtime of this.repositories.values()) {
      for (const task of runtime.format.tasks ?? []) if (task.intervalSeconds) scheduled.set(`${runtime.config.format}\n${task.name}`, { format: runtime.config.format, task });
    }
    for (const { format, task } of scheduled.values()) {
      this.every(task.intervalSeconds! * 1000, () => {
        this.admin.runTask(format, task.name).catch((error: unknown) => this.logger.warn(`scheduled task ${format} ${task.name} failed`, { error: String(error) }));
      });
    }
    const hours = this.cleanup.intervalHours;
    if (hours > 0) {
      this.every(hours * 3_600_000, () => {
        this.admin.cleanCache().catch((error: unknown) => this.logger.warn('scheduled cache cleanup failed', { error }));
      });
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
  }
}
