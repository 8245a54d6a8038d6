import type { Command } from 'commander';
import { createRegistry, load } from '../runtime.js';

/** `storage copy`: move blobs between configured stores. */
export function registerStorageCommands(program: Command): void {
  program
    .command('storage')
    .description('blob store commands')
    .command('copy')
    .description('copy every blob the metadata refers to from one configured storage into another, verifying each; resumable (blobs already copied are skipped)')
    .requiredOption('--from <name>', 'source storage (a key of `storage` in the config)')
    .requiredOption('--to <name>', 'target storage')
    .option('--switch', 'once every blob is copied, point the metadata at the target (then move repositories to it in the config)')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { from: string; to: string; switch?: boolean; config?: string }) => {
      const registry = await createRegistry(await load(options));
      const tty = process.stderr.isTTY;
      let lastShown = -1;
      const progress = (done: number, total: number, bytes: number) => {
        const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
        if (!tty && percent < lastShown + 5 && done !== total) return;
        lastShown = percent;
        const bar = '#'.repeat(Math.round(percent / 5)).padEnd(20, '.');
        const line = `[${bar}] ${percent}% ${done}/${total} blobs, ${(bytes / 1024 / 1024).toFixed(1)} MB copied`;
        if (tty) process.stderr.write(`\r${line}`);
        else console.error(line);
      };
      try {
        const summary = await registry.copyStorage(options.from, options.to, { switchRows: !!options.switch, onProgress: progress });
        if (tty) process.stderr.write('\n');
        for (const f of summary.failed) console.log(`FAILED ${f.blobKey}: ${f.reason}`);
        console.log(
          `${summary.blobs} blobs: ${summary.copied} copied (${summary.bytesCopied} bytes), ${summary.skipped} already there, ${summary.failed.length} failed` +
            (options.switch ? (summary.failed.length === 0 ? `; ${summary.rowsSwitched} assets now in ${options.to}` : '; metadata not switched') : ''),
        );
        if (summary.failed.length > 0) process.exitCode = 1;
      } finally {
        await registry.stop();
      }
    });
}
