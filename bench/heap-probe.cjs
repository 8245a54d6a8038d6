// Preloaded into the registry-core server by soak.mjs (`node --require`): writes the
// process's memoryUsage() as JSON to $SOAK_HEAP_FILE every second (to a temp file, then
// renamed, so a reader never sees half of one), with V8's space sizes (new space = the two
// semi-spaces, old space, ...) and the garbage collections so far (count and pause per kind:
// a --trace-gc summary without its log). Nothing else; the timer never keeps the process alive.
const { renameSync, writeFileSync } = require('node:fs');
const { PerformanceObserver, constants } = require('node:perf_hooks');
const v8 = require('node:v8');

const file = process.env.SOAK_HEAP_FILE;
if (file) {
  const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
  const gc = {}; // kind → { count, ms }
  // Why: V8's callback flags per kind (`major: external` = a collection V8 ran to free external
  // memory, the Buffers' ArrayBuffers; `forced`, `idle`...), counted.
  const flagNames = [
    [constants.NODE_PERFORMANCE_GC_FLAGS_FORCED, 'forced'],
    [constants.NODE_PERFORMANCE_GC_FLAGS_SYNCHRONOUS_PHANTOM_PROCESSING, 'synchronous'],
    [constants.NODE_PERFORMANCE_GC_FLAGS_ALL_AVAILABLE_GARBAGE, 'all-garbage'],
    [constants.NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY, 'external'],
    [constants.NODE_PERFORMANCE_GC_FLAGS_SCHEDULE_IDLE, 'idle'],
    [constants.NODE_PERFORMANCE_GC_FLAGS_CONSTRUCT_RETAINED, 'retained'],
  ];
  const why = {}; // "kind: flags" → count
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = kinds[entry.detail?.kind ?? entry.kind] ?? 'other';
      const g = gc[kind] ?? (gc[kind] = { count: 0, ms: 0 });
      g.count++;
      g.ms += entry.duration;
      const flags = entry.detail?.flags ?? entry.flags ?? 0;
      const key = `${kind}: ${flagNames.filter(([bit]) => flags & bit).map(([, name]) => name).join('+') || 'no flags'}`;
      why[key] = (why[key] ?? 0) + 1;
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    try {
      const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
      writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), ...process.memoryUsage(), spaces, gc, gcWhy: why }));
      renameSync(`${file}.tmp`, file);
    } catch {
      // the folder is gone: the soak is over
    }
  }, 1000).unref();
}
