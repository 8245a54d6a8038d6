import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { httpBaseUrl, type DefaultUpstream } from '@registry-core/api';
import { tomlStrings } from './toml-strings.js';

/** crates.io's sparse index; its `dl` is on static.crates.io. */
export const CRATES_IO_INDEX = 'https://index.crates.io/';

/**
 * The sparse registry the local cargo replaces crates.io with (`[source.crates-io]
 * replace-with` in `$CARGO_HOME/config.toml`, `~/.cargo` by default), if any.
 */
export async function localCargoMirror(cargoHome = process.env['CARGO_HOME'] || path.join(homedir(), '.cargo')): Promise<string | undefined> {
  for (const file of ['config.toml', 'config']) {
    let text: string;
    try {
      text = await readFile(path.join(cargoHome, file), 'utf8');
    } catch {
      continue;
    }
    const strings = tomlStrings(text);
    const replacement = strings.get('source.crates-io.replace-with');
    const registry = replacement !== undefined ? strings.get(`source.${replacement}.registry`) : undefined;
    if (registry?.startsWith('sparse+')) return httpBaseUrl(registry.slice('sparse+'.length));
    return undefined;
  }
  return undefined;
}

/** The zero-config proxy's upstream candidates: the local cargo's crates.io replacement, then crates.io's index. */
export async function cargoDefaultUpstreams(): Promise<DefaultUpstream[]> {
  const local = await localCargoMirror();
  return [...(local && local !== CRATES_IO_INDEX ? [{ url: local, source: 'the crates.io replacement in the local cargo config' }] : []), { url: CRATES_IO_INDEX, source: "crates.io's sparse index" }];
}
