#!/usr/bin/env node
// Marks a tarball as an installed package: `npm pack` runs `prepack` (writes dist/package-kind.json,
// which package.json's "files" ships) and `postpack` (removes it again, so that this checkout stays
// a checkout). lib/native.ts reads the flag to give the right fix when the addon does not load: a
// checkout rebuilds with cmake-js (`npm run build`), a package with node-gyp (`npm rebuild`).
//   node scripts/package-kind.js --write | --remove
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const file = path.join(__dirname, '..', 'dist', 'package-kind.json');
const { values } = parseArgs({ options: { write: { type: 'boolean' }, remove: { type: 'boolean' } }, strict: true });
if (values.write === values.remove) {
  console.error('usage: node scripts/package-kind.js --write | --remove');
  process.exit(2);
}
if (values.write) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ kind: 'package' })}\n`);
} else {
  fs.rmSync(file, { force: true });
}
