import { type PackageDependency, type PackageFile, type PackageView, type RepositoryHandle, type RepositoryInfo } from '@registry-core/api';
import { loadHostedModule, versionAssetPath } from './hosted.js';
import { escapeCase, modulePathProblem, versionProblem } from './module-path.js';
import { compareVersions, latestVersion } from './semver.js';

/** Largest go.mod (or cached `@v/list`) read for a view. */
const MAX_READ_BYTES = 1024 * 1024;

/** One `require` line's words: a module path and version, quoted or not, and whether `// indirect` marks it. */
function requirement(line: string): PackageDependency | undefined {
  const indirect = /\/\/\s*indirect\b/.test(line);
  const words = line.replace(/\/\/.*$/, '').trim().match(/"(?:[^"\\]|\\.)*"|`[^`]*`|\S+/g) ?? [];
  if (words.length !== 2) return undefined;
  const [path, version] = words.map((w) => (/^["`]/.test(w) ? w.slice(1, -1) : w)) as [string, string];
  return { name: path, range: version, kind: indirect ? 'indirect' : 'direct' };
}

/** The `require` directives of a go.mod (single lines and blocks), and its `go` version. */
export function goModView(goMod: string): { dependencies: PackageDependency[]; go?: string } {
  const dependencies: PackageDependency[] = [];
  let go: string | undefined;
  let block = false;
  for (const raw of goMod.split('\n')) {
    const line = raw.trim();
    if (block) {
      if (line.startsWith(')')) block = false;
      else if (line !== '' && !line.startsWith('//')) {
        const found = requirement(line);
        if (found) dependencies.push(found);
      }
      continue;
    }
    if (/^require\s*\(/.test(line)) block = true;
    else if (/^require\s/.test(line)) {
      const found = requirement(line.slice('require'.length));
      if (found) dependencies.push(found);
    } else {
      const m = /^go\s+(\S+)/.exec(line);
      if (m) go = m[1];
    }
  }
  return { dependencies, ...(go ? { go } : {}) };
}

/** A module's versions: a hosted repository's published ones (pseudo-versions too), or the `@v/list` a proxy cached. */
async function versionsOf(repository: RepositoryHandle, module: string): Promise<string[]> {
  const hosted = (await loadHostedModule(repository, module))?.value;
  if (hosted) return Object.keys(hosted.versions).sort(compareVersions);
  const list = await repository.assets.get(`${escapeCase(module)}/@v/list`);
  if (!list) return [];
  const text = await list.withBytes(MAX_READ_BYTES, (bytes) => bytes.toString('utf8')).catch(() => '');
  return text
    .split('\n')
    .map((v) => v.trim())
    .filter((v) => v !== '' && versionProblem(module, v) === undefined)
    .sort(compareVersions);
}

/**
 * A module for people (FormatDefinition.packageView): its newest tagged version (or the one
 * asked), that version's go.mod `require`s as dependencies (`direct`, `indirect`) and its
 * files (.zip, .mod). No README: reading a member of the module zip needs random access to the
 * whole zip (the format's reader works on a spooled file), which a view does not do.
 */
export async function goPackageView(repository: RepositoryHandle, module: string, version: string | undefined): Promise<PackageView | undefined> {
  if (modulePathProblem(module) !== undefined) return undefined;
  if (version !== undefined && versionProblem(module, version) !== undefined) return undefined;
  const versions = await versionsOf(repository, module);
  const shown = version ?? latestVersion(versions);
  if (shown === undefined || !versions.includes(shown)) return undefined;
  const mod = await repository.assets.get(versionAssetPath(module, shown, 'mod'));
  const parsed = mod ? await mod.withBytes(MAX_READ_BYTES, (bytes) => goModView(bytes.toString('utf8'))).catch(() => undefined) : undefined;
  const entry = (await loadHostedModule(repository, module))?.value.versions[shown];
  const facts: Record<string, string> = {};
  if (parsed?.go) facts['go'] = parsed.go;
  if (entry) {
    facts['published'] = entry.time;
    facts['h1'] = entry.h1;
  }
  const files: PackageFile[] = (['zip', 'mod'] as const).map((ext) => ({ path: versionAssetPath(module, shown, ext), name: `${shown}.${ext}` }));
  return { version: shown, dependencies: parsed?.dependencies ?? [], files, facts };
}

/** `GOPROXY=<url> go get <module>@<version>` (FormatDefinition.installLines). */
export function goInstallLines(repository: RepositoryInfo, module: string, version: string | undefined): string[] {
  return [`GOPROXY=${repository.url},direct go get ${module}@${version ?? 'latest'}`];
}
