import { InvalidArgumentError, type Command } from 'commander';
import { list } from '../arguments.js';
import { withAuth } from '../runtime.js';

/** `token create|list|revoke`. */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('token commands');
  token
    .command('create')
    .description('create a token for a user; the token is printed on the last line')
    .requiredOption('--user <name>', 'user the token acts as')
    .option('--read-only', 'the token can read but never publish or delete')
    .option('--description <text>', 'what the token is for')
    .option('--expires-in-days <days>', 'expiry in days', (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
      return n;
    })
    .option('--repositories <globs>', 'comma-separated repository globs the token may publish to and delete in (default: any)', list)
    .option('--packages <globs>', "comma-separated package-name globs the token may publish and delete, e.g. '@team-a/*' (default: any)", list)
    .option('-c, --config <file>', 'config file')
    .action(async (options: { user: string; readOnly?: boolean; description?: string; expiresInDays?: number; repositories?: string[]; packages?: string[]; config?: string }) => {
      const created = await withAuth(options, async (auth) => {
        if (!(await auth.userExists(options.user))) throw new Error(`no user named ${options.user}`);
        return auth.createToken(options.user, {
          readOnly: !!options.readOnly,
          description: options.description ?? 'cli',
          ...(options.expiresInDays ? { ttlSeconds: Math.round(options.expiresInDays * 86400) } : {}),
          ...(options.repositories ? { repositories: options.repositories } : {}),
          ...(options.packages ? { packages: options.packages } : {}),
        });
      });
      const scope = [created.info.repositories ? `repositories ${created.info.repositories.join(',')}` : '', created.info.packages ? `packages ${created.info.packages.join(',')}` : ''].filter(Boolean).join('; ');
      console.error(`token ${created.info.id} for ${options.user}${created.info.readOnly ? ' (read-only)' : ''}${scope ? ` limited to ${scope}` : ''}`);
      console.log(created.token);
    });
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--user <name>', 'only this user')
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (options: { user?: string; config?: string; json?: boolean }) => {
      const tokens = await withAuth(options, (auth) => auth.listTokens(options.user));
      if (options.json) {
        console.log(JSON.stringify(tokens, null, 2));
        return;
      }
      for (const t of tokens) {
        console.log(
          `${t.id}  ${t.user}  ${t.prefix}…  ${t.readOnly ? 'read-only ' : 'read-write'}  created ${t.createdAt.toISOString()}` +
            `${t.expiresAt ? `  expires ${t.expiresAt.toISOString()}` : ''}${t.lastUsedAt ? `  last used ${t.lastUsedAt.toISOString()}` : ''}` +
            `${t.description ? `  ${t.description}` : ''}${t.repositories ? `  repositories ${t.repositories.join(',')}` : ''}${t.packages ? `  packages ${t.packages.join(',')}` : ''}`,
        );
      }
    });
  token
    .command('revoke <id>')
    .description('revoke a token by id (or by its secret)')
    .option('-c, --config <file>', 'config file')
    .action(async (id: string, options: { config?: string }) => {
      const revoked = await withAuth(options, (auth) => auth.revokeToken(id));
      if (!revoked) throw new Error(`no token ${id}`);
      console.log(`token ${id} revoked`);
    });
}
