import type { FormatTask, Logger } from '@registry-core/api';
import type { DownloadCounter } from '../analytics/download-counter.js';
import type { CleanupConfig } from '../config/types.js';
import type { RepositoryRuntime } from '../http/dispatcher.js';
import { sweepTmpDir } from '../engine/tmp-dir.js';
import type { AdminService } from './admin-service.js';

/**
 * The registry's timers while it serves: the upload-session and pending-asset sweep (at start,
 * then hourly), each format task that declares an interval, the cache cleanup every
 * `cleanup.intervalHours`, the sweep of temporary files left by killed processes, and the
 * retention of daily download counts (`analytics.retentionDays`). Timers
 * never keep the process alive.
 */
export class Scheduler {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly admin: Pick<AdminService, 'sweepUploads' | 'runTask' | 'cleanCache'>,
    private readonly repositories: ReadonlyMap<string, RepositoryRuntime>,
    private readonly cleanup: Pick<CleanupConfig, 'intervalHours' | 'tmpFileGraceSeconds'>,
    private readonly logger: Logger,
    /** The temporary folder swept of files older than `cleanup.tmpFileGraceSeconds`. */
    private readonly tmpDir?: string,
    /** Download analytics: daily rows older than `retentionDays` are removed at start, then every 6 hours. */
    private readonly analytics?: { readonly downloads: Pick<DownloadCounter, 'pruneOlderThan'>; readonly retentionDays: number },
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
    const tmpDir = this.tmpDir;
    if (tmpDir !== undefined) {
      // Swept at start by prepareTmpDir; then as often as the grace, between a minute and an hour.
      const grace = this.cleanup.tmpFileGraceSeconds;
      this.every(Math.min(3_600_000, Math.max(60_000, grace * 1000)), () => {
        sweepTmpDir(tmpDir, this.logger, grace).catch((error: unknown) => this.logger.warn('temporary file sweep failed', { error: String(error) }));
      });
    }
    const analytics = this.analytics;
    if (analytics) {
      const prune = () => analytics.downloads.pruneOlderThan(analytics.retentionDays).then(
        (n) => n > 0 && this.logger.info(`removed ${n} daily download rows older than ${analytics.retentionDays} days`),
        (error: unknown) => this.logger.warn('download analytics retention failed', { error: String(error) }),
      );
      void prune();
      this.every(6 * 3_600_000, () => void prune());
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
