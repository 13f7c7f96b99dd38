// Checkpoints written by PyTorch 1.13 (test/fixtures/gen/gen_checkpoint_fixtures.py) load with the values,
// dtypes, shapes, strides, sharing and Python types that test/fixtures/checkpoints/expected.json
// records; a PyTorch state_dict loads into our nn modules and computes PyTorch's output.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { Parameter } from '../../lib/nn/parameter';
import type { Loaded } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

const DIR = path.join(process.cwd(), 'test', 'fixtures', 'checkpoints');
const fixture = (name: string): string => path.join(DIR, name);

interface TensorEnc {
  dtype: torch.DType;
  shape: number[];
  stride: number[];
  offset: number;
  requires_grad: boolean;
  parameter: boolean;
  values: (number | boolean | string)[];
}
type Enc =
  | null
  | boolean
  | string
  | number
  | { bigint: string }
  | { float: string }
  | { bytes: string }
  | { list: Enc[] }
  | { tuple: Enc[] }
  | { dict: [Enc, Enc][] }
  | { tensor: TensorEnc };

interface Expected {
  marker: string;
  state_dict: Enc;
  model: { input: { tensor: TensorEnc }; output: { tensor: TensorEnc } };
  optimizer: Enc;
  misc: Enc;
  safetensors: { metadata: Record<string, string>; tensors: Record<string, { tensor: TensorEnc }> };
}

const expected = JSON.parse(fs.readFileSync(fixture('expected.json'), 'utf8')) as Expected;

function special(v: string): number {
  return v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number.NaN;
}

/** Builds a tensor from its encoding (row-major values). */
export function decodeTensor(e: TensorEnc): Tensor {
  const vals = e.values;
  let flat: Tensor;
  if (e.dtype === 'bool') flat = torch.tensor(vals as boolean[]);
  else if (e.dtype === 'int64') flat = torch.tensor(BigInt64Array.from(vals.map((v) => BigInt(v as number | string))));
  else
    flat = torch.tensor(
      vals.map((v) => (typeof v === 'string' ? special(v) : (v as number))),
      { dtype: e.dtype },
    );
  return flat.reshape(e.shape);
}

function checkTensor(actual: unknown, e: TensorEnc, where: string): void {
  expect(actual, `${where} is a Tensor`).to.be.instanceOf(torch.Tensor);
  const t = actual as Tensor;
  expect(t.dtype, `${where} dtype`).to.equal(e.dtype);
  expect([...t.shape], `${where} shape`).to.deep.equal(e.shape);
  expect(t.stride(), `${where} stride`).to.deep.equal(e.stride);
  expect(t.requiresGrad, `${where} requiresGrad`).to.equal(e.requires_grad);
  expect(t instanceof Parameter, `${where} is a Parameter`).to.equal(e.parameter);
  expect(t.device, `${where} device`).to.equal('cpu');
  const data = t.data();
  expect(data.length, `${where} numel`).to.equal(e.values.length);
  for (let i = 0; i < e.values.length; i++) {
    const want = e.values[i];
    const got = data[i];
    const at = `${where}[flat ${i}]`;
    if (e.dtype === 'bool') expect(got !== 0, at).to.equal(want);
    else if (e.dtype === 'int64') expect(got, at).to.equal(BigInt(want as number | string));
    else if (typeof want === 'string') {
      if (want === 'nan') expect(Number.isNaN(got as number), at).to.equal(true);
      else expect(got, at).to.equal(special(want));
    } else if (e.dtype === 'float64') expect(got, at).to.equal(want);
    else if (e.dtype === 'float32' || e.dtype === 'float16' || e.dtype === 'bfloat16')
      expect(got, at).to.equal(Math.fround(want as number));
    else expect(got, at).to.equal(want);
  }
}

/** Checks a loaded JS value against the Python encoding, including the Python type rules. */
export function checkValue(actual: unknown, e: Enc, where = 'value'): void {
  if (e === null || typeof e === 'boolean' || typeof e === 'string') {
    expect(actual, where).to.equal(e);
    return;
  }
  if (typeof e === 'number') {
    expect(actual, where).to.equal(e);
    return;
  }
  if ('bigint' in e) {
    expect(actual, where).to.equal(BigInt(e.bigint));
    return;
  }
  if ('float' in e) {
    if (e.float === 'nan') expect(Number.isNaN(actual), `${where} is NaN`).to.equal(true);
    else expect(actual, where).to.equal(special(e.float));
    return;
  }
  if ('bytes' in e) {
    expect(actual, `${where} is a Uint8Array`).to.be.instanceOf(Uint8Array);
    expect(Buffer.from(actual as Uint8Array).toString('hex'), where).to.equal(e.bytes);
    return;
  }
  if ('list' in e || 'tuple' in e) {
    const items = 'list' in e ? e.list : e.tuple;
    expect(Array.isArray(actual), `${where} is an array`).to.equal(true);
    const arr = actual as unknown[];
    expect(arr.length, `${where} length`).to.equal(items.length);
    items.forEach((x, i) => checkValue(arr[i], x, `${where}[${i}]`));
    return;
  }
  if ('dict' in e) {
    const stringKeys = e.dict.every(([k]) => typeof k === 'string');
    if (stringKeys) {
      expect(actual, `${where} is a plain object`).to.be.an('object');
      expect(actual instanceof Map, `${where} is not a Map`).to.equal(false);
      const obj = actual as Record<string, unknown>;
      expect(Object.keys(obj).sort(), `${where} keys`).to.deep.equal(e.dict.map(([k]) => k as string).sort());
      for (const [k, x] of e.dict) checkValue(obj[k as string], x, `${where}.${k as string}`);
    } else {
      expect(actual, `${where} is a Map`).to.be.instanceOf(Map);
      const entries = [...(actual as Map<unknown, unknown>).entries()];
      expect(entries.length, `${where} size`).to.equal(e.dict.length);
      e.dict.forEach(([k, x], i) => {
        checkValue(entries[i][0], k, `${where} key ${i}`);
        checkValue(entries[i][1], x, `${where}.get(${JSON.stringify(k)})`);
      });
    }
    return;
  }
  checkTensor(actual, e.tensor, where);
}

class Net extends nn.Module {
  fc = new nn.Linear(4, 6);
  lstm = new nn.LSTM(6, 6);
  attn = new nn.MultiheadAttention(6, 2);
  norm = new nn.LayerNorm(6);
  forward(x: Tensor): Tensor {
    const h = this.fc.forward(x);
    const [l] = this.lstm.forward(h);
    const [a] = this.attn.forward(l, l, l);
    return this.norm.forward(a);
  }
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item();
}

describe('serialization: checkpoints written by PyTorch', () => {
  it('expected.json has every entry (12 state_dict tensors, 50 misc values, 12 safetensors tensors)', () => {
    expect((expected.state_dict as { dict: unknown[] }).dict, 'state_dict').to.have.length(12);
    expect((expected.misc as { dict: unknown[] }).dict, 'misc').to.have.length(50);
    expect(Object.keys(expected.safetensors.tensors), 'safetensors').to.have.length(12);
  });

  it('fixture files are small (< 200 KB in all)', () => {
    const total = fs.readdirSync(DIR).reduce((n, f) => n + fs.statSync(fixture(f)).size, 0);
    expect(total).to.be.below(200 * 1024);
  });

  it("loads a state_dict as a plain object of tensors with PyTorch's names", () => {
    const sd = torch.load<Record<string, Tensor>>(fixture('state_dict.pt'));
    checkValue(sd, expected.state_dict, 'state_dict');
    expect(Object.keys(sd)).to.include.members([
      'fc.weight',
      'lstm.weight_ih_l0',
      'attn.in_proj_weight',
      'attn.out_proj.weight',
      'norm.bias',
    ]);
  });

  it("loads the state_dict into nn.Linear/LSTM/MultiheadAttention/LayerNorm (strict) and computes PyTorch's output", () => {
    const net = new Net();
    const sd = torch.load<Record<string, Tensor>>(fixture('state_dict.pt'));
    const r = net.loadStateDict(sd, { strict: true });
    expect(r.missingKeys).to.deep.equal([]);
    expect(r.unexpectedKeys).to.deep.equal([]);
    net.eval();
    const out = torch.noGrad(() => net.forward(decodeTensor(expected.model.input.tensor)));
    expect(maxAbsDiff(out, decodeTensor(expected.model.output.tensor))).to.be.below(1e-5);
  });

  it("loads each module's part of the state_dict into that module alone", () => {
    const sd = torch.load<Record<string, Tensor>>(fixture('state_dict.pt'));
    const part = (prefix: string): Record<string, Tensor> =>
      Object.fromEntries(
        Object.entries(sd)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
    new nn.Linear(4, 6).loadStateDict(part('fc.'));
    new nn.LSTM(6, 6).loadStateDict(part('lstm.'));
    new nn.MultiheadAttention(6, 2).loadStateDict(part('attn.'));
    new nn.LayerNorm(6).loadStateDict(part('norm.'));
  });

  it('loads an Adam state_dict: int-keyed state as a Map, param_groups as objects, tuples as arrays', () => {
    const osd = torch.load<torch.optim.OptimizerStateDict>(fixture('optimizer.pt'));
    checkValue(osd, expected.optimizer, 'optimizer');
    expect(osd.state).to.be.instanceOf(Map);
    expect([...osd.state.keys()]).to.deep.equal([...Array(12).keys()]);
    expect(osd.param_groups[0].betas).to.deep.equal([0.9, 0.999]);
    expect(osd.param_groups[0].foreach).to.equal(null);
  });

  it('an Adam state_dict from PyTorch restores into optim.Adam', () => {
    const net = new Net();
    const opt = new torch.optim.Adam(net.parameters(), { lr: 0.01 });
    opt.loadStateDict(torch.load<torch.optim.OptimizerStateDict>(fixture('optimizer.pt')));
    const back = opt.stateDict();
    const orig = torch.load<torch.optim.OptimizerStateDict>(fixture('optimizer.pt'));
    for (const [i, st] of orig.state as Map<number, Record<string, Tensor>>) {
      const mine = back.state.get(i) as Record<string, unknown>;
      for (const k of ['exp_avg', 'exp_avg_sq'])
        expect((mine[k] as Tensor).equal(st[k]), `state ${i}.${k}`).to.equal(true);
    }
  });

  it("loads numbers, strings, bytes, containers, None and bools with Python's types", () => {
    checkValue(torch.load(fixture('misc.pt')), expected.misc, 'misc');
  });

  it('maps Python values to JS: big ints to bigint, int-keyed dicts to Map, tuples and torch.Size to arrays', () => {
    const m = torch.load<Loaded>(fixture('misc.pt'));
    expect(m.huge).to.equal(2n ** 70n);
    expect(m.neg_huge).to.equal(-(2n ** 70n));
    expect(m.big).to.equal(2 ** 40);
    expect(m.int_keys).to.be.instanceOf(Map);
    expect(m.int_keys.get(-5)).to.equal('minus five');
    const tupleKey = [...m.mixed_keys.keys()][2];
    expect(tupleKey).to.deep.equal([1, 2]);
    expect(m.size).to.deep.equal([2, 3]);
    expect(m.empty_bytes).to.be.instanceOf(Uint8Array).with.length(0);
    expect(m.nested.a.b.c[1].d).to.equal('deep');
  });

  it('views that shared one storage in PyTorch share it after loading', () => {
    const m = torch.load<Loaded>(fixture('misc.pt'));
    expect(m.transposed.isContiguous()).to.equal(false);
    expect(m.expanded.stride()).to.deep.equal([0, 1]);
    m.base.add_(100);
    expect(m.row.toArray()).to.deep.equal([104, 105, 106, 107]);
    expect(m.column.toArray()).to.deep.equal([102, 106, 110]);
    expect(m.offset_view.toArray()).to.deep.equal([109, 110, 111]);
    expect((m.transposed as Tensor).index(0).toArray()).to.deep.equal([100, 104, 108]);
  });

  it('a Parameter loads as nn.Parameter, requires_grad is kept', () => {
    const m = torch.load<Loaded>(fixture('misc.pt'));
    expect(m.param).to.be.instanceOf(nn.Parameter);
    expect(m.param.requiresGrad).to.equal(true);
    expect(m.requires_grad.requiresGrad).to.equal(true);
    expect(m.requires_grad.isLeaf).to.equal(true);
    m.requires_grad.mul(2).sum().backward();
    expect(m.requires_grad.grad.toArray()).to.deep.equal([2, 2]);
  });

  it('mapLocation: a device string, or an object from saved locations (cpu when unmapped)', () => {
    const a = torch.load<Record<string, Tensor>>(fixture('state_dict.pt'), { mapLocation: 'cpu' });
    expect(a['fc.weight'].device).to.equal('cpu');
    const b = torch.load<Record<string, Tensor>>(fixture('state_dict.pt'), { mapLocation: { 'cuda:0': 'cpu' } });
    expect(b['fc.weight'].device).to.equal('cpu');
    expect(() => torch.load(fixture('state_dict.pt'), { mapLocation: 'tpu' as string })).to.throw(
      TypeError,
      /mapLocation|device/,
    );
    expect(() => torch.load(fixture('state_dict.pt'), { mapLocation: 3 as unknown as string })).to.throw(
      TypeError,
      /mapLocation/,
    );
  });

  it('loads from a Uint8Array as well as from a path', () => {
    const sd = torch.load<Record<string, Tensor>>(fs.readFileSync(fixture('state_dict.pt')));
    checkValue(sd, expected.state_dict, 'state_dict');
  });

  it('refuses the os.system pickle without running it', () => {
    fs.rmSync(expected.marker, { force: true });
    expect(() => torch.load(fixture('malicious.pt'))).to.throw(
      Error,
      /^torch\.load: refusing to load global '(posix|os)\.system' \(only tensors, numbers, strings, lists, tuples and dicts are supported\)/,
    );
    expect(fs.existsSync(expected.marker), 'the command did not run').to.equal(false);
  });

  it('loads a hand-written safetensors file with its metadata', () => {
    const { tensors, metadata } = torch.loadSafetensors(fixture('tensors.safetensors'), { withMetadata: true });
    expect(metadata).to.deep.equal(expected.safetensors.metadata);
    expect(Object.keys(tensors)).to.deep.equal(Object.keys(expected.safetensors.tensors));
    for (const [k, e] of Object.entries(expected.safetensors.tensors)) checkValue(tensors[k], e, `safetensors.${k}`);
    const plain = torch.loadSafetensors(fixture('tensors.safetensors'));
    expect(plain.weight).to.be.instanceOf(torch.Tensor);
  });

  it('leaves no intermediate tensors alive after loading (storages and views are released)', () => {
    if (global.gc) global.gc();
    const before = torch.memory().tensors;
    const m = torch.load<Loaded>(fixture('misc.pt'));
    const results = Object.values(m).filter((v): v is Tensor => v instanceof torch.Tensor);
    expect(torch.memory().tensors - before).to.equal(results.length);
    torch.dispose(m);
    expect(torch.memory().tensors).to.equal(before);
  });
});
