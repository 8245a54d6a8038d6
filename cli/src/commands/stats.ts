import { InvalidArgumentError, type Command } from 'commander';
import { DownloadQueries, sinceDay, statsReport, withMembers, type StatsRepository } from '@registry-core/kernel';
import { withMetadata } from '../runtime.js';

interface StatsOptions {
  config?: string;
  format?: string;
  repository?: string;
  top?: number;
  since?: string;
  package?: string;
  json?: boolean;
}

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer from 1 to 1000');
  return n;
};

/** `1.2 MB` style sizes for the table. */
function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Rows as aligned columns, the first row the header. */
function table(rows: readonly (readonly (string | number)[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((cell, i) => (typeof cell === 'number' ? String(cell).padStart(widths[i]!) : String(cell).padEnd(widths[i]!))).join('  ').trimEnd());
}

/** `stats`: download analytics and storage totals, read from the metadata store (the server may be stopped). */
export function registerStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('downloads per package and version, and totals per repository and format (artifacts, bytes stored, downloads, bytes served, upstream requests saved), from the database')
    .option('-c, --config <file>', 'config file')
    .option('--format <format>', 'only this format')
    .option('--repository <name>', 'only this repository (a group: with its members)')
    .option('--top <n>', 'how many packages to list (default 10)', positive)
    .option('--since <when>', 'first day counted: a day (2026-03-01), a date, or a duration such as 7d (default 30d)')
    .option('--package <name>', "one package's downloads per version and per day")
    .option('--json', 'print JSON')
    .action(async (options: StatsOptions) => {
      let since: string;
      try {
        since = sinceDay(options.since);
      } catch (error) {
        throw new InvalidArgumentError(`--since: ${(error as Error).message}`);
      }
      await withMetadata(options, async (metadata, config) => {
        const known = new Map<string, StatsRepository>(
          Object.entries(config.repositories).map(([name, r]) => [name, { format: r.format, type: r.type, ...(r.members ? { members: r.members } : {}) }]),
        );
        const lookup = (name: string) => known.get(name);
        const repositories = options.repository !== undefined ? withMembers(options.repository, lookup) : undefined;
        const queries = new DownloadQueries(metadata.dataSource);
        const filter = { since, ...(options.format ? { format: options.format } : {}), ...(repositories ? { repositories } : {}) };
        if (options.package !== undefined) {
          const found = await queries.package(options.package, filter);
          if (options.json) {
            console.log(JSON.stringify(found ?? { name: options.package, since, downloads: 0, bytes: 0, versions: [], days: [] }, null, 2));
            return;
          }
          if (!found) {
            console.log(`no download of ${options.package} since ${since}`);
            return;
          }
          console.log(`${found.name}: ${found.downloads} downloads, ${size(found.bytes)} since ${since} (HIT ${found.cache.HIT}, MISS ${found.cache.MISS}, STALE ${found.cache.STALE}, hosted ${found.cache.HOSTED})`);
          console.log('');
          for (const line of table([['VERSION', 'DOWNLOADS', 'BYTES'], ...found.versions.map((v) => [v.version, v.downloads, size(v.bytes)])])) console.log(line);
          console.log('');
          for (const line of table([['DAY', 'DOWNLOADS', 'BYTES'], ...found.days.map((d) => [d.day, d.downloads, size(d.bytes)])])) console.log(line);
          return;
        }
        const report = await statsReport(queries, lookup, { ...filter, top: options.top ?? 10 });
        if (options.json) {
          console.log(JSON.stringify(report, null, 2));
          return;
        }
        const scope = [options.format ? `format ${options.format}` : '', repositories ? `repositories ${repositories.join(', ')}` : ''].filter(Boolean).join(', ');
        console.log(`Downloads since ${since}${scope ? ` (${scope})` : ''}`);
        console.log('');
        if (report.top.length === 0) console.log('no downloads');
        else for (const line of table([['#', 'FORMAT', 'PACKAGE', 'DOWNLOADS', 'BYTES SERVED'], ...report.top.map((p, i) => [i + 1, p.format, p.name, p.downloads, size(p.bytes)])])) console.log(line);
        console.log('');
        const row = (name: string, format: string, t: (typeof report.totals)['all']) => [name, format, t.artifacts, size(t.bytesStored), t.downloads, size(t.bytesServed), t.upstreamSaved];
        for (const line of table([
          ['REPOSITORY', 'FORMAT', 'ARTIFACTS', 'STORED', 'DOWNLOADS', 'SERVED', 'UPSTREAM SAVED'],
          ...Object.entries(report.totals.repositories).map(([name, t]) => row(name, t.format ?? '', t)),
          ...Object.entries(report.totals.formats).map(([format, t]) => row('(all)', format, t)),
          row('(total)', '', report.totals.all),
        ])) console.log(line);
      });
    });
}
