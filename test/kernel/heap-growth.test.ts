// server.heapGrowthPercent in a running registry: the CLI's start sets V8's heap growing
// factor for the process before it builds the registry. V8 prints the factor each full
// collection's new limit was computed with under --trace-gc-verbose ("[HeapController]
// Limit: old size: …, new limit: … (2.0)" on Node 20; newer V8 prints the factor after the
// override in its "factor 2.0 based on …" line); the start's own release runs full collections.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliBin, tempDir } from '../helpers/registry-process.js';

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
    child.kill('SIGKILL');
    await exited;
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
  it('is 2.0 by default and follows server.heapGrowthPercent', async () => {
    const [byDefault, half] = await Promise.all([startFactors({}), startFactors({ REGISTRY_CORE_SERVER__HEAP_GROWTH_PERCENT: '50' })]);
    // The start's release runs full collections after the setting: each one's limit used it.
    expect(byDefault.length).toBeGreaterThan(0);
    expect(byDefault.at(-1)).toBe('2.0');
    expect(half.at(-1)).toBe('1.5');
  }, 60_000);
});
