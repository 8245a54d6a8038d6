import type { PackageView, RepositoryHandle, RepositoryInfo } from '@registry-core/api';
import { cratePath, loadHostedCrate } from './hosted.js';
import { registryName } from './names.js';

/**
 * A hosted crate for people (FormatDefinition.packageView): a version's dependencies from its
 * index line (kind, optional, renamed), its .crate file, the description of the latest
 * publish. No README: the publish body's README is not kept.
 */
export async function cargoPackageView(repository: RepositoryHandle, canonical: string, version: string | undefined): Promise<PackageView | undefined> {
  const crate = (await loadHostedCrate(repository, canonical))?.value;
  if (!crate || crate.lines.length === 0) return undefined;
  const line = version === undefined ? crate.lines.at(-1)! : crate.lines.find((l) => l.vers === version);
  if (!line) return undefined;
  return {
    version: line.vers,
    ...(crate.metadata?.description ? { description: crate.metadata.description } : {}),
    dependencies: line.deps.map((d) => ({
      name: d.package ?? d.name,
      range: d.req,
      kind: [d.kind === 'normal' ? 'runtime' : d.kind, ...(d.optional ? ['optional'] : []), ...(d.target ? [d.target] : [])].join(', '),
    })),
    files: [{ path: cratePath(line.name, line.vers), name: `${line.name.toLowerCase()}-${line.vers}.crate` }],
    facts: { ...(line.yanked ? { yanked: 'yes' } : {}), ...(line.rust_version ? { 'rust version': line.rust_version } : {}) },
  };
}

/** `cargo add <name>@<version> --registry <name>` (FormatDefinition.installLines). */
export function cargoInstallLines(repository: RepositoryInfo, name: string, version: string | undefined): string[] {
  return [`cargo add ${name}${version ? `@${version}` : ''} --registry ${registryName(repository)}`];
}
