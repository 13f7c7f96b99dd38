#!/usr/bin/env node
// Finds the libtorch that torch-napi builds against. The ONE place that knows where libtorch
// lives: CMakeLists.txt (cmake-js) and binding.gyp (node-gyp) both ask this script, so the two
// builds can never disagree.
//
// Search order (first hit wins):
//   1. LIBTORCH=<dir> (a libtorch download or install prefix) or Torch_DIR=<dir with TorchConfig.cmake>
//   2. a Python `torch` installation: `python3`, then `/usr/bin/python3`
//   3. the system: Debian/Ubuntu's `libtorch-dev` (/usr/include + /usr/lib/<multiarch>)
//
// Usage: node install/find-libtorch.js [--json | --cmake | --include | --libdir | --libs | --defines | --version]

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function exists(p) {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

function readVersion(includeDir) {
  const file = path.join(includeDir, 'torch/csrc/api/include/torch/version.h');
  try {
    const text = fs.readFileSync(file, 'utf8');
    const get = (k) => (text.match(new RegExp(`#define\\s+TORCH_VERSION_${k}\\s+(\\d+)`)) || [])[1];
    const [maj, min, pat] = [get('MAJOR'), get('MINOR'), get('PATCH')];
    if (maj !== undefined) return `${maj}.${min}.${pat}`;
  } catch {
    /* fall through */
  }
  return null;
}

// The C++ ABI libtorch was built with. TorchConfig.cmake states it; Debian's does not (it uses
// the compiler default, the new ABI), and a Python torch can tell us itself.
function readAbi(root, cmakeDir, python) {
  if (python) {
    try {
      const out = execFileSync(python, ['-c', 'import torch;print(int(torch.compiled_with_cxx11_abi()))'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      if (out === '0' || out === '1') return out;
    } catch {
      /* fall through */
    }
  }
  for (const dir of [cmakeDir, root && path.join(root, 'share/cmake/Torch')]) {
    if (!dir) continue;
    try {
      const text = fs.readFileSync(path.join(dir, 'TorchConfig.cmake'), 'utf8');
      const m = text.match(/_GLIBCXX_USE_CXX11_ABI=(\d)/);
      if (m) return m[1];
    } catch {
      /* fall through */
    }
  }
  return '1';
}

function describe(source, includeDir, libDir, cmakeDir, python) {
  if (!exists(path.join(includeDir, 'ATen/ATen.h'))) return null;
  const hasLib = (n) => exists(path.join(libDir, `lib${n}.so`)) || exists(path.join(libDir, `lib${n}.dylib`));
  if (!hasLib('torch_cpu') || !hasLib('c10')) return null;
  const cuda = hasLib('torch_cuda');
  const libs = ['torch', 'torch_cpu', 'c10'];
  if (cuda) libs.push('torch_cuda', 'c10_cuda');
  return {
    source,
    version: readVersion(includeDir),
    includeDirs: [includeDir, path.join(includeDir, 'torch/csrc/api/include')],
    libDir: fs.realpathSync(libDir),
    libs,
    abi: readAbi(path.dirname(includeDir), cmakeDir, python),
    cuda,
    ...distributed(includeDir, cuda),
  };
}

// torch.distributed (native/distributed.cc) is built on libtorch's c10d, whose Gloo process group
// is declared only under USE_C10D_GLOO and includes Gloo's own headers (<gloo/...>), which
// libtorch-dev does not ship (Debian: libgloo-dev). NCCL is wired only when libtorch has CUDA and
// its c10d NCCL header is there.
function distributed(includeDir, cuda) {
  const c10d = path.join(includeDir, 'torch/csrc/distributed/c10d');
  const glooHeaders = [includeDir, '/usr/include', '/usr/local/include'].find((d) =>
    exists(path.join(d, 'gloo/algorithm.h')),
  );
  const gloo = exists(path.join(c10d, 'ProcessGroupGloo.hpp')) && glooHeaders !== undefined;
  const nccl = cuda && exists(path.join(c10d, 'ProcessGroupNCCL.hpp'));
  return { gloo, nccl };
}

function fromPrefix(source, root, cmakeDir) {
  return describe(source, path.join(root, 'include'), path.join(root, 'lib'), cmakeDir, null);
}

function fromEnv(tried) {
  if (process.env.LIBTORCH) {
    tried.push(`LIBTORCH=${process.env.LIBTORCH}`);
    const r = fromPrefix('LIBTORCH', path.resolve(process.env.LIBTORCH), null);
    if (!r) throw new Error(`LIBTORCH=${process.env.LIBTORCH} has no include/ATen/ATen.h or lib/libtorch_cpu.so`);
    return r;
  }
  if (process.env.Torch_DIR) {
    const dir = path.resolve(process.env.Torch_DIR);
    tried.push(`Torch_DIR=${dir}`);
    // <prefix>/share/cmake/Torch or <prefix>/lib/<multiarch>/cmake/Torch
    for (const up of ['../../..', '../../../..']) {
      const prefix = path.resolve(dir, up);
      const r =
        fromPrefix('Torch_DIR', prefix, dir) ||
        describe('Torch_DIR', path.join(prefix, 'include'), path.resolve(dir, '../..'), dir, null);
      if (r) return r;
    }
    throw new Error(`Torch_DIR=${dir} does not lead to a libtorch (include/ATen/ATen.h, lib/libtorch_cpu.so)`);
  }
  return null;
}

function fromPython(tried) {
  for (const py of ['python3', '/usr/bin/python3']) {
    tried.push(`${py} -c 'import torch'`);
    let root;
    try {
      root = execFileSync(py, ['-c', 'import os,torch;print(os.path.dirname(torch.__file__))'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 60000,
      }).trim();
    } catch {
      continue;
    }
    const r = describe(
      `python (${py})`,
      path.join(root, 'include'),
      path.join(root, 'lib'),
      path.join(root, 'share/cmake/Torch'),
      py,
    );
    if (r) return r;
  }
  return null;
}

function multiarch() {
  try {
    return execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  }
}

function fromSystem(tried) {
  const libDirs = [`/usr/lib/${multiarch()}`, '/usr/lib', '/usr/local/lib'];
  for (const libDir of libDirs) {
    const prefix = path.dirname(libDir.replace(/\/[^/]*-linux-gnu$/, ''));
    const includeDir = path.join(prefix === '/' ? '/usr' : prefix, 'include');
    tried.push(`system (${includeDir}, ${libDir})`);
    const r = describe('system', includeDir, libDir, path.join(libDir, 'cmake/Torch'), null);
    if (r) return r;
  }
  return null;
}

function find() {
  const tried = [];
  const r = fromEnv(tried) || fromPython(tried) || fromSystem(tried);
  if (!r) {
    const err = new Error(
      'torch-napi: libtorch not found. Tried:\n  ' +
        tried.join('\n  ') +
        "\nFixes: run `bash scripts/setup.sh` (installs Debian's libtorch-dev), or set LIBTORCH to an unpacked " +
        'libtorch (the directory holding include/ and lib/), or install a Python torch.',
    );
    err.tried = tried;
    throw err;
  }
  r.tried = tried;
  return r;
}

module.exports = { find };

if (require.main === module) {
  let r;
  try {
    r = find();
  } catch (e) {
    process.stderr.write(e.message + '\n');
    process.exit(1);
  }
  const arg = process.argv[2] || '--json';
  const defines = [`_GLIBCXX_USE_CXX11_ABI=${r.abi}`];
  if (r.cuda) defines.push('TORCH_NAPI_CUDA=1');
  if (r.gloo) defines.push('USE_C10D_GLOO', 'TORCH_NAPI_HAVE_GLOO=1');
  if (r.nccl) defines.push('USE_C10D_NCCL', 'TORCH_NAPI_HAVE_NCCL=1');
  switch (arg) {
    case '--json':
      console.log(JSON.stringify(r, null, 2));
      break;
    // one `key=value` per line, `;`-separated lists: easy to parse from CMake
    case '--cmake':
      console.log(`include=${r.includeDirs.join(';')}`);
      console.log(`libdir=${r.libDir}`);
      console.log(`libs=${r.libs.join(';')}`);
      console.log(`defines=${defines.join(';')}`);
      console.log(`version=${r.version}`);
      console.log(`source=${r.source}`);
      break;
    case '--include':
      console.log(r.includeDirs.join(' '));
      break;
    case '--libdir':
      console.log(r.libDir);
      break;
    case '--libs':
      console.log(r.libs.map((l) => `-l${l}`).join(' '));
      break;
    case '--defines':
      console.log(defines.join(' '));
      break;
    case '--version':
      console.log(r.version);
      break;
    default:
      process.stderr.write(`unknown option ${arg}\n`);
      process.exit(2);
  }
}
