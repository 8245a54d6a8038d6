// What the benchmarks share: temp folders and servers that are cleaned up at the end (and on
// Ctrl-C), free ports, a process's memory, tar headers, number formatting, flags.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** VmRSS and VmHWM (peak) of a process in MB (MiB), from /proc; undefined once it is gone. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * Reset a process's VmHWM to its RSS now (`/proc/<pid>/clear_refs`, 5), so that the next
 * peak read is of what follows; false where the kernel refuses it.
 */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** A ustar header of one regular file (mode 644, owner 0), `mtime` in seconds. */
export function tarHeader(name, size, mtime = 0) {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${mtime.toString(8).padStart(11, '0')}\0`, 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

/** A tar archive of small files (`name → Buffer | string`), ending with its two zero blocks. */
export function tar(files, mtime = 0) {
  const parts = [];
  for (const [name, raw] of Object.entries(files)) {
    const content = Buffer.from(raw);
    parts.push(tarHeader(name, content.length, mtime), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The value after `--name` on the command line, else `fallback`. */
export function flag(name, fallback) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
}

/** Refuse to run: the message, exit code 2. */
export function fail(message) {
  console.error(message);
  process.exit(2);
}
