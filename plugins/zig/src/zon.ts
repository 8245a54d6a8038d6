/**
 * A parser for the subset of ZON (Zig Object Notation) that `build.zig.zon` uses: anonymous
 * structs and tuples (`.{ ... }`), string literals (with Zig's escapes) and multiline string
 * lines (`\\`), enum literals (`.name`, `.@"name"`), numbers and bare identifiers (`true`,
 * `false`, `null`). The input is hostile (it comes out of an uploaded archive): it is bounded
 * in size and nesting, never evaluated, and fields land in `Map`s (no prototype keys).
 */

export type ZonValue =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'enum'; readonly value: string; readonly quoted: boolean }
  | { readonly kind: 'number'; readonly value: bigint | number }
  | { readonly kind: 'identifier'; readonly value: string }
  | { readonly kind: 'struct'; readonly fields: ReadonlyMap<string, ZonValue> }
  | { readonly kind: 'tuple'; readonly items: readonly ZonValue[] };

/** A ZON text that is not valid (or too large, or too deep). */
export class ZonError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'ZonError';
  }
}

export interface ZonLimits {
  /** Most bytes of text. Default 1 MiB. */
  readonly maxBytes?: number;
  /** Deepest nesting of `.{`. Default 32. */
  readonly maxDepth?: number;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_]/;

/** Parse one ZON value (the whole text). */
export function parseZon(text: string, limits: ZonLimits = {}): ZonValue {
  const maxBytes = limits.maxBytes ?? 1024 * 1024;
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new ZonError(`larger than ${maxBytes} bytes`, 0);
  return new Parser(text, limits.maxDepth ?? 32).document();
}

class Parser {
  private at = 0;

  constructor(private readonly text: string, private readonly maxDepth: number) {}

  document(): ZonValue {
    const value = this.value(0);
    this.skip();
    if (this.at !== this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private fail(message: string): never {
    throw new ZonError(message, this.at);
  }

  /** Skip whitespace and `//` comments. */
  private skip(): void {
    const t = this.text;
    for (;;) {
      const c = t[this.at];
      if (c === ' ' || c === '\n' || c === '\r' || c === '\t') this.at++;
      else if (c === '/' && t[this.at + 1] === '/') {
        const end = t.indexOf('\n', this.at);
        this.at = end === -1 ? t.length : end + 1;
      } else return;
    }
  }

  private value(depth: number): ZonValue {
    this.skip();
    const t = this.text;
    const c = t[this.at];
    if (c === undefined) this.fail('unexpected end of text');
    if (c === '.') {
      if (t[this.at + 1] === '{') {
        if (depth >= this.maxDepth) this.fail(`nested deeper than ${this.maxDepth}`);
        this.at += 2;
        return this.container(depth + 1);
      }
      this.at++;
      if (t[this.at] === '@' && t[this.at + 1] === '"') {
        this.at++;
        return { kind: 'enum', value: this.stringLiteral(), quoted: true };
      }
      return { kind: 'enum', value: this.identifier(), quoted: false };
    }
    if (c === '"') return { kind: 'string', value: this.stringLiteral() };
    if (c === '\\' && t[this.at + 1] === '\\') return { kind: 'string', value: this.multiline() };
    if (c === '-' || (c >= '0' && c <= '9')) return { kind: 'number', value: this.number() };
    if (IDENT_START.test(c)) return { kind: 'identifier', value: this.identifier() };
    this.fail(`unexpected ${JSON.stringify(c)}`);
  }

  /** After `.{`: a struct (`.name = value, ...`), a tuple (`value, ...`), or empty. */
  private container(depth: number): ZonValue {
    this.skip();
    const t = this.text;
    if (t[this.at] === '}') {
      this.at++;
      return { kind: 'struct', fields: new Map() };
    }
    const isStruct = t[this.at] === '.' && t[this.at + 1] !== '{' && this.looksLikeField();
    const fields = new Map<string, ZonValue>();
    const items: ZonValue[] = [];
    for (;;) {
      this.skip();
      if (t[this.at] === '}') break;
      if (isStruct) {
        if (t[this.at] !== '.') this.fail('expected a field (.name = value)');
        this.at++;
        let name: string;
        if (t[this.at] === '@' && t[this.at + 1] === '"') {
          this.at++;
          name = this.stringLiteral();
        } else name = this.identifier();
        this.skip();
        if (t[this.at] !== '=') this.fail('expected "="');
        this.at++;
        if (fields.has(name)) this.fail(`duplicate field ${JSON.stringify(name)}`);
        fields.set(name, this.value(depth));
      } else items.push(this.value(depth));
      this.skip();
      if (t[this.at] === ',') {
        this.at++;
        continue;
      }
      if (t[this.at] === '}') break;
      this.fail('expected "," or "}"');
    }
    this.at++;
    return isStruct ? { kind: 'struct', fields } : { kind: 'tuple', items };
  }

  /** Whether the `.` at the cursor starts `.name =` (a field) rather than an enum literal value. */
  private looksLikeField(): boolean {
    const save = this.at;
    try {
      this.at++;
      if (this.text[this.at] === '@' && this.text[this.at + 1] === '"') {
        this.at++;
        this.stringLiteral();
      } else this.identifier();
      this.skip();
      return this.text[this.at] === '=';
    } catch {
      return false;
    } finally {
      this.at = save;
    }
  }

  private identifier(): string {
    const t = this.text;
    const start = this.at;
    if (!IDENT_START.test(t[this.at] ?? '')) this.fail('expected an identifier');
    while (this.at < t.length && IDENT_CHAR.test(t[this.at]!)) this.at++;
    return t.slice(start, this.at);
  }

  private number(): bigint | number {
    const t = this.text;
    const m = /^-?(?:0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][-+]?[0-9]+)?)/.exec(t.slice(this.at, this.at + 128));
    if (!m) this.fail('expected a number');
    this.at += m[0].length;
    const raw = m[0].replace(/_/g, '');
    if (/[.eE]/.test(raw) && !/^-?0x/.test(raw)) return Number(raw);
    const negative = raw.startsWith('-');
    const body = negative ? raw.slice(1) : raw;
    const value = BigInt(body.startsWith('0o') ? `0o${body.slice(2)}` : body);
    return negative ? -value : value;
  }

  /** A `"..."` literal with Zig's escapes, decoded as UTF-8. */
  private stringLiteral(): string {
    const t = this.text;
    if (t[this.at] !== '"') this.fail('expected a string');
    this.at++;
    const bytes: number[] = [];
    for (;;) {
      const c = t[this.at];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      this.at++;
      if (c === '"') break;
      if (c !== '\\') {
        const code = c.codePointAt(0)!;
        if (code < 0x20 || code === 0x7f) this.fail('control character in a string');
        if (code > 0xffff) this.at++;
        bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
        continue;
      }
      const e = t[this.at++];
      switch (e) {
        case 'n': bytes.push(0x0a); break;
        case 'r': bytes.push(0x0d); break;
        case 't': bytes.push(0x09); break;
        case '\\': bytes.push(0x5c); break;
        case "'": bytes.push(0x27); break;
        case '"': bytes.push(0x22); break;
        case 'x': {
          const hex = t.slice(this.at, this.at + 2);
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail('bad \\x escape');
          bytes.push(parseInt(hex, 16));
          this.at += 2;
          break;
        }
        case 'u': {
          const m = /^\{([0-9a-fA-F]{1,6})\}/.exec(t.slice(this.at, this.at + 9));
          const code = m ? parseInt(m[1]!, 16) : -1;
          if (!m || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) this.fail('bad \\u escape');
          bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
          this.at += m[0].length;
          break;
        }
        default:
          this.fail('unknown escape');
      }
    }
    const buffer = Buffer.from(bytes);
    const decoded = buffer.toString('utf8');
    if (!Buffer.from(decoded, 'utf8').equals(buffer)) this.fail('a string is not valid UTF-8');
    return decoded;
  }

  /** Consecutive `\\` lines: one string, lines joined by `\n`. */
  private multiline(): string {
    const t = this.text;
    const lines: string[] = [];
    for (;;) {
      this.skip();
      if (!(t[this.at] === '\\' && t[this.at + 1] === '\\')) break;
      this.at += 2;
      const end = t.indexOf('\n', this.at);
      const line = t.slice(this.at, end === -1 ? t.length : end).replace(/\r$/, '');
      lines.push(line);
      this.at = end === -1 ? t.length : end;
    }
    return lines.join('\n');
  }
}
