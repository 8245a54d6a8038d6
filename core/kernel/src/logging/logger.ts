import type { LogFields, Logger } from '@registry-core/api';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Where log lines go; stderr by default so stdout stays for command output. */
export interface LogSink {
  write(line: string): void;
}

const SECRET_KEYS = /authorization|password|token|secret|cookie/i;

/**
 * One JSON line per event (`format: json`), or readable text in a terminal. Fields whose
 * names look like secrets are redacted, so a careless call never leaks a token.
 */
export class StructuredLogger implements Logger {
  constructor(
    private readonly options: { level: LogLevel; format: 'json' | 'pretty'; sink?: LogSink },
    private readonly bound: LogFields = {},
  ) {}

  static create(level: LogLevel, format: 'json' | 'pretty' | 'auto', sink?: LogSink): StructuredLogger {
    const resolved = format === 'auto' ? (process.stderr.isTTY ? 'pretty' : 'json') : format;
    return new StructuredLogger({ level, format: resolved, sink });
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }
  child(fields: LogFields): Logger {
    return new StructuredLogger(this.options, { ...this.bound, ...fields });
  }

  private log(level: LogLevel, message: string, fields?: LogFields): void {
    if (LEVELS[level] < LEVELS[this.options.level]) return;
    const all = redact({ ...this.bound, ...fields });
    const sink = this.options.sink ?? process.stderr;
    if (this.options.format === 'json') {
      sink.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...all })}\n`);
    } else {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      sink.write(`${new Date().toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ''}\n`);
    }
  }
}

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = { message: v.message, code: (v as { code?: unknown }).code };
    else out[k] = SECRET_KEYS.test(k) ? '[redacted]' : v;
  }
  return out;
}
