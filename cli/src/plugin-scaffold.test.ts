import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCAFFOLD_TOOLS } from './plugin-scaffold.js';

describe('plugin scaffold', () => {
  it('gives a generated plugin the TypeScript and vitest this repository builds and tests with (its pnpm catalog)', () => {
    const workspace = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../pnpm-workspace.yaml'), 'utf8');
    for (const [tool, version] of Object.entries(SCAFFOLD_TOOLS)) expect(new RegExp(`^\\s+${tool}: ${version.replaceAll('.', '\\.')}$`, 'm').test(workspace), tool).toBe(true);
  });
});
