// torch.saveAsync / torch.loadAsync: the same files and values as torch.save / torch.load, the
// same atomic-write protocol and the same errors (named after the async function), with the
// file I/O done through fs.promises.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { atomicWriteAsync, MemorySink, TEMP_RE } from '../../lib/serialization/io';
import { ZipWriter } from '../../lib/serialization/zip';
import { type Loaded, rejection } from '../helpers';

type Tensor = torch.Tensor;

function syncError(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

/** Deep equality of loaded values, tensors by `equal` (and dtype, requiresGrad, Parameter-ness). */
function sameValue(a: unknown, b: unknown, where = 'value'): void {
  if (a instanceof torch.Tensor) {
    expect(b, where).to.be.instanceOf(torch.Tensor);
    const t = b as Tensor;
    expect(t.dtype, where).to.equal(a.dtype);
    expect(t.shape, where).to.deep.equal(a.shape);
    expect(t.requiresGrad, where).to.equal(a.requiresGrad);
    expect(t instanceof torch.nn.Parameter, where).to.equal(a instanceof torch.nn.Parameter);
    expect(t.equal(a), `${where}: values differ`).to.equal(true);
  } else if (Array.isArray(a)) {
    expect(b, where).to.be.an('array').with.length(a.length);
    a.forEach((x, i) => sameValue(x, (b as unknown[])[i], `${where}[${i}]`));
  } else if (a instanceof Map) {
    expect(b, where).to.be.instanceOf(Map);
    expect([...(b as Map<unknown, unknown>).keys()], where).to.deep.equal([...a.keys()]);
    for (const [k, v] of a) sameValue(v, (b as Map<unknown, unknown>).get(k), `${where}.${String(k)}`);
  } else if (a !== null && typeof a === 'object' && !(a instanceof Uint8Array)) {
    expect(Object.keys(b as object), where).to.deep.equal(Object.keys(a));
    for (const [k, v] of Object.entries(a)) sameValue(v, (b as Record<string, unknown>)[k], `${where}.${k}`);
  } else {
    expect(b, where).to.deep.equal(a);
  }
}

const pklGlobal = (mod: string, name: string): Buffer =>
  Buffer.concat([Buffer.from([0x80, 2]), Buffer.from(`c${mod}\n${name}\n`), Buffer.from([0x29, 0x52, 0x2e])]);

function zipOf(entries: [string, Uint8Array][]): Buffer {
  const sink = new MemorySink();
  const zip = new ZipWriter(sink);
  for (const [n, d] of entries) zip.add(n, d);
  zip.finish();
  return sink.bytes();
}

describe('torch.saveAsync / torch.loadAsync', () => {
  // Collect what these tests left to the GC now, not in the middle of a later test that counts
  // live tensors.
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tnapi-async-io-'));
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    for (let i = 0; i < 3; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  const temps = () => fs.readdirSync(dir).filter((n) => TEMP_RE.test(n));

  const sample = () => {
    torch.manualSeed(3);
    const p = new torch.nn.Parameter(torch.randn(4, 3));
    return {
      model: { 'layer.weight': p, 'layer.bias': torch.randn(4) },
      step: 7,
      lr: 0.5,
      name: 'run',
      flags: [true, null],
      big: 2n ** 60n,
      ids: torch.arange(10),
      mask: torch.tensor([true, false]),
      half: torch.randn(5).to({ dtype: 'float16' }),
      state: new Map<number, unknown>([[0, { momentum: torch.zeros(2) }]]),
      shared: [p, p],
    };
  };

  it('writes the same bytes as torch.save, and both load back equal (sync and async)', async () => {
    const obj = sample();
    const fa = path.join(dir, 'a.pt'),
      fs_ = path.join(dir, 's.pt');
    await torch.saveAsync(obj, fa);
    torch.save(obj, fs_);
    expect(fs.readFileSync(fa).equals(fs.readFileSync(fs_)), 'file bytes differ').to.equal(true);
    const viaSync = torch.load<Loaded>(fa);
    const viaAsync = await torch.loadAsync<Loaded>(fa);
    sameValue(viaSync, viaAsync);
    sameValue(torch.load(fs_), viaAsync);
    expect(viaAsync.model['layer.weight']).to.be.instanceOf(torch.nn.Parameter);
    expect(viaAsync.shared[0]).to.equal(viaAsync.shared[1]); // shared references stay shared
    // zip64 records, many storages, and a buffer instead of a path
    const many = Array.from({ length: 40 }, (_, i) => torch.full([i + 1], i));
    const fz = path.join(dir, 'z.pt');
    await torch.saveAsync(many, fz, { _forceZip64: true });
    sameValue(many, torch.load(fz));
    sameValue(many, await torch.loadAsync(fs.readFileSync(fz)));
    expect(temps()).to.deep.equal([]);
  });

  it('saves the values at the call, and overwrites atomically keeping the mode; a symlink is followed', async () => {
    const t = torch.zeros(3);
    const f = path.join(dir, 'mode.pt');
    fs.writeFileSync(f, 'old');
    fs.chmodSync(f, 0o600);
    const p = torch.saveAsync({ t }, f);
    t.add_(5); // after the call: not in the file
    await p;
    sameValue({ t: torch.zeros(3) }, await torch.loadAsync(f));
    expect(fs.statSync(f).mode & 0o777).to.equal(0o600);
    const link = path.join(dir, 'link.pt');
    fs.symlinkSync(f, link);
    await torch.saveAsync({ t }, link);
    expect(fs.lstatSync(link).isSymbolicLink()).to.equal(true);
    sameValue({ t }, torch.load(f));
    expect(temps()).to.deep.equal([]);
  });

  it('save errors reject like torch.save, before anything is written or leaving no temp file', async () => {
    const f = path.join(dir, 'never.pt');
    const e1 = await rejection(torch.saveAsync({ f: () => 1 }, f));
    const s1 = syncError(() => torch.save({ f: () => 1 }, f));
    expect(e1).to.be.instanceOf(TypeError);
    expect(e1.message).to.equal(s1.message.replace('torch.save', 'torch.saveAsync'));
    expect(fs.existsSync(f)).to.equal(false);
    const e2 = await rejection(torch.saveAsync({}, dir));
    expect(e2.message).to.match(/^torch\.saveAsync: cannot write .*it is a directory/);
    const e3 = await rejection(torch.saveAsync({}, path.join(dir, 'no', 'such', 'dir.pt')));
    expect(e3.message).to.match(
      /^torch\.saveAsync: cannot write '.*dir\.pt': ENOENT: no such file or directory, open '.*dir\.pt\.tmp-\d+-[0-9a-f]{12}'$/,
    );
    expect((await rejection(torch.saveAsync({}, ''))).message).to.match(
      /^torch\.saveAsync: expected path to be a non-empty string/,
    );
    const d = torch.ones(2);
    d.dispose();
    expect((await rejection(torch.saveAsync({ d }, f))).message).to.match(
      /^torch\.saveAsync: the tensor at .* has been disposed/,
    );
    // a write that fails midway removes its temp file and leaves the target as it was
    const target = path.join(dir, 'keep.pt');
    torch.save({ n: 2 }, target);
    const e4 = await rejection(
      atomicWriteAsync('torch.saveAsync', target, function* (sink) {
        sink.write(new Uint8Array(1 << 20));
        yield;
        throw new Error('disk on fire');
      }),
    );
    expect(e4.message).to.equal('disk on fire');
    expect(torch.load<Loaded>(target).n).to.equal(2);
    expect(temps()).to.deep.equal([]);
  });

  it("loadAsync of missing, non-regular, corrupt and hostile files rejects with torch.load's error", async () => {
    const good = path.join(dir, 'good.pt');
    torch.save({ w: torch.randn(50), n: 1 }, good);
    const bytes = fs.readFileSync(good);
    const files: Record<string, Buffer | null> = {
      'missing.pt': null,
      'empty.pt': Buffer.alloc(0),
      'text.pt': Buffer.from('this is not a checkpoint'),
      'truncated.pt': bytes.subarray(0, bytes.length - 100),
      'flipped.pt': Buffer.from(bytes.map((b, i) => (i === 200 ? b ^ 0xff : b))),
      'system.pt': zipOf([['archive/data.pkl', pklGlobal('os', 'system')]]),
      'no-pickle.pt': zipOf([['archive/other', Buffer.from('hi')]]),
    };
    for (const [name, content] of Object.entries(files)) if (content) fs.writeFileSync(path.join(dir, name), content);
    const cases = [...Object.keys(files).map((n) => path.join(dir, n)), dir];
    for (const f of cases) {
      const s = syncError(() => torch.load(f));
      const a = await rejection(torch.loadAsync(f));
      expect(a.constructor, f).to.equal(s.constructor);
      expect(a.message, f).to.equal(s.message.replace(/^torch\.load:/, 'torch.loadAsync:'));
      expect(a.message, f).to.match(/^torch\.loadAsync: /);
    }
    expect((await rejection(torch.loadAsync(path.join(dir, 'system.pt')))).message).to.match(
      /refusing to load global 'os\.system'/,
    );
    expect((await rejection(torch.loadAsync(path.join(dir, 'missing.pt')))).message).to.match(/ENOENT/);
    expect((await rejection(torch.loadAsync(dir))).message).to.match(/not a regular file/);
    expect((await rejection(torch.loadAsync(5 as unknown as string))).message).to.match(
      /^torch\.loadAsync: expected path to be a string or a Uint8Array, got number/,
    );
    expect((await rejection(torch.loadAsync(good, { mapLocation: 5 as unknown as string }))).message).to.match(
      /^torch\.loadAsync: /,
    );
  });
});
