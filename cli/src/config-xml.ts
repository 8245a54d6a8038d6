import type { ClientSetting } from '@registry-core/api';

/**
 * Settings merged into an XML configuration file (Maven's `settings.xml`, `NuGet.Config`) by
 * editing its text in place: only the elements a setting addresses are touched (an element or
 * attribute added, a value replaced); comments, order, formatting and every other element stay
 * as written. A document this reader does not follow (a DTD with its own declarations,
 * unbalanced tags, another root element) is refused, never rewritten.
 */

interface XmlElement {
  readonly name: string;
  /** Offsets: `<` of the start tag, just past its `>`, `<` of the end tag (= openEnd when self-closing), past the end tag. */
  readonly start: number;
  readonly openEnd: number;
  readonly closeStart: number;
  readonly end: number;
  readonly selfClosing: boolean;
  readonly attributes: Map<string, { value: string; start: number; end: number }>;
  readonly children: XmlElement[];
}

export class XmlMergeError extends Error {}

const NAME = /^[A-Za-z_][\w.:-]*$/;
const ATTRIBUTE = /([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')/gy;

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const unescape = (text: string) =>
  text.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[\da-fA-F]+);/g, (_, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : e === 'apos' ? "'" : e === 'amp' ? '&' : String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );

/** The document's root element, its tree of elements with their offsets in `text`. */
function parse(text: string): XmlElement {
  const stack: { name: string; start: number; openEnd: number; attributes: XmlElement['attributes']; children: XmlElement[] }[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  const skip = (open: string, close: string) => {
    const at = text.indexOf(close, i + open.length);
    if (at < 0) throw new XmlMergeError(`an unterminated ${open}`);
    i = at + close.length;
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<!--', i)) skip('<!--', '-->');
    else if (text.startsWith('<![CDATA[', i)) skip('<![CDATA[', ']]>');
    else if (text.startsWith('<?', i)) skip('<?', '?>');
    else if (text.startsWith('<!', i)) {
      const gt = text.indexOf('>', i);
      if (gt < 0 || text.slice(i, gt).includes('[')) throw new XmlMergeError('a DOCTYPE with declarations of its own');
      i = gt + 1;
    } else if (text.startsWith('</', i)) {
      const gt = text.indexOf('>', i);
      const name = gt < 0 ? '' : text.slice(i + 2, gt).trim();
      const open = stack.pop();
      if (!open || open.name !== name) throw new XmlMergeError(`an end tag </${name}> that closes no <${name}>`);
      const element: XmlElement = { ...open, closeStart: i, end: gt + 1, selfClosing: false };
      i = gt + 1;
      if (stack.length) stack[stack.length - 1]!.children.push(element);
      else root = element;
    } else {
      const name = /^<([^\s/>]+)/.exec(text.slice(i, i + 200))?.[1] ?? '';
      if (!NAME.test(name)) throw new XmlMergeError(`a tag that is no element at offset ${i}`);
      if (!stack.length && root) throw new XmlMergeError('a second root element');
      let at = i + 1 + name.length;
      const attributes: XmlElement['attributes'] = new Map();
      for (;;) {
        while (/\s/.test(text[at] ?? '')) at++;
        if (text[at] === '>' || text.startsWith('/>', at)) break;
        ATTRIBUTE.lastIndex = at;
        const m = ATTRIBUTE.exec(text);
        if (!m) throw new XmlMergeError(`an unreadable start tag <${name}>`);
        attributes.set(m[1]!, { value: unescape(m[2]!.slice(1, -1)), start: m.index, end: ATTRIBUTE.lastIndex });
        at = ATTRIBUTE.lastIndex;
      }
      const selfClosing = text[at] === '/';
      const openEnd = at + (selfClosing ? 2 : 1);
      if (selfClosing) {
        const element: XmlElement = { name, start: i, openEnd, closeStart: openEnd, end: openEnd, selfClosing, attributes, children: [] };
        if (stack.length) stack[stack.length - 1]!.children.push(element);
        else root = element;
      } else stack.push({ name, start: i, openEnd, attributes, children: [] });
      i = openEnd;
    }
  }
  if (stack.length) throw new XmlMergeError(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) throw new XmlMergeError('no root element');
  return root;
}

/** The text an element holds (entities decoded, surrounding space trimmed), when it holds no elements. */
const textOf = (text: string, e: XmlElement) => {
  if (e.children.length) return undefined;
  const inner = text.slice(e.openEnd, e.closeStart).replace(/<!--[\s\S]*?-->/g, '');
  // Character data as written in CDATA sections, entities decoded elsewhere.
  return inner
    .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
    .map((part) => (part.startsWith('<![CDATA[') ? part.slice(9, -3) : unescape(part)))
    .join('')
    .trim();
};

interface Step {
  readonly name: string;
  readonly key?: { readonly attribute: boolean; readonly name: string; readonly value: string };
}

function steps(section: string): Step[] {
  return section.split('/').map((s) => {
    const m = /^([^[\]]+)\[(@?)([^=\]]+)=([^\]]*)\]$/.exec(s);
    const name = m ? m[1]! : s;
    if (!NAME.test(name)) throw new Error(`not an XML element name: ${name}`);
    return m ? { name, key: { attribute: m[2] === '@', name: m[3]!, value: m[4]! } } : { name };
  });
}

const matches = (text: string, e: XmlElement, step: Step) =>
  e.name === step.name && (!step.key || (step.key.attribute ? e.attributes.get(step.key.name)?.value === step.key.value : e.children.some((c) => c.name === step.key!.name && textOf(text, c) === step.key!.value)));

/** The whitespace a line starts with, for the line `offset` is on. */
function indentAt(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

/** `markup` (lines joined by `\n`) added as the last child of `parent`, indented one level deeper. */
function appendChild(text: string, parent: XmlElement, markup: string, unit: string): string {
  const outer = indentAt(text, parent.start);
  const inner = outer + unit;
  const body = markup
    .split('\n')
    .map((l) => inner + l)
    .join('\n');
  if (parent.selfClosing) {
    const tag = text.slice(parent.start, parent.openEnd).replace(/\s*\/>$/, '>');
    return `${text.slice(0, parent.start)}${tag}\n${body}\n${outer}</${parent.name}>${text.slice(parent.end)}`;
  }
  // After the last thing the element holds; the space before its end tag stays.
  let at = parent.closeStart;
  while (at > parent.openEnd && /\s/.test(text[at - 1]!)) at--;
  const tail = text.slice(at, parent.closeStart).includes('\n') ? '' : `\n${outer}`;
  return `${text.slice(0, at)}\n${body}${tail}${text.slice(at)}`;
}

function newElement(step: Step, unit: string): string {
  if (!step.key) return `<${step.name}>\n</${step.name}>`;
  if (step.key.attribute) return `<${step.name} ${step.key.name}="${escape(step.key.value)}" />`;
  return `<${step.name}>\n${unit}<${step.key.name}>${escape(step.key.value)}</${step.key.name}>\n</${step.name}>`;
}

/** One setting applied to the document `text` (`''`: a new document). */
function apply(text: string, setting: ClientSetting, unit: string): string {
  const path = steps(setting.section ?? '');
  if (text.trim() === '') text = `<?xml version="1.0" encoding="utf-8"?>\n<${path[0]!.name}>\n</${path[0]!.name}>\n`;
  let element = parse(text);
  if (element.name !== path[0]!.name) throw new XmlMergeError(`its root element is <${element.name}>, not <${path[0]!.name}>`);
  for (const step of path.slice(1)) {
    let child = element.children.find((c) => matches(text, c, step));
    if (!child) {
      text = appendChild(text, element, newElement(step, unit), unit);
      // The same element, found again in the edited text.
      element = locate(parse(text), text, path.slice(1, path.indexOf(step)));
      child = element.children.find((c) => matches(text, c, step))!;
    }
    element = child;
  }
  if (setting.key.startsWith('@')) {
    const name = setting.key.slice(1);
    const attribute = `${name}="${escape(setting.value)}"`;
    const current = element.attributes.get(name);
    if (current) return `${text.slice(0, current.start)}${attribute}${text.slice(current.end)}`;
    let at = element.openEnd - (element.selfClosing ? 2 : 1);
    while (/\s/.test(text[at - 1]!)) at--;
    return `${text.slice(0, at)} ${attribute}${text.slice(at)}`;
  }
  const existing = element.children.filter((c) => c.name === setting.key);
  if (setting.listItem && existing.some((c) => textOf(text, c) === setting.value)) return text;
  const current = setting.listItem ? undefined : existing[0];
  if (current && !current.selfClosing) return `${text.slice(0, current.openEnd)}${escape(setting.value)}${text.slice(current.closeStart)}`;
  const markup = `<${setting.key}>${escape(setting.value)}</${setting.key}>`;
  if (current) return `${text.slice(0, current.start)}${markup}${text.slice(current.end)}`;
  return appendChild(text, element, markup, unit);
}

/** The element at `path` below `root` (each step already present). */
function locate(root: XmlElement, text: string, path: readonly Step[]): XmlElement {
  let element = root;
  for (const step of path) element = element.children.find((c) => matches(text, c, step))!;
  return element;
}

/** `text` (an XML document, or `''`) with `settings` applied; see the module comment. */
export function mergeXml(text: string, settings: readonly ClientSetting[]): string {
  // The document's own indentation unit: the first indented element's; two spaces in a new one.
  const unit = /\n([ \t]+)</.exec(text)?.[1] ?? '  ';
  let merged = text.replace(/\r\n/g, '\n');
  for (const setting of settings) merged = apply(merged, setting, unit);
  if (!merged.endsWith('\n')) merged += '\n';
  // A file with Windows line ends keeps them.
  return text.includes('\r\n') ? merged.replace(/\n/g, '\r\n') : merged;
}
