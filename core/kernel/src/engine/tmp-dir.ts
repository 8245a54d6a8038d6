import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@registry-core/api';

/**
 * Create the folder for request spills and download spools, and remove spools an
 * interrupted process left behind (an hour old, so another process's live ones stay).
 */
export async function prepareTmpDir(dir: string, logger: Logger): Promise<void> {
  await mkdir(dir, { recursive: true });
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('incoming-')) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 3_600_000 && (await unlink(file).then(() => true, () => false))) removed++;
  }
  if (removed > 0) logger.info(`removed ${removed} download spools left by an interrupted process`);
}
