import type { Command } from 'commander';
import { hashPassword } from '@registry-core/kernel';
import { readSecret } from '../arguments.js';
import { withAuth } from '../runtime.js';

/** `user add|set-password|disable|enable|hash-password`. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('user commands');
  user
    .command('add <name>')
    .description('create a user in the metadata store')
    .option('--password <password>', 'the password (or pipe it on standard input)')
    .option('--roles <roles>', 'comma-separated roles (admin, ...)')
    .option('--email <email>', "the user's email (shown to clients as a package owner's)")
    .option('-c, --config <file>', 'config file')
    .action(async (name: string, options: { password?: string; roles?: string; email?: string; config?: string }) => {
      const password = await readSecret(options.password);
      await withAuth(options, async (auth) => {
        const roles = options.roles ? options.roles.split(',').map((r) => r.trim()).filter(Boolean) : [];
        await auth.addUser(name, password, { roles, ...(options.email ? { email: options.email } : {}) });
      });
      console.log(`user ${name} created`);
    });
  user
    .command('set-password <name>')
    .description("change a stored user's password; every token of the user is revoked")
    .option('--password <password>', 'the new password (or pipe it on standard input)')
    .option('-c, --config <file>', 'config file')
    .action(async (name: string, options: { password?: string; config?: string }) => {
      const password = await readSecret(options.password);
      await withAuth(options, (auth) => auth.setPassword(name, password));
      console.log(`password of ${name} changed; its tokens are revoked`);
    });
  for (const [command, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(`${command} <name>`)
      .description(disabled ? "refuse a stored user's password logins and tokens (on other nodes within auth.cacheSeconds); its tokens are kept" : 'let a disabled user sign in and use its tokens again')
      .option('-c, --config <file>', 'config file')
      .action(async (name: string, options: { config?: string }) => {
        await withAuth(options, (auth) => auth.setUserDisabled(name, disabled));
        console.log(`user ${name} ${disabled ? 'disabled' : 'enabled'}`);
      });
  }
  user
    .command('hash-password')
    .description('print a password hash for auth.users.<name>.passwordHash in the config')
    .option('--password <password>', 'the password (or pipe it on standard input)')
    .action(async (options: { password?: string }) => {
      console.log(await hashPassword(await readSecret(options.password)));
    });
}
