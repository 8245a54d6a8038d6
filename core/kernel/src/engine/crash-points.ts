import { appendFileSync } from 'node:fs';

/**
 * Named points of the kernel's writes where a test may kill the process, to prove that a
 * crash at any step of a publish leaves the old state or the new one (see
 * `describeCrashPoints` in @registry-core/testing). Off unless the environment asks:
 *
 * - `REGISTRY_CORE_CRASH_TRACE=<file>`: append every point reached to `<file>`, one per
 *   line, to learn the steps of a publish;
 * - `REGISTRY_CORE_CRASH_AT=<point>[#<n>]`: on the n-th time (default 1) the process
 *   reaches `<point>`, it kills itself with SIGKILL (no handler, no flush, like a power cut).
 *
 * The points (each write of a repository's stores):
 * `asset.blob-stored` (bytes under their content key, no row yet), `asset.row-written`,
 * `asset.published` (pending assets made visible with their document), `asset.deleted`,
 * `document.written`, `kv.written`, `component.written`.
 */
export type CrashPoint =
  | 'asset.blob-stored'
  | 'asset.row-written'
  | 'asset.published'
  | 'asset.deleted'
  | 'document.written'
  | 'kv.written'
  | 'component.written';

const trace = process.env['REGISTRY_CORE_CRASH_TRACE'];
const target = parseTarget(process.env['REGISTRY_CORE_CRASH_AT']);
const reached = new Map<string, number>();

function parseTarget(value: string | undefined): { point: string; occurrence: number } | undefined {
  if (!value) return undefined;
  const m = /^([a-z.-]+)(?:#(\d+))?$/.exec(value);
  if (!m) throw new Error(`REGISTRY_CORE_CRASH_AT=${value}: expected <point>[#<n>]`);
  return { point: m[1]!, occurrence: Number(m[2] ?? 1) };
}

/** Mark `point` reached: traced, and the end of the process when it is the one asked for. */
export function crashPoint(point: CrashPoint): void {
  if (!trace && !target) return;
  const count = (reached.get(point) ?? 0) + 1;
  reached.set(point, count);
  if (trace) appendFileSync(trace, `${point}#${count}\n`);
  if (target && target.point === point && target.occurrence === count) process.kill(process.pid, 'SIGKILL');
}
