/**
 * A streaming reader of a large JSON object, member by member, for documents too large to
 * parse whole (a conda channel's `repodata.json`: hundreds of megabytes, a few hundred bytes
 * per record). It holds one member's bytes and one chunk at a time, never the document.
 */

/** One member given by {@link jsonObjectMembers}. */
export interface JsonMember {
  /** The key of the top-level member this one is inside (a descended member), or `undefined` for a top-level member. */
  readonly parent: string | undefined;
  /** The member's key; `undefined` for an element of a descended array. */
  readonly key: string | undefined;
  /** The value's JSON text, as in the document (`JSON.parse` it when wanted). */
  readonly raw: Buffer;
}

/** Options of {@link jsonObjectMembers}. */
export interface JsonMembersOptions {
  /**
   * Top-level members (by key) whose value, when an object or an array, is given member by
   * member (element by element) instead of whole.
   */
  readonly descend?: (key: string) => boolean;
  /** Bytes one given member may take; a larger one fails the read with a SyntaxError. */
  readonly maxMemberBytes: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * The members of the JSON object `source`'s bytes hold, in document order: each top-level
 * member whole, or, for one `descend` picks, each of its members (elements). Memory: one
 * member (at most `maxMemberBytes`) plus one chunk of `source`. The structure is checked
 * (nesting, strings, a top-level object); the values are checked when the caller parses
 * them. Bytes that are not such an object: a SyntaxError.
 */
export async function* jsonObjectMembers(source: AsyncIterable<Uint8Array>, options: JsonMembersOptions): AsyncGenerator<JsonMember> {
  const { descend, maxMemberBytes } = options;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let ended = false;
  /** The top-level member being descended into, and whether it is an array. */
  let inside: { key: string; array: boolean } | undefined;
  /** Bytes of the current unit (a member at the depth being captured), kept across chunks. */
  let parts: Buffer[] = [];
  let partsBytes = 0;
  let capturing = false;
  /** Offset in the unit of its first `:` at the captured depth, -1 before it. */
  let colon = -1;
  /** At depth 1, after a key's colon: the key, until the value's first byte decides whether to descend. */
  let deciding: string | undefined;

  const unitText = (chunk: Buffer, from: number, to: number): Buffer => (parts.length === 0 ? chunk.subarray(from, to) : Buffer.concat([...parts, chunk.subarray(from, to)]));
  const fail = (why: string) => new SyntaxError(`not a JSON object: ${why}`);
  const memberOf = (unit: Buffer, parent: string | undefined, array: boolean): JsonMember | undefined => {
    let start = 0;
    while (start < unit.length && WS.has(unit[start]!)) start++;
    if (start === unit.length) return undefined;
    if (array) return { parent, key: undefined, raw: unit.subarray(start) };
    if (colon < 0) throw fail('a member without a value');
    const key = JSON.parse(unit.subarray(start, colon).toString('utf8')) as unknown;
    if (typeof key !== 'string') throw fail('a key that is not a string');
    return { parent, key, raw: unit.subarray(colon + 1) };
  };

  for await (const data of source) {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let unitStart = 0;
    const capturedDepth = () => (inside ? 2 : 1);
    /** The next backslash at or after `i` (-1: none), found once per chunk and as `i` passes it. */
    let backslash = chunk.indexOf(0x5c);
    for (let i = 0; i < chunk.length; i++) {
      if (inString) {
        // Most bytes are in strings: jump to the string's end (or the next escape) at once.
        if (escaped) {
          escaped = false;
          continue;
        }
        if (backslash !== -1 && backslash < i) backslash = chunk.indexOf(0x5c, i);
        const quote = chunk.indexOf(0x22, i);
        if (backslash !== -1 && (quote === -1 || backslash < quote)) {
          i = backslash;
          escaped = true;
        } else if (quote === -1) i = chunk.length - 1;
        else {
          i = quote;
          inString = false;
        }
        continue;
      }
      const b = chunk[i]!;
      if (WS.has(b)) continue;
      if (ended) throw fail('bytes after the end');
      if (deciding !== undefined) {
        const key = deciding;
        deciding = undefined;
        if ((b === 0x7b || b === 0x5b) && descend?.(key)) {
          // The member is given piecewise: its key and colon are dropped, its members captured.
          inside = { key, array: b === 0x5b };
          depth++;
          parts = [];
          partsBytes = 0;
          capturing = true;
          colon = -1;
          unitStart = i + 1;
          continue;
        }
      }
      if (b === 0x22) {
        inString = true;
        continue;
      }
      if (b === 0x7b || b === 0x5b) {
        if (depth === 0 && b !== 0x7b) throw fail('the document is not an object');
        depth++;
        if (depth === 1) {
          capturing = true;
          unitStart = i + 1;
          colon = -1;
        }
        continue;
      }
      if (b === 0x3a) {
        if (capturing && depth === capturedDepth() && colon < 0) {
          colon = partsBytes + (i - unitStart);
          if (depth === 1 && descend) {
            const key = JSON.parse(unitText(chunk, unitStart, i).toString('utf8').trim()) as unknown;
            if (typeof key !== 'string') throw fail('a key that is not a string');
            deciding = key;
          }
        }
        continue;
      }
      if (b === 0x2c || b === 0x7d || b === 0x5d) {
        const closing = b !== 0x2c;
        if (capturing && depth === capturedDepth()) {
          const member = memberOf(unitText(chunk, unitStart, i), inside?.key, inside?.array ?? false);
          if (member) yield member;
          parts = [];
          partsBytes = 0;
          colon = -1;
          unitStart = i + 1;
        }
        if (closing) {
          if (depth === 0) throw fail('unbalanced brackets');
          depth--;
          if (inside && depth === 1) {
            // The descended member ends; the next unit at depth 1 starts after the next comma.
            inside = undefined;
            capturing = false;
          } else if (depth === 0) {
            ended = true;
            capturing = false;
          }
        } else if (depth === 1 && !inside && !capturing) {
          capturing = true;
          unitStart = i + 1;
          colon = -1;
        }
        continue;
      }
    }
    if (capturing && unitStart < chunk.length) {
      const rest = chunk.subarray(unitStart);
      partsBytes += rest.length;
      if (partsBytes > maxMemberBytes) throw fail(`a member larger than ${maxMemberBytes} bytes`);
      // A copy: the source may reuse its chunk's memory.
      parts.push(Buffer.from(rest));
    }
  }
  if (!ended) throw fail('it ends early');
}
