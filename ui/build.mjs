// Builds src/ into dist/: the entry JS and its CSS named by their content
// hash, chunks that tabs load when opened, and entry.json naming the two for
// the page (ui/index.html) that loads them. The output depends only on the
// sources and the locked packages, so `make ui-check` can rebuild it and
// compare it with the committed dist/.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/main.jsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  // What only one tab needs (the Shell tab's terminal) is a chunk loaded
  // when that tab opens, not part of the first load.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  legalComments: 'eof',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([p, o]) => o.entryPoint === 'src/main.jsx' && p.endsWith('.js'));
const js = basename(entry[0]);
const css = basename(entry[1].cssBundle);
// The page itself is ui/index.html, which the ui package fills with these
// names.
writeFileSync(join(out, 'entry.json'), JSON.stringify({ js, css }) + '\n');
console.log('built', out + ':', js, css);
