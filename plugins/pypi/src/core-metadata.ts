import { BadRequestError } from '@registry-core/api';

/** Core metadata (METADATA, PKG-INFO): the fields the registry uses, and all of them by lower-case name. */
export interface CoreMetadata {
  readonly metadataVersion?: string;
  readonly name: string;
  readonly version: string;
  readonly summary?: string;
  readonly requiresPython?: string;
  readonly requiresDist: string[];
  /** Every header field by lower-case name, values in order (fields may repeat). */
  readonly fields: Record<string, string[]>;
  readonly description?: string;
}

/**
 * Parse the email-header format of core metadata: `Name: value` lines, continuation lines
 * starting with whitespace, repeated fields, and a body after the first blank line (the
 * description). Refuses metadata without Name or Version.
 */
export function parseCoreMetadata(text: string): CoreMetadata {
  const normalized = text.replace(/\r\n?/g, '\n');
  const blank = normalized.indexOf('\n\n');
  const head = blank >= 0 ? normalized.slice(0, blank) : normalized;
  const body = blank >= 0 ? normalized.slice(blank + 2) : '';
  const fields: Record<string, string[]> = {};
  let last: { key: string; index: number } | undefined;
  for (const line of head.split('\n')) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && last) {
      const values = fields[last.key]!;
      values[last.index] = `${values[last.index]}\n${line.replace(/^[ \t]{1,8}\|?/, '')}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const values = (fields[key] ??= []);
    values.push(value);
    last = { key, index: values.length - 1 };
  }
  const first = (key: string) => fields[key]?.[0];
  const name = first('name');
  const version = first('version');
  if (!name) throw new BadRequestError('The distribution has no "Name" in its metadata.');
  if (!version) throw new BadRequestError('The distribution has no "Version" in its metadata.');
  const description = body.trim() !== '' ? body : first('description');
  return {
    ...(first('metadata-version') ? { metadataVersion: first('metadata-version')! } : {}),
    name,
    version,
    ...(first('summary') ? { summary: first('summary')! } : {}),
    ...(first('requires-python') ? { requiresPython: first('requires-python')! } : {}),
    requiresDist: fields['requires-dist'] ?? [],
    fields,
    ...(description ? { description } : {}),
  };
}
