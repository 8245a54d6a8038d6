#!/usr/bin/env node
// What download counting adds to one replayed answer (the hot path), in isolation: the
// kernel's DownloadCounter.repeater called as the host calls it for each replay, with a store
// that writes nothing. Compare the figure with the server CPU per request of the analytics
// scenario (`pnpm bench --only analytics`, about 50 µs on a 2-core machine).
//
//   pnpm -s build && node bench/count-cost.mjs
import { DownloadCounter } from '../core/kernel/dist/analytics/download-counter.js';

const store = { add: async () => {}, touch: async () => {}, pruneBefore: async () => 0 };
const counter = new DownloadCounter(store, 5_000, { warn() {} });
const count = counter.repeater({ repository: 'npm-proxy', format: 'npm', name: 'semver', version: '7.6.3', cache: 'HIT', counted: true, assetPath: 'semver/-/semver-7.6.3.tgz' });
const results = [];
for (let round = 0; round < 5; round++) {
  const n = 5_000_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) count(27_678);
  results.push(Number(process.hrtime.bigint() - started) / n);
}
results.sort((a, b) => a - b);
console.log(`download counting per replayed answer: median ${results[2].toFixed(1)} ns (${results.map((r) => r.toFixed(1)).join(', ')}), ${counter.pendingRows} row pending`);
