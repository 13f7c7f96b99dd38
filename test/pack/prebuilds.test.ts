// Choosing the addon (lib/prebuilds.ts): fake package directories (prebuilds/<tuple>/libtorch-<x.y>/
// with libtorch.json records, build/Release) against a fake system (which sonames exist where), so
// every case runs on any machine, whatever libtorch it has. Nothing is loaded.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import {
  type Candidate,
  chooseAddon,
  describeCandidate,
  ldCachePaths,
  majorMinor,
  type SystemLibraries,
  systemLibraries,
} from '../../lib/prebuilds';

const tuple = 'linux-x64';
const SONAMES_113 = ['libtorch.so.1.13', 'libtorch_cpu.so.1.13', 'libc10.so.1.13'];
const SONAMES_26 = ['libtorch.so.2.6', 'libtorch_cpu.so.2.6', 'libc10.so.2.6'];
const LIBDIR = '/usr/lib/x86_64-linux-gnu';

/** A fake machine: these files exist, nothing else; an ld.so.cache listing `cached`. */
function machine(files: string[], opts: { cached?: string[]; env?: NodeJS.ProcessEnv } = {}): SystemLibraries {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-ldcache-'));
  const cache = path.join(tmp, 'ld.so.cache');
  // The strings of a real cache: a header, then NUL-terminated sonames and paths.
  fs.writeFileSync(
    cache,
    Buffer.from(
      `glibc-ld.so.cache1.1\0\0\0${(opts.cached ?? []).map((p) => `${path.basename(p)}\0${p}\0`).join('')}`,
      'latin1',
    ),
  );
  const set = new Set(files);
  const sys = systemLibraries({ env: opts.env ?? {}, ldCache: cache, exists: (p) => set.has(p) });
  sys.find('warm-up', []); // reads the cache file now, so that the temp dir can go
  fs.rmSync(tmp, { recursive: true, force: true });
  return sys;
}

const in113 = SONAMES_113.map((s) => `${LIBDIR}/${s}`);
const in26 = SONAMES_26.map((s) => `${LIBDIR}/${s}`);

describe('choosing the addon: prebuilds per libtorch (lib/prebuilds.ts)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-choose-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** prebuilds/<tuple>/<sub>/torch-napi.node with a libtorch.json (null: none). */
  function prebuild(sub: string, record: object | null, name = 'torch-napi.node'): string {
    const d = sub ? path.join(dir, 'prebuilds', tuple, sub) : path.join(dir, 'prebuilds', tuple);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, name), 'not an ELF');
    if (record) fs.writeFileSync(path.join(d, 'libtorch.json'), JSON.stringify(record));
    return path.join(d, name);
  }
  const rec113 = {
    source: 'python (/usr/bin/python3)',
    version: '1.13.0',
    abi: '1',
    libDir: '/usr/lib/python3/dist-packages/torch/lib',
    libtorchSonames: SONAMES_113,
    runpath: '/usr/lib/python3/dist-packages/torch/lib',
  };
  const rec26 = { ...rec113, version: '2.6.0', libtorchSonames: SONAMES_26 };
  const both = (): [string, string] => [prebuild('libtorch-1.13', rec113), prebuild('libtorch-2.6', rec26)];
  const files = (cs: Candidate[]) => cs.map((c) => c.file);

  it('on a machine with libtorch 1.13 (Debian 12): the 1.13 prebuild first, the 2.6 one last (not found)', () => {
    const [p113, p26] = both();
    const c = chooseAddon(dir, { tuple, system: machine(in113, { cached: in113 }) });
    expect(files(c.candidates)).to.deep.equal([p113, p26]);
    expect(c.candidates.map((x) => x.fits)).to.deep.equal([true, false]);
    expect(c.candidates[0].kind).to.equal('prebuild');
    expect(c.candidates[0].label).to.equal(`prebuilds/${tuple}/libtorch-1.13`);
    expect(c.candidates[0].reason).to.equal(
      `its libtorch 1.13.0 is on this machine: ${SONAMES_113.join(' ')} in ${LIBDIR} (ld.so.cache)`,
    );
    expect(c.candidates[0].sonames[1]).to.deep.equal({
      name: 'libtorch_cpu.so.1.13',
      found: { path: `${LIBDIR}/libtorch_cpu.so.1.13`, via: 'ld.so.cache' },
    });
    expect(c.candidates[1].reason).to.match(
      /^its libtorch 2\.6\.0 is not on this machine: libtorch\.so\.2\.6 libtorch_cpu\.so\.2\.6 libc10\.so\.2\.6 not found \(searched: runpath \/usr\/lib\/python3\/dist-packages\/torch\/lib; \S+ld\.so\.cache; \/lib\/x86_64-linux-gnu /,
    );
  });

  it('on a machine with libtorch 2.6 (Debian 13): the 2.6 prebuild first', () => {
    const [p113, p26] = both();
    const c = chooseAddon(dir, { tuple, system: machine(in26, { cached: in26 }) });
    expect(files(c.candidates)).to.deep.equal([p26, p113]);
    expect(c.candidates.map((x) => x.fits)).to.deep.equal([true, false]);
    expect(c.candidates[1].reason).to.include('libtorch.so.1.13 libtorch_cpu.so.1.13 libc10.so.1.13 not found');
  });

  it('every soname must be there: one missing rejects the prebuild, and the message names only that one', () => {
    const [p113] = both();
    const partial = in113.filter((f) => !f.includes('libc10'));
    const c = chooseAddon(dir, { tuple, system: machine(partial, { cached: partial }) });
    const x = c.candidates.find((y) => y.file === p113) as Candidate;
    expect(x.fits).to.equal(false);
    expect(x.reason).to.match(/: libc10\.so\.1\.13 not found/);
  });

  it('both libtorches present: the newer libtorch first; no libtorch at all: both rejected, newest first', () => {
    const [p113, p26] = both();
    const all = [...in113, ...in26];
    expect(files(chooseAddon(dir, { tuple, system: machine(all, { cached: all }) }).candidates)).to.deep.equal([
      p26,
      p113,
    ]);
    const none = chooseAddon(dir, { tuple, system: machine([]) }).candidates;
    expect(files(none)).to.deep.equal([p26, p113]);
    expect(none.map((x) => x.fits)).to.deep.equal([false, false]);
  });

  it('finds sonames where the dynamic loader would: LD_LIBRARY_PATH, runpath ($ORIGIN), ld.so.cache, default dirs', () => {
    const p = prebuild('libtorch-1.13', { ...rec113, runpath: '$ORIGIN/../lib:/opt/x' });
    const origin = path.join(path.dirname(p), '..', 'lib');
    const layout = [
      `/ldpath/${SONAMES_113[0]}`, // LD_LIBRARY_PATH
      path.join(origin, SONAMES_113[1]), // $ORIGIN
      `/lib/x86_64-linux-gnu/${SONAMES_113[2]}`, // a default directory, not in the cache
    ];
    const c = chooseAddon(dir, { tuple, system: machine(layout, { env: { LD_LIBRARY_PATH: '/ldpath' } }) });
    expect(c.candidates[0].fits).to.equal(true);
    expect(c.candidates[0].sonames.map((s) => s.found?.via)).to.deep.equal([
      'LD_LIBRARY_PATH',
      'runpath',
      'default directories',
    ]);
    expect(c.candidates[0].sonames[1].found?.path).to.equal(path.join(origin, SONAMES_113[1]));
  });

  it('an ld.so.cache entry whose file is gone does not count', () => {
    prebuild('libtorch-1.13', rec113);
    const c = chooseAddon(dir, { tuple, system: machine([], { cached: in113 }) });
    expect(c.candidates[0].fits).to.equal(false);
  });

  it('a local build (build/Release) comes first, Release over Debug; one whose recorded libtorch is gone comes last', () => {
    const [p113, p26] = both();
    for (const sub of ['Release', 'Debug']) {
      fs.mkdirSync(path.join(dir, 'build', sub), { recursive: true });
      fs.writeFileSync(path.join(dir, 'build', sub, 'torch_napi.node'), '');
    }
    const release = path.join(dir, 'build', 'Release', 'torch_napi.node');
    const sys = machine(in113, { cached: in113 });
    // cmake-js's build/libtorch.json records no sonames: nothing to check, the local build wins
    let c = chooseAddon(dir, { tuple, system: sys });
    expect(files(c.candidates)).to.deep.equal([release, p113, p26]);
    expect(c.candidates[0]).to.include({ kind: 'local build', label: 'build/Release', fits: null });
    expect(c.candidates[0].reason).to.equal('a local build (compiled on this machine) comes before the prebuilds');
    // a local build recorded against libtorch 2.6 on a 1.13 machine: the fitting prebuild first
    fs.writeFileSync(path.join(dir, 'build', 'libtorch.json'), JSON.stringify(rec26));
    c = chooseAddon(dir, { tuple, system: sys });
    expect(files(c.candidates)).to.deep.equal([p113, p26, release]);
    expect(c.candidates[2].fits).to.equal(false);
  });

  it('a prebuild without libtorch.json cannot be checked: after the fitting ones, before the rejected ones', () => {
    const [p113, p26] = both();
    const bare = prebuild('libtorch-x', null);
    const c = chooseAddon(dir, { tuple, system: machine(in113, { cached: in113 }) });
    expect(files(c.candidates)).to.deep.equal([p113, bare, p26]);
    expect(c.candidates[1].fits).to.equal(null);
    expect(c.candidates[1].reason).to.match(/^no libtorch sonames recorded \(.*libtorch-x\/libtorch\.json\)/);
  });

  it('the flat layout of one prebuild (prebuilds/<tuple>/*.node) still counts', () => {
    const flat = prebuild('', rec113, 'torch-napi.napi.node');
    const c = chooseAddon(dir, { tuple, system: machine(in113, { cached: in113 }) });
    expect(files(c.candidates)).to.deep.equal([flat]);
    expect(c.candidates[0].label).to.equal(`prebuilds/${tuple}`);
  });

  it('nothing at all: no candidates, and where it looked', () => {
    fs.mkdirSync(path.join(dir, 'prebuilds', 'darwin-arm64'), { recursive: true });
    const c = chooseAddon(dir, { tuple, system: machine([]) });
    expect(c.candidates).to.deep.equal([]);
    expect(c.searched).to.deep.equal([
      path.join(dir, 'build', 'Release'),
      path.join(dir, 'build', 'Debug'),
      path.join(dir, 'prebuilds', tuple),
    ]);
  });

  it('describeCandidate: label, libtorch, outcome and reason on one line', () => {
    both();
    const [a, b] = chooseAddon(dir, { tuple, system: machine(in113, { cached: in113 }) }).candidates;
    a.outcome = 'loaded';
    expect(describeCandidate(a)).to.equal(
      `prebuilds/${tuple}/libtorch-1.13 (libtorch 1.13.0): loaded; its libtorch 1.13.0 is on this machine: ` +
        `${SONAMES_113.join(' ')} in ${LIBDIR} (ld.so.cache)`,
    );
    expect(describeCandidate(b)).to.match(/^prebuilds\/linux-x64\/libtorch-2\.6 \(libtorch 2\.6\.0\): its libtorch/);
    expect(majorMinor(a.record)).to.equal('1.13');
    expect(majorMinor(null)).to.equal('');
  });

  it('ldCachePaths: the paths a cache lists for a soname, not those of a longer name', () => {
    const cache = `hdr\0libc10.so.1.13\0/usr/lib/libc10.so.1.13\0libc10.so.1.13.1\0/usr/lib/libc10.so.1.13.1\0x/libc10.so.1.13\0`;
    expect(ldCachePaths(cache, 'libc10.so.1.13')).to.deep.equal(['/usr/lib/libc10.so.1.13']);
    expect(ldCachePaths(Buffer.from(cache, 'latin1'), 'libtorch.so.2.6')).to.deep.equal([]);
  });

  it('on this machine: the real ld.so.cache and file system find the libtorch the tests run with', () => {
    // Whatever libtorch this is (1.13 on Debian 12, 2.6 in the Debian 13 chroot), its libtorch_cpu
    // soname is found by the same search the loader uses.
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    require('../../lib/native'); // the addon, and with it libtorch, is mapped now
    const mapped = fs.readFileSync('/proc/self/maps', 'utf8').match(/\s(\/\S*\/(libtorch_cpu\.so[.\d]*))\n/);
    expect(mapped, maps.slice(0, 200)).to.not.equal(null);
    const soname = (mapped as RegExpMatchArray)[2].replace(/^(libtorch_cpu\.so\.\d+\.\d+).*$/, '$1');
    const found = systemLibraries().find(soname, []);
    expect(found, soname).to.not.equal(null);
  });
});
