import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION, BadRequestError } from '@registry-core/api';

/** The template of `registry-core plugin new` (files ending in `.tmpl`, tokens `__LIKE_THIS__`). */
const TEMPLATE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates', 'format-plugin');

/**
 * The tool versions a generated plugin develops with: the ones this repository builds and
 * tests with (its pnpm catalog; a unit test keeps them equal).
 */
export const SCAFFOLD_TOOLS = { typescript: '7.0.2', vitest: '4.1.12' } as const;

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const FORMAT_ID = /^[a-z][a-z0-9-]{0,31}$/;

/** The version of a package installed beside this CLI (the kernel, the api), as its package.json says. */
function installedVersion(name: string): string {
  return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
}

/**
 * Write a format plugin package: `src/format.ts` (a real format of versioned files: hosted,
 * proxy and group, the kernel's contract used as intended), `src/index.ts`, a README, and
 * `test/conformance.test.ts` running the conformance kit of `@registry-core/testing`. The
 * folder must not exist or be empty. Resolves the folder and the files written.
 */
export async function scaffoldFormatPlugin(options: { packageName: string; format: string; dir?: string | undefined }): Promise<{ dir: string; files: string[] }> {
  const { packageName, format } = options;
  if (packageName.length > 214 || !PACKAGE_NAME.test(packageName)) throw new BadRequestError(`${JSON.stringify(packageName)} is not a valid npm package name (lowercase; optionally @scope/name)`);
  if (!FORMAT_ID.test(format)) throw new BadRequestError(`--format ${JSON.stringify(format)}: lowercase letters, digits and -, starting with a letter, at most 32`);
  const dir = path.resolve(options.dir ?? packageName.split('/').pop()!);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new BadRequestError(`${dir} exists and is not empty`);
  const [apiMajor, apiMinor] = API_VERSION.split('.');
  const tokens: Record<string, string> = {
    __PACKAGE_NAME__: packageName,
    __FORMAT_ID__: format,
    // The contract this CLI's kernel offers; a host with an older minor lacks parts of it.
    __API_RANGE__: `^${apiMajor}.${apiMinor}.0`,
    // The conformance kit is released with the kernel: at least this host's, within 0.x.
    __TESTING_RANGE__: `>=${installedVersion('@registry-core/kernel')} <1.0.0`,
    __TYPESCRIPT_VERSION__: SCAFFOLD_TOOLS.typescript,
    __VITEST_VERSION__: SCAFFOLD_TOOLS.vitest,
  };
  const files: string[] = [];
  const walk = async (from: string, rel: string): Promise<void> => {
    for (const entry of await readdir(from, { withFileTypes: true })) {
      const source = path.join(from, entry.name);
      const relative = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        await walk(source, relative);
        continue;
      }
      if (!entry.name.endsWith('.tmpl')) continue;
      // `gitignore.tmpl` becomes `.gitignore` (npm would drop a packed `.gitignore`).
      const target = relative.slice(0, -'.tmpl'.length).replace(/(^|\/)gitignore$/, '$1.gitignore');
      const text = (await readFile(source, 'utf8')).replace(/__[A-Z_]+__/g, (token) => tokens[token] ?? token);
      await mkdir(path.dirname(path.join(dir, target)), { recursive: true });
      await writeFile(path.join(dir, target), text, { flag: 'wx' });
      files.push(target);
    }
  };
  await walk(TEMPLATE, '');
  return { dir, files: files.sort() };
}
