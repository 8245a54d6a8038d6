/**
 * Maven's version ordering (`org.apache.maven.artifact.versioning.ComparableVersion`):
 * versions are lists of numbers and qualifiers split at `.`, `-` and digit/letter
 * transitions; `-` opens a sub-list; trailing zeros, empty qualifiers and `ga`/`final`/
 * `release` are dropped; known qualifiers order `alpha < beta < milestone < rc = cr <
 * snapshot < (release) < sp`, unknown ones after those, alphabetically; a number sorts
 * after any qualifier.
 */

type Item = { readonly kind: 'int'; readonly value: bigint } | { readonly kind: 'string'; readonly value: string } | ListItem;
interface ListItem {
  readonly kind: 'list';
  readonly items: Item[];
}

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));

function comparableQualifier(qualifier: string): string {
  const index = QUALIFIERS.indexOf(qualifier);
  return index >= 0 ? String(index) : `${QUALIFIERS.length}-${qualifier}`;
}

const cmp = (a: string | bigint, b: string | bigint) => (a < b ? -1 : a > b ? 1 : 0);

function stringItem(value: string, followedByDigit: boolean): Item {
  if (followedByDigit && value.length === 1) value = ({ a: 'alpha', b: 'beta', m: 'milestone' } as Record<string, string>)[value] ?? value;
  return { kind: 'string', value: ALIASES[value] ?? value };
}

function parseItem(isDigit: boolean, text: string): Item {
  return isDigit ? { kind: 'int', value: BigInt(text) } : stringItem(text, false);
}

function isNull(item: Item): boolean {
  if (item.kind === 'int') return item.value === 0n;
  if (item.kind === 'string') return comparableQualifier(item.value) === RELEASE_INDEX;
  return item.items.length === 0;
}

function normalize(list: ListItem): void {
  for (let i = list.items.length - 1; i >= 0; i--) {
    const last = list.items[i]!;
    if (isNull(last)) list.items.splice(i, 1);
    else if (last.kind !== 'list') break;
  }
}

/** Parse a version into Maven's item list. */
function parse(version: string): ListItem {
  const text = version.toLowerCase();
  const root: ListItem = { kind: 'list', items: [] };
  let list = root;
  const stack: ListItem[] = [root];
  const open = () => {
    const next: ListItem = { kind: 'list', items: [] };
    list.items.push(next);
    list = next;
    stack.push(next);
  };
  let isDigit = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '.' || c === '-') {
      list.items.push(i === start ? { kind: 'int', value: 0n } : parseItem(isDigit, text.slice(start, i)));
      start = i + 1;
      if (c === '-') open();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        // `1.0.0.X1` sorts as `1.0.0-X1`: a qualifier followed by a number opens a sub-list.
        if (list.items.length > 0) open();
        list.items.push(stringItem(text.slice(start, i), true));
        start = i;
        open();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.items.push(parseItem(true, text.slice(start, i)));
        start = i;
        open();
      }
      isDigit = false;
    }
  }
  if (text.length > start) {
    if (!isDigit && list.items.length > 0) open();
    list.items.push(parseItem(isDigit, text.slice(start)));
  }
  while (stack.length > 0) normalize(stack.pop()!);
  return root;
}

/** `item` against `other`, where `undefined` is the absent item past a list's end. */
function compareItem(item: Item, other: Item | undefined): number {
  if (item.kind === 'int') {
    if (other === undefined) return item.value === 0n ? 0 : 1;
    return other.kind === 'int' ? cmp(item.value, other.value) : 1;
  }
  if (item.kind === 'string') {
    if (other === undefined) return cmp(comparableQualifier(item.value), RELEASE_INDEX);
    if (other.kind === 'int' || other.kind === 'list') return -1;
    return cmp(comparableQualifier(item.value), comparableQualifier(other.value));
  }
  if (other === undefined) return item.items.length === 0 ? 0 : compareItem(item.items[0]!, undefined);
  if (other.kind === 'int') return -1;
  if (other.kind === 'string') return 1;
  const n = Math.max(item.items.length, other.items.length);
  for (let i = 0; i < n; i++) {
    const l = item.items[i];
    const r = other.items[i];
    const result = l === undefined ? (r === undefined ? 0 : -compareItem(r, undefined)) : compareItem(l, r);
    if (result !== 0) return result;
  }
  return 0;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` in Maven's order. */
export function compareVersions(a: string, b: string): number {
  return compareItem(parse(a), parse(b));
}

/** `versions` in Maven's order, each parsed once (a sort compares each many times). */
export function sortVersions(versions: readonly string[]): string[] {
  return versions
    .map((version) => ({ version, item: parse(version) }))
    .sort((a, b) => compareItem(a.item, b.item))
    .map((entry) => entry.version);
}

/** True for a SNAPSHOT version (`1.0-SNAPSHOT`, or a timestamped `1.0-20240101.120000-3`). */
export function isSnapshotVersion(version: string): boolean {
  return version.endsWith('-SNAPSHOT') || TIMESTAMPED.test(version);
}

/** `<base>-<yyyyMMdd.HHmmss>-<buildNumber>`, a deployed SNAPSHOT build. */
export const TIMESTAMPED = /^(.+)-(\d{8}\.\d{6})-(\d{1,9})$/;
