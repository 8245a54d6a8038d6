/**
 * The one-line string values of a TOML document (`key = "…"` or `'…'`), by dotted path
 * (`package.name`, `source.crates-io.replace-with`): what registry-core reads of a
 * Cargo.toml and of cargo's config, both written one key to a line. Lines inside multi-line
 * strings are text, never keys; tables of arrays (`[[bin]]`) and other values are skipped;
 * a key written twice (invalid TOML) maps to `undefined`, so nobody is misled by either.
 */
export function tomlStrings(text: string): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>();
  let table = '';
  let multiline: string | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const quotes = (delimiter: string) => line.split(delimiter).length - 1;
    if (multiline !== undefined) {
      if (quotes(multiline) % 2 === 1) multiline = undefined;
      continue;
    }
    const opens = ['"""', "'''"].find((d) => quotes(d) % 2 === 1);
    if (opens !== undefined) {
      multiline = opens;
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[\s*([A-Za-z0-9_.\s"-]+?)\s*\]\s*(?:#.*)?$/.exec(line);
    if (header) {
      table = header[1]!.replace(/\s+/g, '').replace(/"/g, '');
      continue;
    }
    if (line.startsWith('[')) {
      table = '\0';
      continue;
    }
    const pair = /^("?)([A-Za-z0-9_.-]+)\1\s*=\s*(.+)$/.exec(line);
    if (!pair || table === '\0') continue;
    const key = table === '' ? pair[2]! : `${table}.${pair[2]!}`;
    const value = tomlString(pair[3]!.trim());
    if (value === undefined) continue;
    values.set(key, values.has(key) ? undefined : value);
  }
  return values;
}

/** A TOML basic ("…", with escapes) or literal ('…') string on one line, else undefined. */
function tomlString(text: string): string | undefined {
  const literal = /^'([^']*)'\s*(?:#.*)?$/.exec(text);
  if (literal) return literal[1];
  const basic = /^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$/.exec(text);
  if (!basic) return undefined;
  try {
    return JSON.parse(`"${basic[1]!}"`) as string;
  } catch {
    return undefined;
  }
}
