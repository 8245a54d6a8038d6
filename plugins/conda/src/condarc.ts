import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { DefaultUpstream } from '@registry-core/api';
import { parse as parseYaml } from 'yaml';

/** conda-forge, the channel a conda user means when they say "the public one". */
export const CONDA_FORGE = 'https://conda.anaconda.org/conda-forge/';

/**
 * The `.condarc` files conda reads, in its order (a later file's key wins): the system's,
 * the user's (XDG, `~/.conda`, `~/.condarc`), the active environment's, then `$CONDARC`.
 * (conda also reads `condarc.d/` folders and `$CONDA_ROOT`: not here.)
 */
export function condarcFiles(env: NodeJS.ProcessEnv = process.env, home = homedir()): string[] {
  const xdg = env['XDG_CONFIG_HOME'] || path.join(home, '.config');
  return [
    '/etc/conda/.condarc',
    '/etc/conda/condarc',
    path.join(xdg, 'conda', '.condarc'),
    path.join(xdg, 'conda', 'condarc'),
    path.join(home, '.conda', '.condarc'),
    path.join(home, '.conda', 'condarc'),
    path.join(home, '.condarc'),
    ...(env['CONDA_PREFIX'] ? [path.join(env['CONDA_PREFIX'], '.condarc'), path.join(env['CONDA_PREFIX'], 'condarc')] : []),
    ...(env['CONDARC'] ? [env['CONDARC']] : []),
  ];
}

/** An http(s) URL as a channel root (with a trailing slash), or `undefined`. */
function channelRoot(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return url.href.endsWith('/') ? url.href : `${url.href}/`;
  } catch {
    return undefined;
  }
}

/**
 * Where the local conda finds conda-forge: `custom_channels: {conda-forge: URL}`, else
 * `channel_alias` (conda-forge is `<channel_alias>/conda-forge`), from the `.condarc` files
 * ({@link condarcFiles}) and `CONDA_CHANNEL_ALIAS`; `undefined` when nothing moves it.
 */
export function localCondaForge(files: readonly string[] = condarcFiles(), env: NodeJS.ProcessEnv = process.env): { url: string; source: string } | undefined {
  let alias: { url: string; source: string } | undefined;
  let custom: { url: string; source: string } | undefined;
  for (const file of files) {
    let config: unknown;
    try {
      config = parseYaml(readFileSync(file, 'utf8'));
    } catch {
      continue; // absent, unreadable or not YAML: conda would complain; the proxy goes on without it
    }
    if (typeof config !== 'object' || config === null) continue;
    const { channel_alias: channelAlias, custom_channels: customChannels } = config as { channel_alias?: unknown; custom_channels?: unknown };
    const aliasRoot = channelRoot(channelAlias);
    if (aliasRoot) alias = { url: aliasRoot, source: `channel_alias in ${file}` };
    const customRoot = typeof customChannels === 'object' && customChannels !== null ? channelRoot((customChannels as Record<string, unknown>)['conda-forge']) : undefined;
    if (customRoot) custom = { url: customRoot, source: `custom_channels.conda-forge in ${file}` };
  }
  const envAlias = channelRoot(env['CONDA_CHANNEL_ALIAS']);
  if (envAlias) alias = { url: envAlias, source: 'CONDA_CHANNEL_ALIAS' };
  const chosen = custom ?? alias;
  return chosen ? { url: new URL('conda-forge/', chosen.url).href, source: chosen.source } : undefined;
}

/** The zero-config proxy's upstream: conda-forge where the local `.condarc` puts it, then conda-forge itself. */
export function condaDefaultUpstreams(files?: readonly string[], env?: NodeJS.ProcessEnv): DefaultUpstream[] {
  const local = localCondaForge(files, env);
  return [...(local && local.url !== CONDA_FORGE ? [local] : []), { url: CONDA_FORGE, source: 'conda-forge' }];
}
