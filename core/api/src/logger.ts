/** Structured fields attached to a log event. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The host's structured logger. In production each event is one JSON line; in a
 * terminal it is readable text. Never log secrets (tokens, passwords, Authorization).
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every event. */
  child(fields: LogFields): Logger;
}
