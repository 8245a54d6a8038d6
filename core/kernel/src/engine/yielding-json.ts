/**
 * JSON.parse for large documents (an upstream's packument, index or tag list) that does
 * not hold the event loop for the whole parse: a byte loop finds the structure of the
 * large containers, runs of their small members (at most `sliceBytes` of text) go to
 * JSON.parse at once, and the parser yields to the event loop (setImmediate) whenever it
 * has worked `budgetMs` in a row. The value is the one `JSON.parse(bytes.toString('utf8'))`
 * returns: the same members in the same order, duplicate keys last-wins, a `"__proto__"`
 * key an own property (never a prototype change); and what JSON.parse refuses is refused
 * with a SyntaxError (the message differs).
 *
 * Slices start and end at ASCII structural bytes, so no UTF-8 sequence is ever split.
 */
import { yielder } from '@registry-core/api';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from './json-bytes.js';

/** Options of {@link parseJsonYielding}. */
export interface YieldingParseOptions {
  /**
   * Text handed to one JSON.parse call, at most (a single longer scalar is parsed whole).
   * Default 32 KiB: V8 puts a string over 128 KiB in its large-object space, a fresh mapping
   * per string, and cutting a 4.5 MB packument in 256 KiB runs took twice as long (71 ms
   * against 36 ms here) as in 32 KiB ones.
   */
  readonly sliceBytes?: number;
  /** A whole text this long or shorter goes to one JSON.parse call. Default: `sliceBytes` when given, else 256 KiB. */
  readonly wholeBytes?: number;
  /** Milliseconds of work between two yields. Default 4. */
  readonly budgetMs?: number;
  /** Called at every yield (counted by the host's stats). */
  readonly onYield?: () => void;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** A large container being filled, and the key its next large member goes under. */
interface Frame {
  readonly value: Record<string, unknown> | unknown[];
  readonly array: boolean;
  key: string;
}

/** `JSON.parse` of `bytes` as UTF-8, yielding to the event loop; see the module comment. */
export async function parseJsonYielding(bytes: Uint8Array, options: YieldingParseOptions = {}): Promise<unknown> {
  const slice = Math.max(16, options.sliceBytes ?? 32 * 1024);
  const whole = Math.max(slice, options.wholeBytes ?? options.sliceBytes ?? 256 * 1024);
  const budgetMs = options.budgetMs ?? 4;
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = b.length;
  if (n <= whole) return JSON.parse(b.toString('utf8'));

  const fail = (at: number, what: string): never => {
    throw new SyntaxError(`${what} in JSON at position ${at}`);
  };
  const text = (start: number, end: number): string => b.toString('utf8', start, end);
  const skipSpace = (at: number): number => {
    while (at < n && isSpace(b[at]!)) at++;
    return at;
  };
  /** End of the string starting at `at` (its opening quote), past the closing quote. */
  const stringEnd = (at: number): number => {
    for (let j = at + 1; j < n; j++) {
      const c = b[j]!;
      if (c === QUOTE) return j + 1;
      if (c === BACKSLASH) j++;
    }
    return fail(n, 'Unterminated string');
  };
  /**
   * End of the value starting at `at`, or -1 when it is a container reaching past `limit`
   * (then it is parsed member by member). Not a validator: JSON.parse validates the slice.
   */
  const valueEnd = (at: number, limit: number): number => {
    const first = b[at]!;
    if (first === QUOTE) return stringEnd(at);
    if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
      let j = at;
      while (j < n) {
        const c = b[j]!;
        if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isSpace(c)) break;
        j++;
      }
      if (j === at) fail(at, `Unexpected token '${String.fromCharCode(first)}'`);
      return j;
    }
    let depth = 0;
    const stop = Math.min(n, limit);
    for (let j = at; j < stop; j++) {
      const c = b[j]!;
      if (c === QUOTE) {
        for (j++; j < n; j++) {
          const s = b[j]!;
          if (s === QUOTE) break;
          if (s === BACKSLASH) j++;
        }
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (--depth === 0) return j + 1;
      }
    }
    return stop === n ? fail(n, 'Unexpected end') : -1;
  };
  /** A key at `at` (its quote), its colon and the space after: the key and where its value starts. */
  const keyAt = (at: number): { key: string; value: number } => {
    if (b[at] !== QUOTE) fail(at, 'Expected a property name');
    const end = stringEnd(at);
    const colon = skipSpace(end);
    if (b[colon] !== COLON) fail(colon, "Expected ':' after a property name");
    return { key: JSON.parse(text(at, end)) as string, value: skipSpace(colon + 1) };
  };

  const stack: Frame[] = [];
  let result: unknown;
  const pause = yielder({ budgetMs, ...(options.onYield ? { onYield: options.onYield } : {}) });
  /** Add a finished value to the innermost large container (or make it the result). */
  const place = (value: unknown): void => {
    const frame = stack[stack.length - 1];
    if (!frame) result = value;
    else if (frame.array) (frame.value as unknown[]).push(value);
    else setMember(frame.value as Record<string, unknown>, frame.key, value);
  };
  /** Add the members of a run of small ones (`start` to `end`), parsed at once, to `frame`. */
  const placeRun = (frame: Frame, start: number, end: number): void => {
    const body = text(start, end);
    if (frame.array) {
      const items = JSON.parse(`[${body}]`) as unknown[];
      const target = frame.value as unknown[];
      for (let k = 0; k < items.length; k++) target.push(items[k]);
    } else {
      const members = JSON.parse(`{${body}}`) as Record<string, unknown>;
      const target = frame.value as Record<string, unknown>;
      for (const key of Object.keys(members)) setMember(target, key, members[key]);
    }
  };

  /**
   * Read members of the innermost large container from `at` (just past its opening
   * bracket with `opened`, else just past a member): runs of small ones are parsed at
   * once; containers that end on the way are closed. Returns where the next large member
   * starts (its key, in an object, already in the frame), or `-(end + 1)` once the
   * outermost value has ended at `end`.
   */
  const readMembers = async (at: number, opened: boolean): Promise<number> => {
    let pos = at;
    let first = opened;
    for (;;) {
      const frame = stack[stack.length - 1]!;
      const close = frame.array ? CLOSE_ARRAY : CLOSE_OBJECT;
      let runStart = -1;
      let runEnd = -1;
      for (;;) {
        pos = skipSpace(pos);
        if (pos >= n) fail(n, 'Unexpected end');
        const c = b[pos]!;
        if (c === close) {
          // `[` then `]`, or a member then the end.
          if (runStart !== -1) placeRun(frame, runStart, runEnd);
          stack.pop();
          place(frame.value);
          pos++;
          first = false;
          await pause();
          if (stack.length === 0) return -(pos + 1);
          break;
        }
        if (first) first = false;
        else {
          if (c !== COMMA) fail(pos, `Unexpected token '${String.fromCharCode(c)}'`);
          pos = skipSpace(pos + 1);
          if (b[pos] === close) fail(pos, 'Unexpected trailing comma');
        }
        const memberStart = pos;
        if (!frame.array) {
          const { key, value } = keyAt(pos);
          frame.key = key;
          pos = value;
        }
        if (pos >= n) fail(n, 'Unexpected end');
        const end = valueEnd(pos, memberStart + slice);
        if (end === -1) {
          if (runStart !== -1) placeRun(frame, runStart, runEnd);
          await pause();
          return pos;
        }
        if (runStart === -1) runStart = memberStart;
        runEnd = end;
        pos = end;
        if (runEnd - runStart >= slice) {
          placeRun(frame, runStart, runEnd);
          runStart = -1;
          await pause();
        }
      }
    }
  };

  let i = skipSpace(0);
  for (;;) {
    // A value starts at i.
    if (i >= n) fail(n, 'Unexpected end');
    const end = valueEnd(i, i + slice);
    if (end !== -1) {
      place(JSON.parse(text(i, end)));
      i = end;
      if (stack.length === 0) break;
      i = await readMembers(i, false);
    } else {
      const array = b[i] === OPEN_ARRAY;
      stack.push({ value: array ? [] : {}, array, key: '' });
      i = await readMembers(i + 1, true);
    }
    if (i < 0) {
      i = -i - 1;
      break;
    }
  }
  const tail = skipSpace(i);
  if (tail < n) fail(tail, 'Unexpected non-whitespace character after JSON');
  return result;
}

/** `target[key] = value` as JSON.parse does it: `"__proto__"` becomes an own property. */
function setMember(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}
