/**
 * A small, strict XML reader for the documents formats exchange (Maven's POMs and
 * maven-metadata.xml, NuGet's .nuspec):
 * elements, attributes, text, CDATA, comments and processing instructions. A DOCTYPE is
 * refused outright, so no entity can expand or reach outside the document (XXE), and only
 * the five predefined entities and character references are decoded.
 */

/** An element: its name (prefix stripped), attributes, children and text. */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text content (not its descendants'), trimmed. */
  readonly text: string;
}

/** Thrown for a document that is not well-formed XML. */
export class XmlError extends Error {}

const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string, at: number): string {
  return text.replace(/&([^;&\s]{0,10});/g, (_m, ref: string) => {
    if (ref.startsWith('#x')) return codePoint(Number.parseInt(ref.slice(2), 16), at);
    if (ref.startsWith('#')) return codePoint(Number.parseInt(ref.slice(1), 10), at);
    const value = ENTITIES[ref];
    if (value === undefined) throw new XmlError(`unknown entity &${ref}; near offset ${at}`);
    return value;
  });
}

function codePoint(n: number, at: number): string {
  if (!Number.isInteger(n) || n <= 0 || n > 0x10ffff) throw new XmlError(`bad character reference near offset ${at}`);
  return String.fromCodePoint(n);
}

const localName = (qualified: string) => qualified.slice(qualified.indexOf(':') + 1);

interface Building {
  name: string;
  qualified: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** Parse `source` into its root element; throws {@link XmlError} when it is not well-formed. */
export function parseXml(source: string): XmlElement {
  let i = source.charCodeAt(0) === 0xfeff ? 1 : 0;
  const stack: Building[] = [];
  let root: XmlElement | undefined;
  const fail = (message: string): never => {
    throw new XmlError(`${message} at offset ${i}`);
  };
  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const textEnd = lt < 0 ? source.length : lt;
    if (textEnd > i) {
      const text = source.slice(i, textEnd);
      if (stack.length === 0) {
        if (text.trim() !== '') fail('text outside the root element');
      } else {
        if (text.includes('>') && text.includes(']]>')) fail('"]]>" in text');
        stack[stack.length - 1]!.text += decodeEntities(text, i);
      }
      i = textEnd;
      continue;
    }
    if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (source.startsWith('<![CDATA[', i)) {
      const end = source.indexOf(']]>', i + 9);
      if (end < 0) fail('unterminated CDATA section');
      if (stack.length === 0) fail('CDATA outside the root element');
      stack[stack.length - 1]!.text += source.slice(i + 9, end);
      i = end + 3;
    } else if (source.startsWith('<?', i)) {
      const end = source.indexOf('?>', i + 2);
      if (end < 0) fail('unterminated processing instruction');
      i = end + 2;
    } else if (source.startsWith('<!', i)) {
      fail('DOCTYPE and other declarations are not accepted');
    } else if (source.startsWith('</', i)) {
      const m = NAME.exec(source.slice(i + 2, i + 2 + 512));
      if (!m) fail('bad closing tag');
      const qualified = m![0];
      let j = i + 2 + qualified.length;
      while (/\s/.test(source[j] ?? '')) j++;
      if (source[j] !== '>') fail('bad closing tag');
      const open = stack.pop();
      if (!open || open.qualified !== qualified) fail(`closing tag </${qualified}> does not match <${open?.qualified ?? ''}>`);
      const done: XmlElement = { name: open!.name, attributes: open!.attributes, children: open!.children, text: open!.text.trim() };
      if (stack.length === 0) root = done;
      else stack[stack.length - 1]!.children.push(done);
      i = j + 1;
    } else {
      if (root) fail('a second root element');
      const m = NAME.exec(source.slice(i + 1, i + 1 + 512));
      if (!m) fail('bad tag');
      const qualified = m![0];
      let j = i + 1 + qualified.length;
      const attributes: Record<string, string> = {};
      for (;;) {
        const space = j;
        while (/\s/.test(source[j] ?? '')) j++;
        if (source[j] === '>' || source.startsWith('/>', j)) break;
        if (j === space) fail('attributes must be separated by white space');
        const a = NAME.exec(source.slice(j, j + 512));
        if (!a) fail('bad attribute');
        j += a![0].length;
        while (/\s/.test(source[j] ?? '')) j++;
        if (source[j] !== '=') fail('attribute without a value');
        j++;
        while (/\s/.test(source[j] ?? '')) j++;
        const quote = source[j];
        if (quote !== '"' && quote !== "'") fail('unquoted attribute value');
        const end = source.indexOf(quote!, j + 1);
        if (end < 0) fail('unterminated attribute value');
        const raw = source.slice(j + 1, end);
        if (raw.includes('<')) fail('"<" in an attribute value');
        const key = a![0];
        if (key in attributes) fail(`duplicate attribute ${key}`);
        attributes[key] = decodeEntities(raw, j);
        j = end + 1;
      }
      const element: Building = { name: localName(qualified), qualified, attributes, children: [], text: '' };
      if (source.startsWith('/>', j)) {
        const done: XmlElement = { name: element.name, attributes, children: [], text: '' };
        if (stack.length === 0) root = done;
        else stack[stack.length - 1]!.children.push(done);
        i = j + 2;
      } else {
        stack.push(element);
        i = j + 1;
      }
    }
  }
  if (stack.length > 0) fail(`unclosed element <${stack[stack.length - 1]!.qualified}>`);
  if (!root) fail('no root element');
  return root!;
}

/** The first child named `name`. */
export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name);
}

/** The text of the first child named `name`, when it has some. */
export function childText(element: XmlElement | undefined, name: string): string | undefined {
  const text = child(element, name)?.text;
  return text === undefined || text === '' ? undefined : text;
}

/** Every child named `name`. */
export function children(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.filter((c) => c.name === name) ?? [];
}

/** Text escaped for an element's content or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}
