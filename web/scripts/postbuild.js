// After `vite build`:
// - csp.json: the sha256 of every static style attribute the app's scripts insert as markup
//   (SvelteKit's route announcer has one), which the service allows by hash alone
//   ('unsafe-hashes') instead of allowing inline styles;
// - a Brotli and a gzip copy of every text asset, which the service sends to browsers that
//   accept them: nothing is compressed per request, and a cheap tablet's first load is small.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const root = path.resolve(import.meta.dirname, '../build');
const TEXT = /\.(js|css|html|svg|json|txt)$/;
const entries = fs.readdirSync(root, { recursive: true, withFileTypes: true });

const styleHashes = new Set();
for (const entry of entries) {
  if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
  const code = fs.readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
  for (const [, style] of code.matchAll(/ style="([^"]*)"/g)) {
    styleHashes.add(`'sha256-${crypto.createHash('sha256').update(style, 'utf8').digest('base64')}'`);
  }
}
fs.writeFileSync(path.join(root, 'csp.json'), `${JSON.stringify({ styleAttributeHashes: [...styleHashes] }, null, 2)}\n`);
console.log(`csp.json: ${styleHashes.size} style attribute hash(es)`);

let files = 0;
let before = 0;
let after = 0;

for (const entry of entries) {
  const file = path.join(entry.parentPath, entry.name);
  if (!entry.isFile() || !TEXT.test(file)) continue;
  const data = fs.readFileSync(file);
  if (data.length < 1024) continue;
  const br = zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
  fs.writeFileSync(`${file}.br`, br);
  fs.writeFileSync(`${file}.gz`, zlib.gzipSync(data, { level: 9 }));
  files += 1;
  before += data.length;
  after += br.length;
}
console.log(`compressed ${files} files: ${(before / 1024).toFixed(0)} KB → ${(after / 1024).toFixed(0)} KB (brotli)`);
