import { createHash } from 'node:crypto';
import { yielder, type RenderedJson, type YieldOptions } from '@registry-core/api';

/**
 * JSON.stringify for large values (a packument of tens of thousands of versions) that does
 * not hold the event loop for the whole serialisation, the mirror of `parseJsonYielding`:
 * containers whose text is large are walked member by member, runs of their small members
 * go to JSON.stringify at once, the text becomes UTF-8 Buffer chunks as it grows (never one
 * string of the whole document), and the work yields to the event loop (setImmediate)
 * whenever it has run `budgetMs` in a row.
 *
 * The bytes are those of `Buffer.from(JSON.stringify(value))`: the same members in the same
 * order, `toJSON` called once per value with its key (`""` at the top, the index as a string
 * in arrays), `undefined`, functions and symbols left out of objects and `null` in arrays,
 * boxed primitives unwrapped; a cycle or a BigInt is a TypeError (the message may differ).
 * It is meant for data (parsed documents): a getter may be read more than once.
 *
 * A member whose own text is large but that is not a plain object or array (a huge string,
 * the result of a `toJSON`) is stringified in one call.
 */

/** Options of {@link stringifyJsonYielding}. */
export interface YieldingStringifyOptions extends YieldOptions {
  /**
   * Text handed to one JSON.stringify call, about (a single larger member that is not a
   * container is stringified whole); a container estimated larger is walked member by
   * member. Default 32 Ki characters.
   */
  readonly sliceChars?: number;
  /** Text gathered before it becomes one Buffer chunk, about. Default 64 Ki characters. */
  readonly chunkChars?: number;
  /** Every chunk, as it is made, in order (to hash the bytes on the way). */
  readonly onChunk?: (chunk: Buffer) => void;
}

type Container = Record<string, unknown> | unknown[];

/** `value.toJSON` when it is a function (what JSON.stringify calls), else undefined. */
function toJsonOf(value: unknown): ((key: string) => unknown) | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'bigint')) return undefined;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  return typeof toJSON === 'function' ? (toJSON as (key: string) => unknown) : undefined;
}

/** A plain object or array JSON.stringify walks member by member (not a boxed primitive, not a function). */
function isWalkable(value: unknown): value is Container {
  if (value === null || typeof value !== 'object') return false;
  return !(value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof BigInt);
}

/**
 * About how many characters `value` serialises to, counted only until `limit` is passed
 * (so the cost is bounded by the limit, whatever the value's size; a cycle ends too).
 */
function estimate(value: unknown, limit: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total <= limit) {
    const v = stack.pop();
    if (typeof v === 'string') total += v.length + 2;
    else if (v !== null && typeof v === 'object') {
      if (Array.isArray(v)) {
        total += 2 + v.length;
        if (total > limit) break;
        for (let i = 0; i < v.length; i++) stack.push(v[i]);
      } else {
        total += 2;
        for (const key in v) {
          if (!Object.hasOwn(v, key)) continue;
          total += key.length + 4;
          if (total > limit) break;
          stack.push((v as Record<string, unknown>)[key]);
        }
      }
    } else total += 6;
  }
  return total;
}

/**
 * `Buffer.from(JSON.stringify(value))` as UTF-8 chunks, yielding to the event loop; see the
 * module comment. `undefined` when JSON.stringify returns undefined (a function, a symbol).
 */
export async function stringifyJsonYielding(value: unknown, options: YieldingStringifyOptions = {}): Promise<Buffer[] | undefined> {
  const slice = Math.max(1, options.sliceChars ?? 32 * 1024);
  const chunkChars = Math.max(1, options.chunkChars ?? 64 * 1024);
  const pause = yielder(options);
  const chunks: Buffer[] = [];
  let parts: string[] = [];
  let pending = 0;
  const flushText = (): void => {
    if (pending === 0) return;
    const chunk = Buffer.from(parts.length === 1 ? parts[0]! : parts.join(''), 'utf8');
    parts = [];
    pending = 0;
    options.onChunk?.(chunk);
    chunks.push(chunk);
  };
  const emit = (text: string): void => {
    parts.push(text);
    pending += text.length;
    if (pending >= chunkChars) flushText();
  };
  /** Containers being walked: one met again inside itself is a cycle. */
  const walking = new Set<object>();

  /** The text of one member as JSON.stringify writes it in its holder (`undefined`: left out). */
  const memberText = (key: string, member: unknown): string | undefined => {
    // A one-member holder: JSON.stringify then calls `toJSON` with the right key, and never
    // calls the `toJSON` of what a `toJSON` returned.
    const holder = Object.create(null) as Record<string, unknown>;
    holder[key] = member;
    const text = JSON.stringify(holder);
    return text.length === 2 ? undefined : text.slice(JSON.stringify(key).length + 2, -1);
  };

  /** Write `container` (already past its toJSON), member by member. */
  const walk = async (container: Container): Promise<void> => {
    if (walking.has(container)) throw new TypeError('Converting circular structure to JSON');
    walking.add(container);
    if (Array.isArray(container)) await walkArray(container);
    else await walkObject(container);
    walking.delete(container);
  };

  const walkArray = async (array: unknown[]): Promise<void> => {
    emit('[');
    let run: unknown[] = [];
    let runChars = 0;
    let first = true;
    const flushRun = (): void => {
      if (run.length === 0) return;
      emit((first ? '' : ',') + JSON.stringify(run).slice(1, -1));
      first = false;
      run = [];
      runChars = 0;
    };
    const length = array.length;
    for (let i = 0; i < length; i++) {
      const member = array[i];
      if (toJsonOf(member)) {
        // Called with its index: outside a run, whose indexes would be the run's.
        flushRun();
        emit((first ? '' : ',') + (memberText(String(i), member) ?? 'null'));
        first = false;
      } else {
        const size = isWalkable(member) ? estimate(member, slice) : 0;
        if (size > slice) {
          flushRun();
          if (!first) emit(',');
          first = false;
          await walk(member as Container);
        } else {
          run.push(member);
          runChars += size + 1;
          if (runChars >= slice) flushRun();
        }
      }
      if (pause.due()) await pause();
    }
    flushRun();
    emit(']');
  };

  const walkObject = async (object: Record<string, unknown>): Promise<void> => {
    emit('{');
    // JSON.stringify's members: own enumerable string keys, in this order.
    const keys = Object.keys(object);
    let run = Object.create(null) as Record<string, unknown>;
    let runLength = 0;
    let runChars = 0;
    let first = true;
    const flushRun = (): void => {
      if (runLength === 0) return;
      // Members left out (undefined, functions) leave `{}`.
      const text = JSON.stringify(run);
      if (text.length > 2) {
        emit((first ? '' : ',') + text.slice(1, -1));
        first = false;
      }
      run = Object.create(null) as Record<string, unknown>;
      runLength = 0;
      runChars = 0;
    };
    for (const key of keys) {
      const member = object[key];
      const size = !toJsonOf(member) && isWalkable(member) ? estimate(member, slice) : 0;
      if (size > slice) {
        flushRun();
        emit(`${first ? '' : ','}${JSON.stringify(key)}:`);
        first = false;
        await walk(member as Container);
      } else {
        // A null-prototype holder keeps `__proto__` an own member; keys keep their order
        // (integer-like keys come first in both, ascending).
        run[key] = member;
        runLength++;
        runChars += key.length + size + 4;
        if (runChars >= slice) flushRun();
      }
      if (pause.due()) await pause();
    }
    flushRun();
    emit('}');
  };

  if (toJsonOf(value)) {
    // A toJSON's result is stringified in one call (through a holder, so toJSON is called
    // once, with the key "", and never the toJSON of what it returned).
    const text = memberText('', value);
    if (text === undefined) return undefined;
    emit(text);
  } else if (isWalkable(value) && estimate(value, slice) > slice) {
    await walk(value);
  } else {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) return undefined;
    emit(text);
  }
  flushText();
  return chunks;
}

/**
 * A JSON answer the kernel serialises: {@link stringifyJsonYielding} with the sha256 of the
 * bytes computed on the way (the strong ETag). Throws a TypeError for a value JSON.stringify
 * gives no text for.
 */
export async function renderJsonYielding(value: unknown, options: YieldOptions = {}): Promise<RenderedJson> {
  const hash = createHash('sha256');
  let size = 0;
  const chunks = await stringifyJsonYielding(value, {
    ...options,
    onChunk: (chunk) => {
      hash.update(chunk);
      size += chunk.length;
    },
  });
  if (chunks === undefined) throw new TypeError('the value has no JSON text');
  return { chunks, size, etag: `"${hash.digest('hex')}"` };
}
