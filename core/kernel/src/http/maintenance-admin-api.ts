import type { Context } from 'koa';
import { NotFoundError, type Principal } from '@registry-core/api';
import type { AdminService } from '../registry/admin-service.js';
import type { HostRouter } from './host-router.js';

export interface MaintenanceAdminApiOptions {
  readonly service: Pick<AdminService, 'cleanCache' | 'tasks' | 'runTask'>;
  /** Run `work` for an administrator and answer its result as JSON (AdminApi.admin). */
  readonly admin: (ctx: Context, work: (principal: Principal) => Promise<unknown>) => Promise<void>;
}

/**
 * Dry runs of the upkeep an operator runs with the CLI (`cache clean --dry-run`, `<format>
 * <task> --dry-run`), for administrators under `/-/admin/`: what would be removed, with nothing
 * changed. The real runs stay with the CLI and the schedule.
 */
export class MaintenanceAdminApi {
  constructor(private readonly options: MaintenanceAdminApiOptions) {}

  mount(router: HostRouter): void {
    const { service, admin } = this.options;
    router.post('/-/admin/dry-run/cache-clean', (ctx) => admin(ctx, async () => service.cleanCache({ dryRun: true })));
    router.get('/-/admin/tasks', (ctx) => admin(ctx, async () => ({ tasks: service.tasks() })));
    router.post('/-/admin/dry-run/tasks/:format/:task', (ctx, params) =>
      admin(ctx, async () => {
        const format = params['format'] as string;
        const task = params['task'] as string;
        if (!service.tasks().some((t) => t.format === format && t.name === task)) throw new NotFoundError(`no task ${task.slice(0, 64)} of format ${format.slice(0, 64)}`);
        return { format, task, reports: await service.runTask(format, task, { dryRun: true }) };
      }),
    );
  }
}
