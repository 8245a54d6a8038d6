import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@registry-core/api';

/**
 * Temporary files of this kernel in `dataDir/tmp`: request-body spills (`spill-`),
 * multipart upload parts (`upload-`) and download spools (`incoming-`). A process that
 * is killed leaves them behind; nothing else ever removes them.
 */
const TEMPORARY_PREFIXES = ['spill-', 'upload-', 'incoming-'] as const;

/** Create the folder for request spills and download spools, and sweep it (see {@link sweepTmpDir}). */
export async function prepareTmpDir(dir: string, logger: Logger, graceSeconds = 3600): Promise<void> {
  await mkdir(dir, { recursive: true });
  await sweepTmpDir(dir, logger, graceSeconds);
}

/**
 * Remove temporary files untouched for `graceSeconds`: those of an interrupted process.
 * A live request's files are younger (they are written as the body arrives), and so are
 * another node's on shared storage, as long as the grace exceeds the longest pause.
 * Resolves how many were removed.
 */
export async function sweepTmpDir(dir: string, logger: Logger, graceSeconds: number): Promise<number> {
  let removed = 0;
  const cutoff = Date.now() - graceSeconds * 1000;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!TEMPORARY_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile() && info.mtimeMs <= cutoff && (await unlink(file).then(() => true, () => false))) removed++;
  }
  if (removed > 0) logger.info(`removed ${removed} temporary files left by an interrupted process`, { dir });
  return removed;
}
