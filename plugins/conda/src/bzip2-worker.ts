// The bzip2 encoder off the server's event loop (see bzip2Compressor): one stream's blocks.
import { parentPort, workerData } from 'node:worker_threads';
import { runBzip2Worker } from './bzip2.js';

runBzip2Worker(parentPort!, (workerData as { level: number }).level);
