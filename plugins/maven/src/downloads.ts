import type { DownloadOf, ServedFile } from '@registry-core/api';
import { packageOf } from './hosted.js';
import { parseMavenPath } from './paths.js';

/**
 * An artifact file of a version (`<group>/<artifactId>/<version>/<artifactId>-<version>[-<classifier>].<ext>`)
 * is a download of `groupId:artifactId` at that version; its POM, Ivy descriptor, checksums
 * and signatures are bytes of it, no download (a build reads the POM of every dependency,
 * parents and BOMs included). Metadata documents are nothing.
 */
export function downloadOf(served: ServedFile): DownloadOf | undefined {
  let parsed;
  try {
    parsed = parseMavenPath(`/${served.assetPath}`);
  } catch {
    return undefined;
  }
  if (parsed.kind !== 'artifact') return undefined;
  const secondary = parsed.checksum !== undefined || parsed.descriptor !== undefined || parsed.extension === 'pom' || parsed.extension.endsWith('.asc');
  return { name: packageOf(parsed), version: parsed.version, ...(secondary ? { counted: false } : {}) };
}
