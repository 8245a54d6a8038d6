import { describePlugin, type LoadedConfig, type Registry } from '@registry-core/kernel';
import type { RepositoryInfo } from '@registry-core/api';

/** `(format type of ...)`: what a repository is. */
function kind(info: RepositoryInfo): string {
  const upstream = info.type === 'proxy' ? ` of ${String(info.config['upstream'])}` : '';
  const members = info.type === 'group' ? ` of ${(info.config['members'] as string[]).join(', ')}` : '';
  return `(${info.format} ${info.type}${upstream}${members})`;
}

/** `name  (format type of ...)`: a repository as `setup` names it. */
const title = (info: RepositoryInfo) => `${info.name}  ${kind(info)}`;

/**
 * Where clients point: every group, and every repository that is no group's member. Members
 * of a group are reached through it (a publish to a group lands in its hosted member).
 */
function entryPoints(infos: readonly RepositoryInfo[]): RepositoryInfo[] {
  const members = new Set(infos.flatMap((i) => (i.type === 'group' ? (i.config['members'] as string[]) : [])));
  return infos.filter((i) => !members.has(i.name));
}

/** Options a command needs to act on the same registry as this one (`--config`, `--data-dir`). */
export function sameRegistryArgs(loaded: LoadedConfig): string {
  const config = loaded.filepath ? ` --config ${loaded.filepath}` : '';
  const dataDir = loaded.dataDirFrom === 'option' ? ` --data-dir ${loaded.config.dataDir}` : '';
  return `${config}${dataDir}`;
}

/** The data folder, and whether it is pinned; when it is not, how to pin it. */
export function dataDirLine(loaded: LoadedConfig): string {
  const dir = loaded.config.dataDir;
  switch (loaded.dataDirFrom) {
    case 'option':
      return `data: ${dir} (--data-dir)`;
    case 'env':
      return `data: ${dir} (REGISTRY_CORE_DATA_DIR)`;
    case 'config':
      return `data: ${dir} (dataDir in ${loaded.filepath})`;
    default:
      return loaded.filepath
        ? `data: ${dir} (dataDir's default, beside the config file)`
        : `data: ${dir} (under the current folder: started from another, it is another registry; pin it: dataDir in a config file, --data-dir or REGISTRY_CORE_DATA_DIR)`;
  }
}

/** Every repository, entry points first, each with its URL and the lines its clients need. */
export function clientSetupLines(registry: Registry): string[] {
  const infos = registry.repositoryInfos();
  const first = entryPoints(infos);
  const lines: string[] = [];
  for (const info of [...first, ...infos.filter((i) => !first.includes(i))]) {
    if (lines.length) lines.push('');
    lines.push(`${title(info)}`, `  ${info.url}`);
    for (const line of registry.clientConfig(info)) lines.push(`  ${line}`);
  }
  return lines;
}

/** What the server prints at start: short, unless `verbose`, when every client line follows. */
export function bannerLines(registry: Registry, loaded: LoadedConfig, head: string, verbose: boolean): string[] {
  const infos = registry.repositoryInfos();
  const args = sameRegistryArgs(loaded);
  const lines = [head, dataDirLine(loaded)];
  const points = entryPoints(infos);
  if (points.length) {
    lines.push('point clients at:');
    const nameWidth = Math.max(...points.map((p) => p.name.length));
    const urlWidth = Math.max(...points.map((p) => p.url.length));
    for (const info of points) lines.push(`  ${info.name.padEnd(nameWidth)}  ${info.url.padEnd(urlWidth)}  ${kind(info)}`);
  }
  const web = registry.http.webUrl();
  if (web) lines.push(`web interface: ${web}`);
  const selfRegistration = registry.config.auth.allowRegistration ? ' (or npm adduser: self-registration is on)' : '';
  lines.push(`a user and a token: registry-core user add NAME --password PASSWORD${args}, then registry-core token create --user NAME${args}${selfRegistration}`);
  for (const u of registry.unavailable) lines.push(`unavailable: ${u.name}: ${u.reason}`);
  for (const p of registry.plugins.records.filter((r) => r.status === 'refused' || r.status === 'failed')) {
    lines.push(`plugin ${p.status}: ${describePlugin(p)}: ${p.reason}`);
  }
  if (verbose) lines.push('', ...clientSetupLines(registry));
  else lines.push(`client configuration for each repository: registry-core setup${args} (or start with --verbose)`);
  return lines;
}
