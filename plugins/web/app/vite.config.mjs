import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// The page is served at the web prefix, its files under /-/web/ (see WebAppHost in the kernel).
export default defineConfig({
  root: here,
  base: '/-/web/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: path.join(here, '..', 'dist', 'app'),
    emptyOutDir: true,
    // No inline <script> or data: module preload: the page's Content-Security-Policy forbids them.
    modulePreload: false,
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
