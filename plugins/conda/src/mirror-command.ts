import { readFile } from 'node:fs/promises';
import type { FormatCommand } from '@registry-core/api';
import { mirror, urlsOfList, type MirrorProgress } from './mirror.js';

function count(options: Readonly<Record<string, string | undefined>>, name: string, fallback: number, { min = 0, integer = true } = {}): number {
  const text = options[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} of at least ${min}: ${text}`);
  return value;
}

const mib = (bytes: number) => (bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

function progressLine(p: MirrorProgress): string {
  const width = 24;
  const filled = p.total === 0 ? width : Math.min(width, Math.round((p.done / p.total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} files, ${p.mirrored} mirrored, ${p.skipped} skipped, ${p.failed} failed, ${mib(p.bytes)}${p.current ? `  ${p.current}` : ''}`;
}

/**
 * `registry-core conda mirror`: packages from package URLs, a file of them, or every package
 * of an upstream channel's subdirs matching specs, into a repository of a running server
 * (see mirror.ts). A progress bar on a terminal, a JSON summary otherwise (or with --json).
 */
export const mirrorCommand: FormatCommand = {
  name: 'mirror',
  description:
    'mirror conda packages into a repository of a running server: package URLs (#sha256=<hex> optional), --from-file, or --channel URL --subdir linux-64,noarch and specs (name, version constraints, build glob); each file checked against the source repodata or the given hash, already mirrored files skipped',
  arguments: ['[sources...]'],
  options: [
    { name: 'from-file', description: "a file of package URLs, one a line ('#' comments; conda's @EXPLICIT lists work)" },
    { name: 'channel', description: 'an upstream channel URL: the positional arguments are specs matched against its repodata' },
    { name: 'subdir', description: 'with --channel: the subdirs to mirror, comma-separated (linux-64,noarch)' },
    { name: 'concurrency', description: 'files in flight at once (default 5)' },
    { name: 'retries', description: 'retries of a failed download or upload, with exponential backoff (default 3)' },
    { name: 'retry-delay', description: 'seconds before the first retry, doubled for each next one (default 1)' },
    { name: 'timeout', description: 'seconds one download (or upload) may take (default 300)' },
    { name: 'json', description: 'print the JSON summary on a terminal too (it is printed whenever the output is not one)', flag: true },
  ],
  async run({ rest, options, repositoryUrl, authorization, print, printError, progress }) {
    const channel = options['channel'];
    const subdirs = (options['subdir'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (channel !== undefined && subdirs.length === 0) throw new Error('--channel needs --subdir (the subdirs to mirror, like linux-64,noarch)');
    if (channel === undefined && options['subdir'] !== undefined) throw new Error('--subdir goes with --channel');
    if (channel !== undefined && rest.length === 0) throw new Error('--channel needs specs to match (numpy, "numpy >=1.26", "numpy 1.26.* py312*")');
    const urls = channel === undefined ? [...rest] : [];
    if (options['from-file'] !== undefined) urls.push(...urlsOfList(await readFile(options['from-file'], 'utf8')));
    if (channel === undefined && urls.length === 0) throw new Error('nothing to mirror: give package URLs, --from-file, or --channel with --subdir and specs');
    let shown = 0;
    const summary = await mirror({
      repositoryUrl,
      ...(authorization ? { authorization } : {}),
      urls,
      ...(channel !== undefined ? { channel, subdirs, specs: rest } : {}),
      concurrency: count(options, 'concurrency', 5, { min: 1 }),
      retries: count(options, 'retries', 3),
      backoffMs: count(options, 'retry-delay', 1, { integer: false }) * 1000,
      timeoutMs: count(options, 'timeout', 300, { min: 0.001, integer: false }) * 1000,
      ...(progress
        ? {
            onProgress(p: MirrorProgress) {
              // At most ten redraws a second, and every file's end.
              const now = Date.now();
              if (p.current && now - shown < 100) return;
              shown = now;
              progress(progressLine(p));
            },
          }
        : {}),
    });
    progress?.('');
    if (progress && options['json'] !== 'true') {
      print(`${summary.total} files: ${summary.mirrored} mirrored (${mib(summary.bytes)}), ${summary.skipped} already there, ${summary.failed} failed${summary.retried ? `, ${summary.retried} retries` : ''}`);
      for (const f of summary.failures) printError(`${f.source}: ${f.reason}${f.attempts > 1 ? ` (${f.attempts} attempts)` : ''}`);
    } else print(JSON.stringify(summary, null, 2));
    if (summary.failed > 0) throw new Error(`${summary.failed} not mirrored (the summary says why)`);
  },
};
