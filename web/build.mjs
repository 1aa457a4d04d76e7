// Bundles src/app.js (with marked and highlight.js) and the styles into
// dist/, which hearth embeds at build time. Run: npm ci && npm run build.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
await build({
  entryPoints: ['src/app.js'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outfile: 'dist/app.js',
  legalComments: 'none',
});
const hljsCss = readFileSync('node_modules/highlight.js/styles/github.css', 'utf8');
writeFileSync('dist/app.css', readFileSync('src/style.css', 'utf8') + '\n' + hljsCss);
copyFileSync('index.html', 'dist/index.html');
