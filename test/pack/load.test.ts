// Loading the addon and `torch-napi doctor`: the facts doctor prints when the addon works, and the
// explanation (which addon, prebuild or local build, built against what, the fix) when it does not:
// no addon at all, a prebuild whose libtorch is missing, a build whose libtorch lacks a symbol.
// With several prebuilds (one per libtorch): the one whose libtorch is here loads, and when none
// does, the error lists each with what it needs. Each case runs in a child process, pointed at a
// temp dir by TORCH_NAPI_PREBUILD (node-gyp-build's override, which the loader keeps).

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

const root = path.resolve(__dirname, '../../..');
const lib = path.resolve(__dirname, '../../lib'); // this test's compiled lib/ (dist-test)
const doctor = path.join(root, 'bin', 'torch-napi.js');
// The addon these tests run with (a local build, or in CI's libtorch 2.x run the prebuild).
const built: string = require(path.join(lib, 'native')).addonFile;
/** The libtorch sonames the real addon needs (its DT_NEEDED), for records that fit this machine. */
const realSonames = [
  ...execFileSync('readelf', ['-d', built], { encoding: 'utf8' }).matchAll(/\[(lib(?:torch|c10)[^\]]*)\]/g),
].map((m) => m[1]);
const tuple = `${process.platform}-${process.arch}`;

interface Run {
  status: number | null;
  signal: string | null;
  out: string;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

const load = (env: Record<string, string>): Run => run(['-e', `require(${JSON.stringify(lib)})`], env);

/** A copy of the addon with every occurrence of `from` in its bytes replaced by `to` (same length). */
function patched(dest: string, from = 'libtorch', to = 'libtorcX'): void {
  expect(to.length).to.equal(from.length);
  const b = fs.readFileSync(built);
  let n = 0;
  for (let i = b.indexOf(from); i >= 0; i = b.indexOf(from, i + 1), n++) b.write(to, i);
  expect(n, `${from} in ${built}`).to.be.greaterThan(0);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, b);
}

describe('addon loading and torch-napi doctor', function () {
  this.timeout(180000);
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-load-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('doctor prints every fact and an OK verdict, exit 0', () => {
    const r = run([doctor, 'doctor']);
    expect(r.status, r.out).to.equal(0);
    for (const row of ['node', 'N-API', 'addon', 'libtorch', 'BLAS', 'threads', 'CUDA', 'smoke test']) {
      expect(r.out).to.match(new RegExp(`^${row} +\\S`, 'm'));
    }
    expect(r.out).to.include(
      `${built} (${built.includes(`${path.sep}prebuilds${path.sep}`) ? 'prebuild' : 'local build'})`,
    );
    expect(r.out).to.match(/^libtorch +\d+\.\d+\.\d+ loaded from \/\S+libtorch_cpu\.so/m);
    expect(r.out).to.match(/^verdict: OK/m);
  });

  it('doctor rejects an unknown command with usage, exit 2', () => {
    const r = run([doctor, 'docter']);
    expect(r.status).to.equal(2);
    expect(r.out).to.include('usage: torch-napi doctor');
  });

  it('no addon at all: says none was found, where it looked, and the fix', () => {
    const r = load({ TORCH_NAPI_PREBUILD: tmp });
    expect(r.status).to.equal(1);
    expect(r.out).to.include('torch-napi: could not load the native addon.');
    expect(r.out).to.include(`addon: none found (no local build, no prebuild for ${tuple})`);
    expect(r.out).to.include(`searched: ${path.join(tmp, 'build', 'Release')} (missing)`);
    expect(r.out).to.match(/fix: build the addon/);
    const d = run([doctor, 'doctor'], { TORCH_NAPI_PREBUILD: tmp });
    expect(d.status).to.equal(1);
    expect(d.out).to.match(/^addon +none/m);
    expect(d.out).to.match(/^verdict: NOT WORKING — the native addon does not load; fix: build the addon/m);
  });

  it('a prebuild whose libtorch is missing: names the prebuild, what it needs, and the fix', () => {
    const dir = path.join(tmp, 'prebuilds', tuple);
    patched(path.join(dir, 'torch-napi.node'), 'libtorch', 'libtorcX');
    fs.writeFileSync(
      path.join(dir, 'libtorch.json'),
      JSON.stringify({
        source: 'system',
        version: '1.13.1',
        abi: '1',
        libDir: '/usr/lib/x86_64-linux-gnu',
        libtorchSonames: ['libtorch.so.1.13'],
      }),
    );
    const r = load({ TORCH_NAPI_PREBUILD: tmp });
    expect(r.status, r.out).to.equal(1);
    expect(r.out).to.match(/error: libtorcX\S*: cannot open shared object file/);
    expect(r.out).to.include(`addon: ${path.join(dir, 'torch-napi.node')} (prebuild)`);
    expect(r.out).to.include(
      'built against: libtorch 1.13.1 (system, C++11 ABI 1) in /usr/lib/x86_64-linux-gnu, needs libtorch.so.1.13',
    );
    expect(r.out).to.include('libtorch on this machine now:');
    expect(r.out).to.include(
      'fix: this prebuild needs libtorch 1.13 as Debian/Ubuntu package it (`apt install libtorch1.13`)',
    );
    const d = run([doctor, 'doctor'], { TORCH_NAPI_PREBUILD: tmp });
    expect(d.status).to.equal(1);
    expect(d.out).to.match(/^addon +\S+torch-napi\.node \(prebuild\)$/m);
    expect(d.out).to.match(/^built against +libtorch 1\.13\.1/m);
    expect(d.out).to.match(
      /^verdict: NOT WORKING — the native addon does not load; fix: this prebuild needs libtorch 1\.13/m,
    );
  });

  it('a libtorch without a symbol the addon calls fails at load (RTLD_NOW), not at the first call', () => {
    // Every at::_ops function is called through the PLT: a lazy dlopen would succeed and the process
    // would die with "symbol lookup error" at the first op.
    patched(path.join(tmp, 'build', 'Release', 'torch_napi.node'), '_ZN2at4_ops', '_ZN2at4_opz');
    const r = run(
      ['-e', `try { require(${JSON.stringify(lib)}) } catch (e) { console.log(e.message); process.exit(3) }`],
      { TORCH_NAPI_PREBUILD: tmp },
    );
    expect(r.signal).to.equal(null);
    expect(r.status, r.out).to.equal(3);
    expect(r.out).to.match(/error: .*undefined symbol: _ZN2at4_opz/);
    expect(r.out).to.include(`(local build)`);
    expect(r.out).to.match(/fix: /);
  });
  /** prebuilds/<tuple>/libtorch-<version>/: a copy of the real addon (ok) or one whose libtorch is missing. */
  function prebuild(version: string, sonames: string[], ok: boolean): string {
    const dir = path.join(tmp, 'prebuilds', tuple, `libtorch-${version.split('.').slice(0, 2).join('.')}`);
    const file = path.join(dir, 'torch-napi.node');
    if (ok) {
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(built, file);
    } else {
      patched(file);
    }
    fs.writeFileSync(
      path.join(dir, 'libtorch.json'),
      JSON.stringify({
        source: 'system',
        version,
        abi: '1',
        libDir: '/usr/lib/x86_64-linux-gnu',
        libtorchSonames: sonames,
      }),
    );
    return file;
  }

  it('several prebuilds: loads the one whose libtorch is here, not the newest; doctor says why and what it rejected', () => {
    const decoy = prebuild('9.9.0', ['libtorch.so.9.9', 'libc10.so.9.9'], false);
    const good = prebuild('1.0.0', realSonames, true);
    const r = run(
      ['-e', `const n = require(${JSON.stringify(path.join(lib, 'native'))}); console.log('loaded', n.addonFile)`],
      {
        TORCH_NAPI_PREBUILD: tmp,
      },
    );
    expect(r.status, r.out).to.equal(0);
    expect(r.out).to.include(`loaded ${good}`);
    const d = run([doctor, 'doctor'], { TORCH_NAPI_PREBUILD: tmp });
    expect(d.status, d.out).to.equal(0);
    expect(d.out).to.include(`addon            ${good} (prebuild)`);
    expect(d.out).to.match(
      new RegExp(
        `^chosen because +its libtorch 1\\.0\\.0 is on this machine: ${realSonames.join(' ').replace(/\./g, '\\.')} in /`,
        'm',
      ),
    );
    expect(d.out).to.match(
      /^not chosen +prebuilds\/linux-x64\/libtorch-9\.9 \(libtorch 9\.9\.0\): not tried \(prebuilds\/\S+ loaded\); its libtorch 9\.9\.0 is not on this machine: libtorch\.so\.9\.9 libc10\.so\.9\.9 not found \(searched: /m,
    );
    expect(decoy).to.not.equal(good);
  });

  it('no prebuild fits: the error lists each prebuild, the libtorch it wants, what was found, and the fix names both', () => {
    prebuild('9.9.0', ['libtorch.so.9.9'], false);
    prebuild('9.8.1', ['libtorch.so.9.8', 'libtorch_cpu.so.9.8'], false);
    const r = load({ TORCH_NAPI_PREBUILD: tmp });
    expect(r.status, r.out).to.equal(1);
    expect(r.out).to.include('torch-napi: could not load the native addon.');
    // both were tried anyway (the search could miss a library the loader finds); the first one's error is shown
    expect(r.out).to.match(/error: libtorcX\S*: cannot open shared object file/);
    expect(r.out).to.include(
      `addon: ${path.join(tmp, 'prebuilds', tuple, 'libtorch-9.9', 'torch-napi.node')} (prebuild)`,
    );
    expect(r.out).to.include('addons, in the order tried:');
    expect(r.out).to.match(
      /^ {4}- prebuilds\/linux-x64\/libtorch-9\.9 \(libtorch 9\.9\.0\): failed: libtorcX\S*: cannot open shared object file.*; its libtorch 9\.9\.0 is not on this machine: libtorch\.so\.9\.9 not found \(searched: .*ld\.so\.cache/m,
    );
    expect(r.out).to.match(
      /^ {4}- prebuilds\/linux-x64\/libtorch-9\.8 \(libtorch 9\.8\.1\): failed: .*libtorch\.so\.9\.8 libtorch_cpu\.so\.9\.8 not found/m,
    );
    expect(r.out).to.match(/libtorch on this machine now: \d+\.\d+/);
    expect(r.out).to.include(
      'fix: these prebuilds need libtorch 9.9 or 9.8 as Debian/Ubuntu package them (`apt install libtorch9.9` or `apt install libtorch9.8`)',
    );
    const d = run([doctor, 'doctor'], { TORCH_NAPI_PREBUILD: tmp });
    expect(d.status).to.equal(1);
    expect(d.out).to.match(/^tried first +its libtorch 9\.9\.0 is not on this machine/m);
    expect(d.out).to.match(/^also tried +prebuilds\/linux-x64\/libtorch-9\.8 \(libtorch 9\.8\.1\): failed: /m);
    expect(d.out).to.match(
      /^verdict: NOT WORKING — the native addon does not load; fix: these prebuilds need libtorch 9\.9 or 9\.8/m,
    );
  });
  it("install/check-prebuild.js (the install script's test): exit 0 when an addon loads, 1 (node-gyp-build then compiles) when none does", function () {
    if (!fs.existsSync(path.join(root, 'dist', 'native.js'))) this.skip(); // it runs the package's dist/ loader
    const script = path.join(root, 'install', 'check-prebuild.js');
    const ok = run([script]);
    expect(ok.status, ok.out).to.equal(0);
    expect(ok.out).to.match(/^torch-napi: no compile needed: \S+\.node loads \(/m);
    const none = run([script], { TORCH_NAPI_PREBUILD: tmp });
    expect(none.status, none.out).to.equal(1);
    expect(none.out).to.include('torch-napi: could not load the native addon.');
    expect(none.out).to.include('torch-napi: no prebuild fits this machine: compiling from source (node-gyp)');
  });
});
