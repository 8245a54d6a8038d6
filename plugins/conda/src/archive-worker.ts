// Runs the archive checks of one upload off the event loop: decompressing a package in pure
// JavaScript (fzstd, unbzip2-stream) takes seconds for a large one, during which the
// server's thread would answer nobody.
import { parentPort, workerData } from 'node:worker_threads';
import { readCondaIndex, readTarBz2Index, type ArchiveLimits } from './archive.js';

interface Job {
  readonly file: string;
  /** The file name's stem for a `.conda`; absent for a `.tar.bz2`. */
  readonly condaStem?: string;
  readonly limits: ArchiveLimits;
}

const job = workerData as Job;
try {
  const index = job.condaStem !== undefined ? await readCondaIndex(job.file, job.condaStem, job.limits) : await readTarBz2Index(job.file, job.limits);
  parentPort!.postMessage({ ok: true, index });
} catch (error) {
  parentPort!.postMessage({ ok: false, status: (error as { status?: number }).status, message: (error as Error).message });
}
