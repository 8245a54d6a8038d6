// What the benchmarks share: temp folders and servers that are cleaned up at the end (and on
// Ctrl-C), free ports.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Run by {@link cleanup}, last first: push whatever must be undone. */
export const cleanups = [];

export function temp(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), `rc-bench-${prefix}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch {
      // best effort
    }
  }
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

/** The last this many characters of a server's output are kept. */
const OUTPUT_KEPT = 1024 * 1024;

/**
 * Start a server and resolve once `ready(output)` (sync or async) gives a value: checked on
 * every output and every 100 ms (for probes that ask the server). Stopped by {@link cleanup}.
 */
export function spawnServer(command, argv, options, ready) {
  const child = spawn(command, argv, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => (output = (output + d).slice(-OUTPUT_KEPT));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  cleanups.push(stop);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      child.stdout.off('data', check);
      child.stderr.off('data', check);
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${command} did not start:\n${output}`));
    }, 60_000);
    let checking = false;
    async function check() {
      if (done || checking) return;
      checking = true;
      try {
        const value = await ready(output);
        if (value !== undefined && !done) {
          finish();
          resolve({ child, stop, value, pid: child.pid, output: () => output });
        }
      } finally {
        checking = false;
      }
    }
    const poll = setInterval(check, 100);
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => {
      if (done) return;
      finish();
      reject(new Error(`${command} exited with ${code}:\n${output}`));
    });
  });
}

export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}
