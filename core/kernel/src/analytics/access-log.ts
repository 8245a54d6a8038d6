import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';

/** One request as the structured access log writes it. */
export interface AccessLogEntry {
  readonly requestId: string;
  readonly method: string;
  /** The path without its query, a token in it redacted. */
  readonly path: string;
  readonly status: number;
  /** Body bytes sent (as announced by Content-Length); absent when not known. */
  readonly bytes?: number;
  readonly ms: number;
  readonly repository?: string;
  readonly format?: string;
  /** For a download: the package and version (see `FormatDefinition.downloadOf`). */
  readonly package?: string;
  readonly version?: string;
  /** `HIT`, `MISS`, `STALE` (a proxy's answer), as `X-Cache` said. */
  readonly cache?: string;
  /** The principal's name (`anonymous` without credentials); never a credential. */
  readonly user?: string;
}

/**
 * The structured access log (`logging.accessLogFile`): one JSON line per request appended to
 * a file, written through a stream (the serving path never waits on the disk). Fields are
 * chosen, never copied from the request: no header, query or credential can reach it.
 */
export class AccessLog {
  private readonly stream: WriteStream;

  constructor(file: string, onError: (error: Error) => void) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
    this.stream.on('error', onError);
  }

  write(entry: AccessLogEntry): void {
    this.stream.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
