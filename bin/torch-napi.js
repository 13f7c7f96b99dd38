#!/usr/bin/env node
// `npx torch-napi doctor`: what this installation is, and whether it works.
'use strict';
const path = require('path');
const fs = require('fs');

const root = path.resolve(__dirname, '..');
const cmd = process.argv[2];
if (cmd !== 'doctor') {
  console.log('usage: torch-napi doctor    print the installation facts and a verdict');
  process.exit(cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2);
}

const lines = [];
const row = (k, v) => lines.push(`${k.padEnd(22)} ${v}`);
let ok = true;
let fix = '';
row('node', `${process.version} (${process.platform}-${process.arch}), N-API ${process.versions.napi}`);
row('torch-napi', JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
try {
  const found = require(path.join(root, 'scripts', 'find-libtorch.js')).find();
  row('libtorch found', `${found.version} (${found.source}) in ${found.libDir}`);
} catch (e) {
  row('libtorch found', `none (${e.message.split('\n')[0]})`);
}
try {
  const built = JSON.parse(fs.readFileSync(path.join(root, 'build', 'libtorch.json'), 'utf8'));
  row('built against', `${built.version} (${built.source}) in ${built.libDir}`);
} catch { /* a prebuild or a node-gyp build records nothing here */ }
let torch;
try {
  torch = require(root);
  const addon = Object.keys(require.cache).find((f) => f.endsWith('.node'));
  row('addon', `${addon} (${addon && addon.includes(`${path.sep}prebuilds${path.sep}`) ? 'prebuild' : 'local build'})`);
  const c = torch.config();
  row('libtorch loaded', c.libtorchVersion);
  row('BLAS', c.blas);
  row('threads', `${c.numThreads} intra-op, ${c.numInteropThreads} inter-op (OpenMP ${c.openmp ? 'yes' : 'no'})`);
  row('CUDA', `built ${c.cuda.built ? 'yes' : 'no'}, available ${c.cuda.available ? `yes (${c.cuda.deviceCount} device(s))` : 'no'}`);
  const x = torch.tensor([[1, 2], [3, 4]], { requiresGrad: true });
  x.mul(x).sum().backward();
  const g = Array.from(x.grad.data());
  if (g.join(',') !== '2,4,6,8') { ok = false; fix = `autograd gave ${g}; rebuild with \`npm run build\``; }
  else row('smoke test', 'tensor ops and autograd work');
} catch (e) {
  ok = false;
  row('load', 'FAILED');
  lines.push(String(e.message));
  fix = 'run `bash scripts/setup.sh`, or set LIBTORCH and `npm install --build-from-source`';
}
console.log(lines.join('\n'));
console.log(ok ? '\nverdict: OK' : `\nverdict: NOT WORKING — ${fix}`);
process.exit(ok ? 0 : 1);
