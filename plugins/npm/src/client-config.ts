import { execFile } from 'node:child_process';
import type { RepositoryInfo } from '@registry-core/api';

/**
 * The registry the local npm client is configured with (`npm config get registry`, else
 * `npm_config_registry`), as the zero-config proxy's upstream. Never a hard-coded host.
 */
export function localNpmRegistry(): Promise<string | undefined> {
  const fromEnv = process.env['npm_config_registry'];
  const asUrl = (value: string | undefined): string | undefined => {
    try {
      const url = new URL(value ?? '');
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
      if (!url.pathname.endsWith('/')) url.pathname += '/';
      return url.href;
    } catch {
      return undefined;
    }
  };
  return new Promise((resolve) => {
    execFile('npm', ['config', 'get', 'registry'], { timeout: 10_000, windowsHide: true }, (error, stdout) => {
      resolve((error ? undefined : asUrl(String(stdout).trim())) ?? asUrl(fromEnv));
    });
  });
}

/** What the npm, pnpm and yarn lines need: the URL and its "nerf dart" (`//host/path/`). */
export function clientConfig(repo: RepositoryInfo): string[] {
  const url = new URL(repo.url);
  const nerf = `//${url.host}${url.pathname}`;
  // yarn 4 refuses plain HTTP to hosts not whitelisted, and (from 4.15) hides versions
  // published less than a day ago: what was just published here would not install.
  const yarn = [`npmRegistryServer: "${repo.url}"`, ...(url.protocol === 'http:' ? [`unsafeHttpWhitelist: ["${url.hostname}"]`] : []), 'npmMinimalAgeGate: 0'];
  if (repo.type !== 'proxy') yarn.push('npmAuthToken: "${NPM_TOKEN}"');
  const lines = [`npm config set registry ${repo.url}`, `.npmrc: ${nerf}:_authToken=\${NPM_TOKEN}`, `.yarnrc.yml (yarn 4): { ${yarn.join(', ')} }`];
  if (repo.type !== 'proxy') lines.push(`npm publish --registry ${repo.url}`);
  return lines;
}

/**
 * `WWW-Authenticate` of 401 answers. npm sends its credentials unasked and only reads the
 * scheme to word its message: with `Basic` it says "Incorrect or missing password" and
 * suggests `npm login`, which fits both a wrong login and a missing or stale token.
 */
export function authChallenge(repo: RepositoryInfo): string {
  return `Basic realm="registry-core/${repo.name}"`;
}
