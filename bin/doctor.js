// `npx torch-napi doctor`: what this installation is, and whether it works. Exits 0 when the addon
// loads and computes, 1 (with the fix) when it does not. (bin/torch-napi.js dispatches here.)

const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const lines = [];
const row = (k, v) => lines.push(`${k.padEnd(16)} ${v}`);
const problems = []; // [what is wrong, the fix]
const kind = (f) => (f.split(path.sep).includes('prebuilds') ? 'prebuild' : 'local build');

row('node', `${process.version} (${process.platform}-${process.arch})`);
const napiNeeded = Math.min(...(pkg.binary?.napi_versions || [1]));
const napi = Number(process.versions.napi);
row('N-API', `${napi} (the addon needs ${napiNeeded})`);
if (!(napi >= napiNeeded)) problems.push([`Node-API ${napi} < ${napiNeeded}`, `use Node ${pkg.engines.node}`]);
row('torch-napi', `${pkg.version} in ${root}`);

// Load it first: the loader (lib/native.ts) records which addons it considered, in which order,
// why, and what happened to each; printed below whether or not one loaded.
let torch;
let loadError;
try {
  torch = require(root);
} catch (e) {
  loadError = e;
}
let choice = loadError?.choice;
try {
  choice ??= require(path.join(root, 'dist', 'native.js')).addonChoice;
} catch {
  /* the loader itself did not load */
}
let addon = null;
if (choice) {
  const { describeCandidate } = require(path.join(root, 'dist', 'prebuilds.js'));
  // The addon loaded, or else the one tried first (whose error the load error shows).
  const chosen = choice.candidates.find((c) => c.outcome === 'loaded') || choice.candidates[0];
  if (chosen) {
    addon = chosen.file;
    row('addon', `${addon} (${kind(addon)})`);
    row(torch ? 'chosen because' : 'tried first', chosen.reason);
    const info = chosen.record;
    if (info) {
      const needs = info.libtorchSonames ? `; needs ${info.libtorchSonames.join(' ')}` : '';
      row(
        'built against',
        `libtorch ${info.version} (${info.source}, C++11 ABI ${info.abi}) in ${info.libDir}${needs}`,
      );
    }
    const others = choice.candidates.filter((c) => c !== chosen);
    others.forEach((c, i) => row(i === 0 ? (torch ? 'not chosen' : 'also tried') : '', describeCandidate(c)));
  } else {
    row('addon', `none (no local build, no prebuild for ${choice.tuple}; searched ${choice.searched.join(', ')})`);
  }
} else {
  row('addon', `unknown (${loadError ? loadError.message.split('\n')[0] : 'no loader'})`);
}
try {
  const found = require(path.join(root, 'install', 'find-libtorch.js')).find();
  row('libtorch found', `${found.version} (${found.source}) in ${found.libDir}`);
} catch (e) {
  row('libtorch found', `none (${e.message.split('\n')[0]})`);
}

if (loadError) {
  const e = loadError;
  row('load', 'FAILED');
  lines.push(
    ...String(e.message)
      .split('\n')
      .map((l) => `  ${l}`),
  );
  problems.push(['the native addon does not load', e.fix || 'reinstall: `npm rebuild torch-napi --build-from-source`']);
}

if (torch) {
  const c = torch.config();
  // The libtorch actually mapped into this process (the dynamic loader's choice, not the build's).
  let loadedFrom = 'unknown';
  try {
    const m = fs.readFileSync('/proc/self/maps', 'utf8').match(/\s(\/\S*libtorch_cpu\.\S+)\n/);
    if (m) loadedFrom = m[1];
  } catch {
    /* not Linux */
  }
  row('libtorch', `${c.libtorchVersion} loaded from ${loadedFrom}`);
  row('BLAS', c.blas);
  row('threads', `${c.numThreads} intra-op, ${c.numInteropThreads} inter-op (OpenMP ${c.openmp ? 'yes' : 'no'})`);
  row(
    'CUDA',
    `built ${c.cuda.built ? 'yes' : 'no'}, available ${c.cuda.available ? `yes (${c.cuda.deviceCount} device(s))` : 'no'}`,
  );
  let avx512 = 'unknown';
  try {
    avx512 = /\bavx512f\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8')) ? 'yes' : 'no';
  } catch {
    /* not Linux */
  }
  row('CPU', `libtorch capability ${torch.backends.cpu.getCpuCapability()}; AVX-512 on this CPU: ${avx512}`);
  row('oneDNN', torch.backends.mkldnn.isAvailable() ? 'in the build' : 'not in the build');
  try {
    const k = torch.backends.rnn.selfCheck();
    const d = (v) => v.toExponential(1);
    const lib = !k.oneDnnPossible
      ? `libtorch's LSTM (its native kernel: no oneDNN LSTM in ${c.libtorchVersion}) right, |diff| ${d(k.libtorchMaxAbsDiff)}`
      : k.libtorchMaxAbsDiff <= k.tolerance
        ? `libtorch's LSTM${k.oneDnnRan ? ' (oneDNN)' : ''} right, |diff| ${d(k.libtorchMaxAbsDiff)}`
        : `libtorch's LSTM${k.oneDnnRan ? " (oneDNN's RNN primitive)" : ''} WRONG on this CPU, |diff| ` +
          `${d(k.libtorchMaxAbsDiff)} (pytorch/pytorch#173922)`;
    const comp = k.composedMaxAbsDiff <= k.tolerance ? 'right' : 'WRONG';
    row(
      'LSTM self-check',
      `${k.cases} shapes vs float64 (tolerance ${k.tolerance.toExponential()}): ${lib}; ` +
        `composed LSTM ${comp}, |diff| ${d(k.composedMaxAbsDiff)}; torch-napi's LSTMs run: ${torch.backends.rnn.lstmKernel()}`,
    );
    if (!(k.composedMaxAbsDiff <= k.tolerance)) {
      problems.push([
        `the LSTM self-check failed (composed LSTM |diff| ${k.composedMaxAbsDiff})`,
        "report it with this output; set TORCH_NAPI_LSTM_KERNEL=libtorch if libtorch's own kernel passed",
      ]);
    }
  } catch (e) {
    row('LSTM self-check', `FAILED to run: ${e.message}`);
    problems.push([
      `the LSTM self-check could not run (${e.message})`,
      'rebuild: `npm rebuild torch-napi --build-from-source`',
    ]);
  }
  try {
    const x = torch.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    x.mul(x).sum().backward();
    const g = Array.from(x.grad.data());
    if (g.join(',') !== '2,4,6,8') throw new Error(`autograd gave ${g.join(',')}, expected 2,4,6,8`);
    row('smoke test', 'tensor ops and autograd work');
  } catch (e) {
    row('smoke test', `FAILED: ${e.message}`);
    problems.push([
      `the smoke test failed (${e.message})`,
      'rebuild against the libtorch on this machine: `npm rebuild torch-napi --build-from-source`',
    ]);
  }
}

console.log(lines.join('\n'));
if (problems.length === 0) {
  console.log(
    `\nverdict: OK — torch-napi ${pkg.version} works (${kind(addon)}, libtorch ${torch.config().libtorchVersion}, CPU${torch.config().cuda.available ? ' + CUDA' : ''})`,
  );
  process.exit(0);
}
console.log(`\nverdict: NOT WORKING — ${problems.map(([what, fix]) => `${what}; fix: ${fix}`).join(' | ')}`);
process.exit(1);
