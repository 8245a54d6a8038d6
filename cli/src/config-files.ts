import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientSetting, ClientSettingsFile } from '@registry-core/api';
import { parseDocument, isMap, isScalar, isSeq } from 'yaml';
import { XmlMergeError, mergeXml } from './config-xml.js';

/** `[section]`, or `[[table]]` of an array of tables (TOML): [1] is `[[` for the latter. */
const SECTION = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*$/;
/** A TOML section `name[key=value]`: the `[[name]]` table whose `key` is `"value"`. */
const KEYED_TABLE = /^([^[\]]+)\[([^=\]]+)=([^\]]*)\]$/;
const ENTRY = /^\s*([^=;#\s][^=]*?)\s*=(.*)$/;

/** A TOML array of strings as items, or `undefined` when the text is not one. */
function tomlItems(text: string): string[] | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `text` (an ini or TOML file: `key = value` lines, optionally under `[section]` headers; `;`
 * and `#` comments) with `settings` applied: a key already set in its section is replaced in
 * place, a new one goes at the end of its section (a new section at the end of the file); a
 * list item is added to the list unless there. Everything else (comments, order, other keys)
 * is kept as written. ini lines under no section are written `key=value` (.npmrc's style),
 * others `key = value`; TOML values as strings (lists as arrays). JSON and YAML: the settings
 * set at their paths, the rest of the document kept (YAML's comments too; JSON re-indented as
 * the file was); XML: see {@link mergeXml}. Throws {@link MergeRefused} for a file whose shape
 * does not take the settings.
 */
export function mergeSettings(text: string, settings: readonly ClientSetting[], syntax: ClientSettingsFile['syntax'] = 'ini'): string {
  if (syntax === 'whole') throw new Error('a whole file is written as its content, not merged');
  try {
    if (syntax === 'json') return mergeJson(text, settings);
    if (syntax === 'yaml') return mergeYaml(text, settings);
    if (syntax === 'xml') return mergeXml(text, settings);
  } catch (error) {
    if (error instanceof XmlMergeError || error instanceof MergeRefused) throw new MergeRefused(`cannot merge into it: ${error.message}`);
    throw error;
  }
  return mergeLines(text, settings, syntax === 'toml');
}

/** A file whose shape does not take the settings: left as it is. */
export class MergeRefused extends Error {}

/** The TOML string `text` is, or the text itself. */
function tomlString(text: string): string {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'string' ? value : text;
  } catch {
    return /^'.*'$/.test(text) ? text.slice(1, -1) : text;
  }
}

/** Lines [start, end) of `section`'s body (the top of the file for none), or undefined. */
function sectionBody(lines: readonly string[], section: string | undefined, toml: boolean): [number, number] | undefined {
  const headers = lines.flatMap((l, i) => {
    const m = SECTION.exec(l);
    return m ? [{ at: i, array: m[1] === '[[', name: m[2]! }] : [];
  });
  const next = (i: number) => headers.find((h) => h.at > i)?.at ?? lines.length;
  if (section === undefined) return [0, next(-1)];
  const keyed = toml ? KEYED_TABLE.exec(section) : null;
  for (const h of headers) {
    const body: [number, number] = [h.at + 1, next(h.at)];
    if (!keyed) {
      if (!h.array && h.name === section) return body;
      continue;
    }
    if (!h.array || h.name !== keyed[1]) continue;
    for (let i = body[0]; i < body[1]; i++) {
      const entry = ENTRY.exec(lines[i]!);
      if (entry && entry[1]!.trim() === keyed[2] && tomlString(entry[2]!.trim()) === keyed[3]) return body;
    }
  }
  return undefined;
}

/** ini and TOML: see {@link mergeSettings}. */
function mergeLines(text: string, settings: readonly ClientSetting[], toml: boolean): string {
  const lines = text === '' ? [] : text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  for (const setting of settings) {
    const section = setting.section;
    let body = sectionBody(lines, section, toml);
    if (!body) {
      if (lines.length > 0 && lines[lines.length - 1] !== '') lines.push('');
      const keyed = toml ? KEYED_TABLE.exec(section!) : null;
      if (keyed) lines.push(`[[${keyed[1]}]]`, `${keyed[2]} = ${JSON.stringify(keyed[3])}`);
      else lines.push(`[${section}]`);
      body = sectionBody(lines, section, toml)!;
    }
    const [start, end] = body;
    const written = (items: readonly string[]) => (toml ? (setting.listItem ? `[${items.map((i) => JSON.stringify(i)).join(', ')}]` : JSON.stringify(items[0])) : items.join(' '));
    const line = (items: readonly string[]) => (section === undefined && !toml ? `${setting.key}=${written(items)}` : `${setting.key} = ${written(items)}`);
    let found = -1;
    for (let i = start; i < end; i++) {
      const entry = ENTRY.exec(lines[i]!);
      if (entry && entry[1]!.trim() === setting.key) found = i;
    }
    if (found < 0) {
      // After the section's last non-blank line.
      let at = end;
      while (at > start && lines[at - 1]!.trim() === '') at--;
      lines.splice(at, 0, line([setting.value]));
      continue;
    }
    if (setting.listItem) {
      const current = ENTRY.exec(lines[found]!)![2]!.trim();
      const items = toml ? (tomlItems(current) ?? []) : current.split(/\s+/).filter(Boolean);
      if (!items.includes(setting.value)) lines[found] = line([...items, setting.value]);
    } else {
      lines[found] = line([setting.value]);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Write `content` to `file` atomically (a temporary file renamed over it), readable by its
 * owner only when it holds a secret; an existing file is first copied to `<file>.bak-<time>`.
 * Resolves the backup's path, if one was made.
 */
export function writeWithBackup(file: string, content: string, secret: boolean): string | undefined {
  mkdirSync(path.dirname(file), { recursive: true });
  let backup: string | undefined;
  if (existsSync(file)) {
    backup = `${file}.bak-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
    copyFileSync(file, backup);
  }
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, content, { mode: secret ? 0o600 : 0o644 });
  if (secret) chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  return backup;
}

/** The file's text, or `''` when there is none. */
export function readIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

const pathOf = (setting: ClientSetting) => [...(setting.section ? setting.section.split('/') : []), setting.key];

/** JSON (Docker's `config.json`): objects made along each setting's path; a list item added to an array once. */
function mergeJson(text: string, settings: readonly ClientSetting[]): string {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  let document: unknown = {};
  if (text.trim() !== '') {
    try {
      document = JSON.parse(text) as unknown;
    } catch (error) {
      throw new MergeRefused(`it is not JSON (${(error as Error).message})`);
    }
  }
  if (!isObject(document)) throw new MergeRefused('it is not a JSON object');
  for (const setting of settings) {
    const path = pathOf(setting);
    let node = document;
    for (const step of path.slice(0, -1)) {
      const child = Object.hasOwn(node, step) ? node[step] : (node[step] = {});
      if (!isObject(child)) throw new MergeRefused(`${path.join('.')}: ${step} is not an object`);
      node = child;
    }
    const key = path[path.length - 1]!;
    if (!setting.listItem) node[key] = setting.value;
    else {
      const list = Object.hasOwn(node, key) ? node[key] : (node[key] = []);
      if (!Array.isArray(list)) throw new MergeRefused(`${path.join('.')} is not an array`);
      if (!list.includes(setting.value)) list.push(setting.value);
    }
  }
  const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? '\t';
  return `${JSON.stringify(document, null, indent)}\n`;
}

/** YAML (`.condarc`): maps made along each setting's path; a list item added to a sequence once; comments kept. */
function mergeYaml(text: string, settings: readonly ClientSetting[]): string {
  const document = parseDocument(text);
  if (document.errors.length) throw new MergeRefused(`it is not YAML (${document.errors[0]!.message})`);
  if (document.contents !== null && !isMap(document.contents)) throw new MergeRefused('it is not a YAML mapping');
  for (const setting of settings) {
    const path = pathOf(setting);
    for (let i = 1; i < path.length; i++) {
      const node = document.getIn(path.slice(0, i), true);
      if (node !== undefined && !isMap(node)) throw new MergeRefused(`${path.slice(0, i).join('.')} is not a mapping`);
    }
    const current = document.getIn(path, true);
    if (!setting.listItem) document.setIn(path, setting.value);
    else if (current === undefined || current === null || (isScalar(current) && current.value === null)) document.setIn(path, document.createNode([setting.value]));
    else if (!isSeq(current)) throw new MergeRefused(`${path.join('.')} is not a list`);
    else if (!current.items.some((i) => (isScalar(i) ? i.value : i) === setting.value)) current.add(document.createNode(setting.value));
  }
  return document.toString();
}
