// Type-checks the single-page app (app/) and builds it with Vite into dist/app/, which the plugin serves. Run by
// the workspace's `pnpm build` after tsc; skipped when dist/app is newer than every source.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'app', 'index.html');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(file) : statSync(file).mtimeMs);
  }
  return latest;
}

const built = (() => {
  try {
    return statSync(out).mtimeMs;
  } catch {
    return 0;
  }
})();
const sources = Math.max(newest(path.join(root, 'app')), statSync(path.join(root, 'package.json')).mtimeMs);
if (built > sources && process.env.REGISTRY_CORE_WEB_REBUILD !== '1') process.exit(0);

// Vite strips types without checking them: the workspace's tsc checks the app first.
execFileSync(path.join(root, '..', '..', 'node_modules', '.bin', 'tsc'), ['-p', path.join(root, 'app', 'tsconfig.json')], { stdio: 'inherit' });
const { build } = await import('vite');
await build({ configFile: path.join(root, 'app', 'vite.config.mjs'), logLevel: 'warn' });
