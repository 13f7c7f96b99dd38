// save → load round trips for every supported value and dtype (torch.save and safetensors), the
// errors save gives before writing anything, and — when /usr/bin/python3 can import torch —
// files written here loaded by PyTorch itself.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import type { Loaded } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

const DTYPES: torch.DType[] = [
  'float32',
  'float64',
  'float16',
  'bfloat16',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
];
const SCRIPT = path.join(process.cwd(), 'test', 'fixtures', 'gen', 'gen_checkpoint_fixtures.py');
const PYTHON = '/usr/bin/python3';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-ser-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
const tmp = (name: string): string => path.join(dir, name);

function sample(dtype: torch.DType): Tensor {
  switch (dtype) {
    case 'bool':
      return torch.tensor([
        [true, false, true],
        [false, false, true],
      ]);
    case 'int64':
      return torch.tensor(BigInt64Array.from([0n, -1n, 2n ** 62n, -(2n ** 62n), 2n ** 53n + 1n, 7n])).reshape([2, 3]);
    case 'uint8':
      return torch.tensor(
        [
          [0, 255, 128],
          [1, 2, 3],
        ],
        { dtype },
      );
    case 'int8':
      return torch.tensor(
        [
          [127, -128, 0],
          [1, -1, 5],
        ],
        { dtype },
      );
    case 'int16':
      return torch.tensor(
        [
          [32767, -32768, 0],
          [1, -1, 5],
        ],
        { dtype },
      );
    case 'int32':
      return torch.tensor(
        [
          [2147483647, -2147483648, 0],
          [1, -1, 5],
        ],
        { dtype },
      );
    default:
      return torch.tensor(
        [
          [1.5, -2.25, 0],
          [NaN, Infinity, -0.125],
        ],
        { dtype },
      );
  }
}

function same(a: Tensor, b: Tensor, what: string): void {
  expect(b.dtype, `${what} dtype`).to.equal(a.dtype);
  expect([...b.shape], `${what} shape`).to.deep.equal([...a.shape]);
  const x = a.data(),
    y = b.data();
  expect(y.length).to.equal(x.length);
  for (let i = 0; i < x.length; i++) {
    if (typeof x[i] === 'number' && Number.isNaN(x[i]))
      expect(Number.isNaN(y[i] as number), `${what}[${i}]`).to.equal(true);
    else expect(y[i], `${what}[${i}]`).to.equal(x[i]);
  }
}

const pythonOk = ((): boolean => {
  try {
    return spawnSync(PYTHON, ['-c', 'import torch'], { timeout: 60000 }).status === 0;
  } catch {
    return false;
  }
})();

function python(...args: string[]): unknown {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`python ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

class Net extends nn.Module {
  fc = new nn.Linear(4, 6);
  lstm = new nn.LSTM(6, 6);
  attn = new nn.MultiheadAttention(6, 2);
  norm = new nn.LayerNorm(6);
  forward(x: Tensor): Tensor {
    const [l] = this.lstm.forward(this.fc.forward(x));
    const [a] = this.attn.forward(l, l, l);
    return this.norm.forward(a);
  }
}

describe('serialization: torch.save → torch.load round trips', () => {
  for (const dtype of DTYPES) {
    it(`${dtype} tensors (and a 0-d and an empty one)`, () => {
      const t = sample(dtype);
      const scalar = t.reshape([-1]).index(0);
      const empty = t.reshape([-1]).slice(0, 0, 0);
      torch.save({ t, scalar, empty }, tmp(`${dtype}.pt`));
      const r = torch.load<Loaded>(tmp(`${dtype}.pt`));
      same(t, r.t, 't');
      same(scalar, r.scalar, 'scalar');
      same(empty, r.empty, 'empty');
      expect(r.scalar.shape).to.deep.equal([]);
    });
  }

  it('every value type: numbers, bigints, strings, bytes, null, booleans, arrays, Maps, nested objects', () => {
    const obj = {
      int: 42,
      neg: -7,
      big: 2 ** 40,
      float: 0.1,
      negZero: -0,
      nan: NaN,
      inf: -Infinity,
      huge: 2n ** 100n,
      small: -5n,
      str: 'héllo ✓ 🚀',
      empty: '',
      bytes: new Uint8Array([0, 1, 255]),
      buf: Buffer.from('abc'),
      none: null,
      t: true,
      f: false,
      list: [1, 'two', [3, [4]], null],
      map: new Map<unknown, unknown>([
        [0, 'zero'],
        [-3, 'neg'],
        ['s', 1],
        [true, 'bool'],
        [null, 'none'],
        [5n, 'big'],
      ]),
      nested: { a: { b: { c: [{ d: 'deep' }] } } },
      __proto__x: 1,
    };
    torch.save(obj, tmp('values.pt'));
    const r = torch.load<Loaded>(tmp('values.pt'));
    expect(r.int).to.equal(42);
    expect(r.float).to.equal(0.1);
    expect(Object.is(r.negZero, -0)).to.equal(true);
    expect(Number.isNaN(r.nan)).to.equal(true);
    expect(r.inf).to.equal(-Infinity);
    expect(r.huge).to.equal(2n ** 100n);
    expect(r.small).to.equal(-5); // bigints in the safe range come back as numbers (Python has one int type)
    expect(r.str).to.equal(obj.str);
    expect([...r.bytes]).to.deep.equal([0, 1, 255]);
    expect(Buffer.from(r.buf).toString()).to.equal('abc');
    expect(r.none).to.equal(null);
    expect(r.list).to.deep.equal([1, 'two', [3, [4]], null]);
    expect(r.map).to.be.instanceOf(Map);
    expect([...r.map.entries()]).to.deep.equal([
      [0, 'zero'],
      [-3, 'neg'],
      ['s', 1],
      [true, 'bool'],
      [null, 'none'],
      [5, 'big'],
    ]);
    expect(r.nested.a.b.c[0].d).to.equal('deep');
  });

  it('a key named __proto__ stays an own key', () => {
    const obj = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}');
    torch.save(obj, tmp('proto.pt'));
    const r = torch.load<Loaded>(tmp('proto.pt'));
    expect(Object.keys(r)).to.deep.equal(['__proto__', 'x']);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(Object.getPrototypeOf(r)).to.equal(Object.prototype);
  });

  it('shared references and cycles survive', () => {
    const shared = { v: 1 };
    const list: unknown[] = [shared, shared];
    list.push(list);
    const t = torch.ones(2);
    torch.save({ list, t1: t, t2: t }, tmp('cycles.pt'));
    const r = torch.load<Loaded>(tmp('cycles.pt'));
    expect(r.list[0]).to.equal(r.list[1]);
    expect(r.list[2]).to.equal(r.list);
    expect(r.t1).to.equal(r.t2);
  });

  it('views and non-contiguous tensors save their values (contiguous), Parameters stay Parameters', () => {
    const base = torch.arange(12, { dtype: 'float32' }).reshape([3, 4]);
    const p = new nn.Parameter(torch.tensor([1, 2]));
    const g = torch.tensor([3, 4]).requiresGrad_();
    torch.save({ tr: base.t(), col: base.slice(1, 2, 3), p, g }, tmp('views.pt'));
    const r = torch.load<Loaded>(tmp('views.pt'));
    same(base.t().contiguous(), r.tr, 'tr');
    expect(r.tr.isContiguous()).to.equal(true);
    same(base.slice(1, 2, 3).contiguous(), r.col, 'col');
    expect(r.p).to.be.instanceOf(nn.Parameter);
    expect(r.p.requiresGrad).to.equal(true);
    expect(r.g.requiresGrad).to.equal(true);
    expect(r.g).to.not.be.instanceOf(nn.Parameter);
  });

  it('a module state_dict round trips into a fresh module; an optimizer state_dict into a fresh optimizer', () => {
    const a = new Net(),
      b = new Net();
    torch.save(a.stateDict(), tmp('net.pt'));
    b.loadStateDict(torch.load<Record<string, Tensor>>(tmp('net.pt')));
    for (const [k, v] of Object.entries(a.stateDict())) expect(v.equal(b.stateDict()[k]), k).to.equal(true);
    const opt = new torch.optim.Adam(a.parameters(), { lr: 0.01 });
    torch.tidy(() => {
      a.forward(torch.randn(3, 2, 4))
        .pow(2)
        .mean()
        .backward();
    });
    opt.step();
    torch.save(opt.stateDict(), tmp('opt.pt'));
    const opt2 = new torch.optim.Adam(b.parameters(), { lr: 0.5 });
    opt2.loadStateDict(torch.load<torch.optim.OptimizerStateDict>(tmp('opt.pt')));
    expect(opt2.stateDict().param_groups[0].lr).to.equal(0.01);
  });

  it('zip64 records are read back', () => {
    const t = torch.randn(5, 3);
    torch.save({ t }, tmp('z64.pt'), { _forceZip64: true });
    same(t, torch.load<Loaded>(tmp('z64.pt')).t, 't');
  });

  it("payloads are 64-byte aligned, like PyTorch's writer", () => {
    torch.save({ a: torch.ones(3), b: torch.zeros(7, { dtype: 'float64' }) }, tmp('align.pt'));
    const buf = fs.readFileSync(tmp('align.pt'));
    let found = 0;
    for (let p = buf.indexOf('PK\x03\x04'); p >= 0 && p + 30 <= buf.length; p = buf.indexOf('PK\x03\x04', p + 4)) {
      const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
      expect(start % 64).to.equal(0);
      found++;
    }
    expect(found).to.be.at.least(4);
  });

  it('save validates everything before writing: unsupported values name where they are', () => {
    const p = tmp('never.pt');
    expect(() => torch.save({ a: { b: [1, undefined] } }, p)).to.throw(
      TypeError,
      /torch\.save: cannot save undefined at obj\.a\.b\[1\]/,
    );
    expect(() => torch.save({ f: () => 1 }, p)).to.throw(TypeError, /cannot save a function at obj\.f/);
    expect(() => torch.save({ d: new Date() }, p)).to.throw(TypeError, /cannot save a Date at obj\.d/);
    expect(() => torch.save(new Float32Array(2), p)).to.throw(TypeError, /Float32Array.*torch\.tensor/);
    expect(() => torch.save(new nn.Linear(2, 2), p)).to.throw(TypeError, /stateDict\(\)/);
    expect(() => torch.save(new Map([[{}, 1]]), p)).to.throw(TypeError, /Map key/);
    expect(() => torch.save({ s: 'a\ud800b' }, p)).to.throw(TypeError, /lone surrogate/);
    const t = torch.ones(2);
    t.dispose();
    expect(() => torch.save({ t }, p)).to.throw(TypeError, /obj\.t has been disposed/);
    let deep: unknown = 1;
    for (let i = 0; i < 1100; i++) deep = [deep];
    expect(() => torch.save(deep, p)).to.throw(RangeError, /deeper than 1000/);
    expect(fs.existsSync(p)).to.equal(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('never'))).to.deep.equal([]);
  });

  it('save and load name bad paths', () => {
    expect(() => torch.save({}, path.join(dir, 'no', 'such', 'dir', 'x.pt'))).to.throw(
      Error,
      /torch\.save: cannot write .*ENOENT/,
    );
    expect(() => torch.save({}, dir)).to.throw(Error, /torch\.save: cannot write .*directory/);
    expect(() => torch.save({}, '' as string)).to.throw(TypeError, /path/);
    expect(() => torch.load(path.join(dir, 'missing.pt'))).to.throw(Error, /torch\.load: cannot read .*ENOENT/);
    expect(() => torch.load(dir)).to.throw(Error, /torch\.load: cannot read/);
    expect(() => torch.load(42 as unknown as string)).to.throw(TypeError, /torch\.load: expected path/);
  });

  it("save follows a symlink and keeps the target's permissions", () => {
    const target = tmp('real.pt'),
      link = tmp('link.pt');
    torch.save({ v: 1 }, target);
    fs.chmodSync(target, 0o640);
    fs.symlinkSync(target, link);
    torch.save({ v: 2 }, link);
    expect(fs.lstatSync(link).isSymbolicLink()).to.equal(true);
    expect(torch.load<Loaded>(target).v).to.equal(2);
    expect(fs.statSync(target).mode & 0o777).to.equal(0o640);
  });
});

describe('serialization: safetensors round trips', () => {
  it('every dtype, with metadata, 8-aligned header, tensors aligned to their item size', () => {
    const tensors: Record<string, Tensor> = {};
    for (const d of DTYPES) tensors[d] = sample(d);
    tensors.scalar = torch.tensor(2.5);
    tensors.empty = torch.zeros(0, 4);
    tensors.view = torch.arange(12, { dtype: 'float32' }).reshape([3, 4]).t();
    torch.saveSafetensors(tensors, tmp('all.safetensors'), { format: 'pt', k: 'v' });
    const buf = fs.readFileSync(tmp('all.safetensors'));
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).to.equal(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    for (const [k, v] of Object.entries(header)) {
      if (k === '__metadata__') continue;
      const info = v as { dtype: string; data_offsets: [number, number] };
      const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2 }[info.dtype] ?? 1;
      expect(info.data_offsets[0] % size, k).to.equal(0);
    }
    const r = torch.loadSafetensors(tmp('all.safetensors'), { withMetadata: true });
    expect(r.metadata).to.deep.equal({ format: 'pt', k: 'v' });
    for (const [k, t] of Object.entries(tensors)) same(t.contiguous(), r.tensors[k], k);
  });

  it('accepts a Map and a Uint8Array; loads onto a device', () => {
    torch.saveSafetensors(new Map([['w', torch.ones(2, 2)]]), tmp('map.safetensors'));
    const r = torch.loadSafetensors(fs.readFileSync(tmp('map.safetensors')), { device: 'cpu' });
    expect(r.w.toArray()).to.deep.equal([
      [1, 1],
      [1, 1],
    ]);
  });

  it('rejects bad arguments before writing', () => {
    const p = tmp('bad.safetensors');
    expect(() => torch.saveSafetensors({ a: 1 as unknown as Tensor }, p)).to.throw(
      TypeError,
      /tensors\["a"\] to be a Tensor/,
    );
    expect(() => torch.saveSafetensors({ __metadata__: torch.ones(1) }, p)).to.throw(TypeError, /reserved/);
    expect(() => torch.saveSafetensors({ a: torch.ones(1) }, p, { n: 1 as unknown as string })).to.throw(
      TypeError,
      /metadata\["n"\]/,
    );
    expect(() => torch.saveSafetensors([] as unknown as Record<string, Tensor>, p)).to.throw(TypeError);
    expect(fs.existsSync(p)).to.equal(false);
  });
});

describe('serialization: PyTorch reads what we write', function () {
  this.timeout(180000);
  before(function () {
    if (!pythonOk) {
      console.log('      (skipped: /usr/bin/python3 cannot import torch)');
      this.skip();
    }
  });

  it('torch.load in Python sees the same values, dtypes and types (and with weights_only=True)', () => {
    const obj = {
      int: 3,
      float: 2.5,
      huge: 2n ** 80n,
      str: 'ünï',
      none: null,
      t: true,
      list: [1, [2, 3]],
      map: new Map<unknown, unknown>([
        [0, 'a'],
        [1, 'b'],
      ]),
      bytes: new Uint8Array([1, 2]),
      ...Object.fromEntries(DTYPES.map((d) => [d, sample(d)])),
      view: torch.arange(6, { dtype: 'float32' }).reshape([2, 3]).t(),
      param: new nn.Parameter(torch.tensor([1, 2])),
    };
    torch.save(obj, tmp('py.pt'));
    const py = python('--dump', tmp('py.pt')) as { dict: [string, unknown][] };
    const got = new Map(py.dict as [string, unknown][]);
    expect(got.get('int')).to.equal(3);
    expect(got.get('float')).to.equal(2.5);
    expect(got.get('huge')).to.deep.equal({ bigint: (2n ** 80n).toString() });
    expect(got.get('str')).to.equal('ünï');
    expect(got.get('none')).to.equal(null);
    expect(got.get('list')).to.deep.equal({ list: [1, { list: [2, 3] }] });
    expect(got.get('map')).to.deep.equal({
      dict: [
        [0, 'a'],
        [1, 'b'],
      ],
    });
    expect(got.get('bytes')).to.deep.equal({ bytes: '0102' });
    for (const d of DTYPES) {
      const e = (got.get(d) as { tensor: { dtype: string; shape: number[]; values: unknown[] } }).tensor;
      expect(e.dtype, d).to.equal(d);
      expect(e.shape, d).to.deep.equal([2, 3]);
      const t = sample(d);
      const flat = [...t.data()].map((v) =>
        typeof v === 'bigint'
          ? v >= -(2n ** 53n) && v <= 2n ** 53n
            ? Number(v)
            : v.toString()
          : d === 'bool'
            ? v !== 0
            : Number.isNaN(v)
              ? 'nan'
              : v === Infinity
                ? 'inf'
                : v,
      );
      expect(e.values, d).to.deep.equal(flat);
    }
    const view = (got.get('view') as { tensor: { values: number[] } }).tensor;
    expect(view.values).to.deep.equal([0, 3, 1, 4, 2, 5]);
    expect((got.get('param') as { tensor: { parameter: boolean; requires_grad: boolean } }).tensor).to.include({
      parameter: true,
      requires_grad: true,
    });
    // weights_only (PyTorch's own restricted loader) accepts a state dict we write.
    torch.save(new Net().stateDict(), tmp('wo.pt'));
    expect(python('--dump-weights-only', tmp('wo.pt'))).to.have.property('dict');
  });

  it('nn.Module.load_state_dict (strict) accepts our state_dict, and computes our output', () => {
    const net = new Net();
    net.eval();
    torch.save(net.stateDict(), tmp('model.pt'));
    const out = python('--load-model', tmp('model.pt')) as { tensor: { values: number[]; shape: number[] } };
    const fx = JSON.parse(
      fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'checkpoints', 'expected.json'), 'utf8'),
    );
    const input = torch.tensor(fx.model.input.tensor.values, { dtype: 'float32' }).reshape(fx.model.input.tensor.shape);
    const mine = torch.noGrad(() => net.forward(input));
    const theirs = torch.tensor(out.tensor.values).reshape(out.tensor.shape);
    expect(mine.sub(theirs).abs().max().item()).to.be.below(1e-5);
  });

  it('torch.optim.Adam.load_state_dict accepts our optimizer state_dict', () => {
    const net = new Net();
    const opt = new torch.optim.Adam(net.parameters(), { lr: 0.01 });
    for (let i = 0; i < 2; i++) {
      opt.zeroGrad();
      torch.tidy(() => {
        net
          .forward(torch.randn(3, 2, 4))
          .pow(2)
          .mean()
          .backward();
      });
      opt.step();
    }
    torch.save(opt.stateDict(), tmp('adam.pt'));
    const back = python('--load-optimizer', tmp('adam.pt')) as { dict: [string, unknown][] };
    const state = (back.dict.find(([k]) => k === 'state')![1] as { dict: [number, unknown][] }).dict;
    expect(state.length).to.equal([...net.parameters()].length);
  });

  it('zip64 files load in Python', () => {
    torch.save({ t: torch.tensor([1, 2, 3]) }, tmp('z64py.pt'), { _forceZip64: true });
    const py = python('--dump', tmp('z64py.pt')) as { dict: [string, { tensor: { values: number[] } }][] };
    expect(py.dict[0][1].tensor.values).to.deep.equal([1, 2, 3]);
  });

  it('safetensors we write read back in a second implementation', () => {
    const tensors: Record<string, Tensor> = {};
    for (const d of DTYPES) tensors[d] = sample(d);
    torch.saveSafetensors(tensors, tmp('py.safetensors'), { format: 'pt' });
    const py = python('--dump-safetensors', tmp('py.safetensors')) as {
      metadata: unknown;
      tensors: Record<string, { tensor: { dtype: string; shape: number[] } }>;
    };
    expect(py.metadata).to.deep.equal({ format: 'pt' });
    for (const d of DTYPES) expect(py.tensors[d].tensor).to.include({ dtype: d });
  });
});

// The format's reference implementation (the `safetensors` Python package; Debian 13 ships it as
// python3-safetensors, which the libtorch 2.x leg installs; Debian 12 has none).
const safetensorsLibOk =
  pythonOk && spawnSync(PYTHON, ['-c', 'import safetensors.torch'], { timeout: 60000 }).status === 0;

type EncTensor = { tensor: { dtype: string; shape: number[]; values: (number | string | boolean)[] } };
function expectMatchesEncoded(t: Tensor, e: EncTensor, what: string): void {
  expect(e.tensor.dtype, `${what} dtype`).to.equal(t.dtype);
  expect(e.tensor.shape, `${what} shape`).to.deep.equal([...t.shape]);
  const ours = [...t.contiguous().data()] as (number | bigint)[];
  expect(e.tensor.values.length, `${what} numel`).to.equal(ours.length);
  e.tensor.values.forEach((v, i) => {
    const a = ours[i];
    if (typeof a === 'bigint') expect(a, `${what}[${i}]`).to.equal(BigInt(v as number | string));
    else if (t.dtype === 'bool') expect(a !== 0, `${what}[${i}]`).to.equal(v);
    else if (v === 'nan') expect(Number.isNaN(a), `${what}[${i}]`).to.equal(true);
    else if (v === 'inf' || v === '-inf') expect(a, `${what}[${i}]`).to.equal(v === 'inf' ? Infinity : -Infinity);
    else
      expect(Math.abs(a - (v as number)), `${what}[${i}]: ${a} vs ${v}`).to.be.at.most(
        1e-7 * Math.max(1, Math.abs(v as number)),
      );
  });
}

describe('serialization: the safetensors reference library', function () {
  this.timeout(180000);
  before(function () {
    if (!safetensorsLibOk) {
      console.log(
        "      (skipped: /usr/bin/python3 cannot import safetensors; Debian 13's python3-safetensors, in the libtorch 2.x leg, has it)",
      );
      this.skip();
    }
  });

  it('reads what we write: every dtype, an empty and a 0-d tensor, values and metadata', () => {
    const tensors: Record<string, Tensor> = {};
    for (const d of DTYPES) tensors[d] = sample(d);
    tensors.empty = torch.zeros([2, 0]);
    tensors.scalar = torch.tensor(3.5);
    torch.saveSafetensors(tensors, tmp('ref.safetensors'), { format: 'pt', note: 'ünï' });
    const py = python('--st-load', tmp('ref.safetensors')) as { metadata: unknown; tensors: Record<string, EncTensor> };
    expect(py.metadata).to.deep.equal({ format: 'pt', note: 'ünï' });
    expect(Object.keys(py.tensors).sort()).to.deep.equal(Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) expectMatchesEncoded(t, py.tensors[k], k);
  });

  it('we read what it writes: values, shapes and metadata', () => {
    const want = python('--st-save', tmp('lib.safetensors')) as Record<string, EncTensor>;
    const { tensors, metadata } = torch.loadSafetensors(tmp('lib.safetensors'), { withMetadata: true });
    expect(metadata).to.deep.equal({ format: 'pt', writer: 'safetensors' });
    expect(Object.keys(tensors).sort()).to.deep.equal(Object.keys(want).sort());
    expect(Object.keys(want)).to.have.length(12);
    for (const [k, e] of Object.entries(want)) expectMatchesEncoded(tensors[k], e, k);
    torch.dispose(Object.values(tensors));
  });
});
