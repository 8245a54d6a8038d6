import { InvalidArgumentError, type Command } from 'commander';
import type { PackageOwner } from '@registry-core/api';
import { AuthService, type LoadedConfig } from '@registry-core/kernel';
import { withMetadata } from '../runtime.js';

const show = (owners: readonly PackageOwner[]) => {
  if (owners.length === 0) console.log('(nobody: the next publisher claims it)');
  for (const o of owners) console.log(o.email ? `${o.name} <${o.email}>` : o.name);
};

/** `owners ls|add|rm`: who may publish to a package of a hosted repository (every format). */
export function registerOwnersCommands(program: Command): void {
  const owners = program.command('owners').description("package owners: who may publish new versions of a name, change it or delete it (the first publisher, then whoever its owners add); administrators always may");
  const hosted = (config: LoadedConfig['config'], name: string) => {
    if (config.repositories[name]?.type !== 'hosted') throw new InvalidArgumentError(`${name} is not a hosted repository in this config`);
  };
  const withOwners = <T>(options: { config?: string }, repository: string, work: (auth: AuthService) => Promise<T>): Promise<T> =>
    withMetadata(options, (metadata, config) => {
      hosted(config, repository);
      return work(new AuthService(config.auth, metadata));
    });
  owners
    .command('ls <repository> <package>')
    .description("list a package's owners (the package name as the format indexes it: an npm name, a normalized PyPI project, groupId:artifactId)")
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, packageName: string, options: { config?: string }) => {
      show(await withOwners(options, repository, (auth) => auth.owners.list(repository, packageName)));
    });
  owners
    .command('add <repository> <package> <user>')
    .description('make a user an owner (claims a name nobody owns)')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, packageName: string, user: string, options: { config?: string }) => {
      show(await withOwners(options, repository, (auth) => auth.owners.operatorAdd(repository, packageName, user)));
    });
  owners
    .command('rm <repository> <package> <user>')
    .description('remove an owner; removing the last one releases the name (its next publisher claims it)')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, packageName: string, user: string, options: { config?: string }) => {
      show(await withOwners(options, repository, (auth) => auth.owners.operatorRemove(repository, packageName, user)));
    });
}
