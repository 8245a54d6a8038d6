import { describe, expect, it } from 'vitest';
import { child, childText, escapeXml, parseXml } from './xml.js';

describe('the XML reader', () => {
  it('reads elements, attributes, namespaces, entities, CDATA, comments and declarations', () => {
    const root = parseXml(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:x='urn:x'>
  <x:groupId>com.example</x:groupId>
  <name>A &amp; B &lt;3 &#65;&#x42;</name>
  <description><![CDATA[<raw> & text]]></description>
  <empty/>
</project>`);
    expect(root.name).toBe('project');
    expect(root.attributes['xmlns']).toBe('http://maven.apache.org/POM/4.0.0');
    expect(childText(root, 'groupId')).toBe('com.example');
    expect(childText(root, 'name')).toBe('A & B <3 AB');
    expect(childText(root, 'description')).toBe('<raw> & text');
    expect(child(root, 'empty')).toMatchObject({ text: '', children: [] });
  });

  it('refuses what is not well-formed, and any DOCTYPE (no entity expansion)', () => {
    for (const bad of [
      'not xml at all',
      '',
      '<a><b></a></b>',
      '<a>',
      '<a></a><b></b>',
      '<a x=1></a>',
      '<a x="1" x="2"></a>',
      '<a>&unknown;</a>',
      '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',
      '<a><!-- open</a>',
      'text<a></a>',
      '<a x="1"y="2"></a>',
    ]) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });

  it('escapes text for elements and attributes', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
    expect(childText(parseXml(`<a><b>${escapeXml('1 < 2 & "q"')}</b></a>`), 'b')).toBe('1 < 2 & "q"');
  });
});
