import DOMPurify from 'dompurify';
import { marked } from 'marked';

// Links out of a README never get this page's window (rel) and never run script (DOMPurify
// drops javascript: URLs and event handlers; the CSP would refuse them anyway).
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('rel', 'noopener noreferrer nofollow');
    node.setAttribute('target', '_blank');
  }
});

// A README's headings sit under the page's own (h1 the package, h2 "README"): # becomes h3.
marked.use({
  renderer: {
    heading({ tokens, depth }) {
      const level = Math.min(depth + 2, 6);
      return `<h${level}>${this.parser.parseInline(tokens)}</h${level}>\n`;
    },
  },
});

/** A README (Markdown, possibly with HTML) as sanitized HTML: no script, no handler, no javascript: URL, no form, no style. */
export function renderMarkdown(markdown: string): string {
  const html = marked.parse(markdown, { async: false, gfm: true });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed', 'base', 'meta', 'link'],
    FORBID_ATTR: ['style', 'srcset', 'action', 'formaction'],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/|\.\.?\/|[^:]*$)/i,
  });
}
