// server.heapGrowthPercent and server.youngGenerationSize. The CLI's start sets V8's heap growing
// factor for the process before it builds the registry. V8 prints the factor each full
// collection's new limit was computed with under --trace-gc-verbose ("[HeapController]
// Limit: old size: …, new limit: … (2.0)" on Node 20; newer V8 prints the factor after the
// override in its "factor 2.0 based on …" line); the start's own release runs full collections.
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliBin, repoRoot, tempDir } from '../helpers/registry-process.js';

/** The factors V8 used for the old generation's limit while the server started. */
async function startFactors(env: NodeJS.ProcessEnv): Promise<string[]> {
  const child = spawn(process.execPath, ['--trace-gc-verbose', cliBin, 'start', '--port', '0'], {
    cwd: tempDir('heap-growth'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no server in 30 s:\n${output.slice(-4000)}`)), 30_000);
      child.stdout.on('data', () => {
        if (/listening on port \d+/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`exited before listening:\n${output.slice(-4000)}`)));
    });
  } finally {
    // V8 prints its trace through C's buffered stdout: a process that exits (not one killed)
    // flushes what it still holds.
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }
  const factors: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('[HeapController]')) continue;
    const factor = /new limit: .*\((\d+\.\d)\)\s*$/.exec(line)?.[1] ?? /factor (\d+\.\d) based on/.exec(line)?.[1];
    if (factor) factors.push(factor);
  }
  return factors;
}

describe('the heap growing factor start sets', () => {
  it('is 1.5 by default and follows server.heapGrowthPercent', async () => {
    const [byDefault, doubling] = await Promise.all([startFactors({}), startFactors({ REGISTRY_CORE_SERVER__HEAP_GROWTH_PERCENT: '100' })]);
    // The start's release runs full collections after the setting: each one's limit used it.
    expect(byDefault.length).toBeGreaterThan(0);
    expect(byDefault.at(-1)).toBe('1.5');
    expect(doubling.at(-1)).toBe('2.0');
  }, 60_000);
});

/**
 * The largest young generation (MB) a child process saw while it kept objects in batches with
 * a turn of the event loop between them (as the server's parses and renderings do), with the
 * kernel's cap at `capMb` (0: none). The module alone is loaded: loading the whole kernel is
 * itself such a burst, which the CLI's start gives back before it serves (its release).
 */
async function youngGenerationPeak(capMb: number): Promise<number> {
  const dir = tempDir('young-generation');
  const script = path.join(dir, 'young.mjs');
  writeFileSync(
    script,
    `import v8 from 'node:v8';
import { capYoungGeneration } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'core', 'kernel', 'dist', 'registry', 'idle-memory.js')).href)};
capYoungGeneration(${capMb} << 20);
const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const kept = [];
let peak = 0;
for (let batch = 0; batch < 400; batch++) {
  for (let i = 0; i < 5000; i++) kept.push({ i, s: 'x' + i });
  await new Promise((resolve) => setImmediate(resolve));
  peak = Math.max(peak, young());
}
console.log(JSON.stringify({ peak, kept: kept.length }));
`,
  );
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [script], { cwd: dir }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { peak: number }).peak / (1 << 20);
}

describe('the young generation cap start sets', () => {
  it('holds V8\'s young generation at the cap under a burst of surviving objects; without it V8 grows it to its 32 MB', async () => {
    const [capped, free] = await Promise.all([youngGenerationPeak(8), youngGenerationPeak(0)]);
    // Collections are reported after they ran: a growth before the report of the one that
    // reached the cap can pass it once (to 16 MB; it held at 8 in 8 of 9 runs here).
    expect(capped).toBeLessThanOrEqual(16);
    expect(free).toBeGreaterThan(16);
  }, 60_000);
});
