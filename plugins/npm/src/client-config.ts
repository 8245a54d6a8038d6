import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { httpBaseUrl as asUrl, type ClientSettingsFile, type DefaultUpstream, type RepositoryInfo } from '@registry-core/api';

/** `npm config get registry` run as given; its answer as a URL, or undefined. */
function npmConfigRegistry(options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('npm', ['config', 'get', 'registry'], { timeout: 10_000, windowsHide: true, ...options }, (error, stdout) => resolve(error ? undefined : asUrl(String(stdout))));
  });
}

/**
 * The registry the local npm client is configured with (`npm config get registry`, else
 * `npm_config_registry`), as the zero-config proxy's upstream. Never a hard-coded host.
 */
export async function localNpmRegistry(): Promise<string | undefined> {
  return (await npmConfigRegistry()) ?? asUrl(process.env['npm_config_registry']);
}

/**
 * npm's own default registry, whatever the user and global config say: `npm config get
 * registry` with neither (missing files) and no `npm_config_*` variables, run outside any
 * project. The public registry, without its host written here.
 */
export function npmBuiltinRegistry(): Promise<string | undefined> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_config_/i.test(key)) env[key] = value;
  // Two files that do not exist (npm refuses one file as both).
  const none = path.join(tmpdir(), `registry-core-no-npmrc-${process.pid}`);
  return npmConfigRegistry({ env: { ...env, npm_config_userconfig: path.join(none, 'user'), npm_config_globalconfig: path.join(none, 'global') }, cwd: tmpdir() });
}

/** The zero-config proxy's upstream candidates: the local npm's registry, then npm's own default. */
export async function npmDefaultUpstreams(): Promise<DefaultUpstream[]> {
  const [local, builtin] = await Promise.all([localNpmRegistry(), npmBuiltinRegistry()]);
  return [
    ...(local ? [{ url: local, source: 'the local npm config (npm config get registry)' }] : []),
    ...(builtin && builtin !== local ? [{ url: builtin, source: "npm's built-in default" }] : []),
  ];
}

/** What the npm, pnpm and yarn lines need: the URL and its "nerf dart" (`//host/path/`). */
export function clientConfig(repo: RepositoryInfo): string[] {
  const url = new URL(repo.url);
  const nerf = `//${url.host}${url.pathname}`;
  // yarn 4 refuses plain HTTP to hosts not whitelisted, and (from 4.15) hides versions
  // published less than a day ago: what was just published here would not install.
  const yarn = [`npmRegistryServer: "${repo.url}"`, ...(url.protocol === 'http:' ? [`unsafeHttpWhitelist: ["${url.hostname}"]`] : []), 'npmMinimalAgeGate: 0'];
  if (repo.takesWrites) yarn.push('npmAuthToken: "${NPM_TOKEN}"');
  const lines = [`npm config set registry ${repo.url}`, `.npmrc: ${nerf}:_authToken=\${NPM_TOKEN}`, `.yarnrc.yml (yarn 4): { ${yarn.join(', ')} }`];
  if (repo.takesWrites) lines.push(`npm publish --registry ${repo.url}`);
  return lines;
}

/**
 * `.npmrc` in the home folder (npm, pnpm and yarn 1 read it): the registry, and the token for
 * it by its nerf dart; without a token, `${NPM_TOKEN}` (npm expands it from the environment)
 * for a repository that takes publishes.
 */
export function clientSettings(repo: RepositoryInfo, token: string | undefined): ClientSettingsFile[] {
  const url = new URL(repo.url);
  const credential = token ?? (repo.takesWrites ? '${NPM_TOKEN}' : undefined);
  const settings = [{ key: 'registry', value: repo.url }, ...(credential ? [{ key: `//${url.host}${url.pathname}:_authToken`, value: credential }] : [])];
  return ['npm', 'pnpm', 'yarn'].map((client) => ({ client, path: '.npmrc', syntax: 'ini' as const, settings }));
}

/**
 * `WWW-Authenticate` of 401 answers. npm sends its credentials unasked and only reads the
 * scheme to word its message: with `Basic` it says "Incorrect or missing password" and
 * suggests `npm login`, which fits both a wrong login and a missing or stale token.
 */
export function authChallenge(repo: RepositoryInfo): string {
  return `Basic realm="registry-core/${repo.name}"`;
}
