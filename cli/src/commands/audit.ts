import { InvalidArgumentError, type Command } from 'commander';
import { parseSince } from '@registry-core/kernel';
import { withAuth } from '../runtime.js';

/** `audit`: query the audit log. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('who did what: publishes, unpublishes, tag changes, deletes, logins (failed ones too), users and tokens; newest first')
    .option('-c, --config <file>', 'config file')
    .option('--since <when>', 'a duration such as 7d, 12h or 30m, or a date')
    .option('--user <name>', 'only this principal')
    .option('--repo <name>', 'only this repository')
    .option('--action <action>', 'only this action (publish, unpublish, tag, untag, deprecate, delete, login, logout, user.create, token.create, token.revoke)')
    .option('--limit <n>', 'most entries', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
      return n;
    })
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; since?: string; user?: string; repo?: string; action?: string; limit?: number; json?: boolean }) => {
      const since = options.since === undefined ? undefined : parseSince(options.since);
      if (options.since !== undefined && since === undefined) throw new InvalidArgumentError('--since: a duration such as 7d, 12h, 30m, or a date');
      const events = await withAuth(options, (auth) =>
        auth.audit.query({
          ...(since !== undefined ? { since } : {}),
          ...(options.user ? { user: options.user } : {}),
          ...(options.repo ? { repository: options.repo } : {}),
          ...(options.action ? { action: options.action } : {}),
          limit: options.limit ?? 1000,
        }),
      );
      if (options.json) {
        console.log(JSON.stringify(events, null, 2));
        return;
      }
      for (const e of events) {
        const target = [e.repository, e.package ? `${e.package}${e.version ? `@${e.version}` : ''}` : undefined].filter(Boolean).join(' ');
        const details = e.details && Object.keys(e.details).length > 0 ? ` ${JSON.stringify(e.details)}` : '';
        console.log(`${e.at}  ${e.outcome === 'ok' ? '' : `${e.outcome.toUpperCase()} `}${e.action.padEnd(12)} ${e.principal.padEnd(16)} ${target}${e.clientAddress ? ` from ${e.clientAddress}` : ''}${details}`);
      }
    });
}
