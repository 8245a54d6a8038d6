import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientSetting, ClientSettingsFile } from '@registry-core/api';

const SECTION = /^\s*\[([^\]]+)\]\s*$/;
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
 * others `key = value`; TOML values as strings (lists as arrays).
 */
export function mergeSettings(text: string, settings: readonly ClientSetting[], syntax: ClientSettingsFile['syntax'] = 'ini'): string {
  const toml = syntax === 'toml';
  const lines = text === '' ? [] : text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  for (const setting of settings) {
    const section = setting.section;
    // Lines [start, end) are the section's body (the top of the file for no section).
    let start = section === undefined ? 0 : -1;
    let end = lines.length;
    for (let i = 0; i < lines.length; i++) {
      const header = SECTION.exec(lines[i]!);
      if (!header) continue;
      if (start >= 0 && i >= start) {
        end = i;
        break;
      }
      if (section !== undefined && header[1]!.trim() === section) start = i + 1;
    }
    if (start < 0) {
      if (lines.length > 0 && lines[lines.length - 1] !== '') lines.push('');
      lines.push(`[${section}]`);
      start = lines.length;
      end = lines.length;
    }
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
