// TorchScript: modules traced and scripted by PyTorch (test/fixtures/gen/gen_jit_fixtures.py) load and run
// here with Python's outputs; values of every supported kind convert both ways; forwardAsync
// equals forward; parameters are the module's own (an SGD step on them equals Python's); save
// round-trips (and Python reads what we save, when it is installed); errors name the call and
// the input.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type JitHandle, native, type TensorClass } from '../../lib/native';
import { type Encoded, expectClose, expectError, fromEncoded, rejection } from '../helpers';

type Tensor = torch.Tensor;
const { jit } = torch;

const DIR = path.join(process.cwd(), 'test', 'fixtures', 'jit');
const fixturePath = (name: string): string => path.join(DIR, name);

interface Expected {
  mlp: { x: Encoded; y: Encoded; params: string[]; loss: number; yAfterSgd: Encoded };
  scripted: {
    x: Encoded;
    bias: Encoded;
    extra: Encoded;
    call1: {
      y: Encoded;
      sum: number;
      max: number;
      lengths: number[];
      tag: string;
      notFlag: boolean;
      prod: number;
      none: Encoded;
    };
    call2: { y: Encoded; sum: number; tag: string; notFlag: boolean; noneIsNone: boolean };
    encode: Encoded;
    big: string;
    keyed: Record<string, string>;
    scaledDefault: Encoded;
    scaled: Encoded;
    kinds: [number, string][];
    stateDict: string[];
    params: string[];
  };
  seed: { src: Encoded; tgt: Encoded; attnMask: Encoded; keyPaddingMask: Encoded; pred: Encoded };
}
const E = JSON.parse(fs.readFileSync(fixturePath('expected.json'), 'utf8')) as Expected;

function tmpFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tnapi-jit-')), name);
}

/** Whether Debian's Python with torch is here (for the cross-check of files saved by Node). */
function pythonTorch(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore', timeout: 60000 });
    return true;
  } catch {
    return false;
  }
}

describe('torch.jit', () => {
  describe('traced MLP', () => {
    it('forward equals Python', () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const x = fromEncoded(E.mlp.x);
      expectClose(m.forward(x) as Tensor, E.mlp.y, {}, 'forward');
      expect(m.methods()).to.deep.equal(['forward']);
      expect(m.schema()).to.match(/^forward\(.* self, Tensor x\) -> Tensor$/);
      m.dispose();
    });

    it('loads from bytes as from a path', () => {
      const m = jit.load(fs.readFileSync(fixturePath('mlp_traced.pt')));
      expectClose(m.forward(fromEncoded(E.mlp.x)) as Tensor, E.mlp.y);
    });

    it("runs under the caller's grad mode", () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const x = fromEncoded(E.mlp.x);
      expect((m.forward(x) as Tensor).requiresGrad).to.equal(true);
      const y = torch.noGrad(() => m.forward(x) as Tensor);
      expect(y.requiresGrad).to.equal(false);
      expect(y.gradFn).to.equal(null);
      expectClose(y, E.mlp.y);
    });

    it("namedParameters, parameters, namedBuffers and buffers are iterators, as nn.Module's", () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const it = m.namedParameters();
      expect(it.next).to.be.a('function');
      expect(it[Symbol.iterator]()).to.equal(it);
      const first = it.next();
      expect(first.done).to.equal(false);
      expect(first.value[0]).to.equal(E.mlp.params[0]);
      expect([...it].map(([k]) => k)).to.deep.equal(E.mlp.params.slice(1));
      // a parameters() iterator feeds an optimizer directly, as nn.Module's does
      const opt = new torch.optim.SGD(m.parameters(), { lr: 0.1 });
      expect(opt.paramGroups[0].params).to.have.length(E.mlp.params.length);
      expect([...m.buffers()]).to.have.length([...m.namedBuffers()].length);
    });

    it("namedParameters are the module's own: one SGD step equals Python's", () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const named = [...m.namedParameters()];
      expect(named.map(([k]) => k)).to.deep.equal(E.mlp.params);
      for (const [, p] of named) expect(p.requiresGrad).to.equal(true);
      const opt = new torch.optim.SGD(
        named.map(([, p]) => p),
        { lr: 0.1 },
      );
      const x = fromEncoded(E.mlp.x);
      const loss = (m.forward(x) as Tensor).pow(2).mean();
      expect(loss.item()).to.be.closeTo(E.mlp.loss, 1e-6);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      expectClose(m.forward(x) as Tensor, E.mlp.yAfterSgd, {}, 'forward after the step');
    });

    it('a parameter that an async optimizer step is writing is refused as an input until the step completes', async () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const params = [...m.parameters()];
      const opt = new torch.optim.SGD(params, { lr: 0.1 });
      (m.forward(fromEncoded(E.mlp.x)) as Tensor).pow(2).mean().backward();
      const step = opt.stepAsync();
      expectError(
        () => m.forward(params[0]),
        Error,
        'ScriptModule.forward: this tensor is in use by an async operation',
      );
      await step;
      expect((m.forward(params[0]) as Tensor).shape).to.deep.equal([8, 3]);
    });

    it('stateDict is detached and shares storage; disposing it leaves the module intact', () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const sd = m.stateDict();
      expect(Object.keys(sd)).to.deep.equal(E.mlp.params);
      expect(sd['fc1.weight'].requiresGrad).to.equal(false);
      torch.noGrad(() => sd['fc2.bias'].add_(1));
      const x = fromEncoded(E.mlp.x);
      const y = m.forward(x) as Tensor;
      const expected = fromEncoded(E.mlp.y).add(1);
      expect(y.allclose(expected, { rtol: 1e-5, atol: 1e-5 }), 'the module sees the in-place change').to.equal(true);
      torch.dispose(sd);
      expectClose((m.forward(x) as Tensor).sub(1), E.mlp.y);
    });

    it("forwardAsync equals forward, with the caller's grad mode", async () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const x = fromEncoded(E.mlp.x);
      const sync = m.forward(x) as Tensor;
      const async = (await m.forwardAsync(x)) as Tensor;
      expect(async.equal(sync)).to.equal(true);
      expect(async.requiresGrad).to.equal(true);
      const p = torch.noGrad(() => m.forwardAsync(x));
      const y = (await p) as Tensor;
      expect(y.requiresGrad).to.equal(false);
      expect(y.equal(sync.detach())).to.equal(true);
    });

    it('forwardAsync holds its inputs: dispose refuses while in flight, and the module may be disposed meanwhile', async () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const x = fromEncoded(E.mlp.x);
      const p = m.forwardAsync(x);
      expectError(() => x.dispose(), Error, /in use by an async operation/);
      m.dispose(); // the call holds the module itself
      expectClose((await p) as Tensor, E.mlp.y);
      x.dispose();
      expect(x.isDisposed).to.equal(true);
    });

    it('forwardAsync rejects with a TorchError for a kernel error', async () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      let err: unknown;
      try {
        await m.forwardAsync(torch.zeros([2, 5]));
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(torch.TorchError);
      expect((err as Error).message).to.match(/^ScriptModule\.forwardAsync: /);
      expect((err as Error).message).to.match(/mat1 and mat2 shapes cannot be multiplied|size mismatch|shapes/);
    });

    it('a concurrent burst of forwardAsync calls equals forward', async () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const xs = Array.from({ length: 8 }, (_, i) => fromEncoded(E.mlp.x).mul(i));
      const outs = (await Promise.all(xs.map((x) => m.forwardAsync(x)))) as Tensor[];
      outs.forEach((o, i) => expect(o.equal(m.forward(xs[i]) as Tensor), `call ${i}`).to.equal(true));
    });
  });

  describe('scripted module', () => {
    const m = (): torch.jit.ScriptModule => jit.load(fixturePath('scripted.pt'));

    it("converts every kind of value both ways (Python's results)", () => {
      const s = m();
      const x = fromEncoded(E.scripted.x),
        bias = fromEncoded(E.scripted.bias),
        extra = fromEncoded(E.scripted.extra);
      const out = s.forward(x, { bias }, ['ab', 'cde'], 2, true, 'hi', [1.5, 4], extra) as torch.jit.JitValue[];
      expect(out).to.be.an('array').with.length(7);
      const [y, dict, lengths, tag, notFlag, prod, none] = out;
      const c = E.scripted.call1;
      expectClose(y as Tensor, c.y, {}, 'y');
      expect(Object.keys(dict as object)).to.deep.equal(['sum', 'max']);
      const d = dict as Record<string, Tensor>;
      expect(d.sum.item()).to.be.closeTo(c.sum, 1e-5);
      expect(d.max.item()).to.be.closeTo(c.max, 1e-5);
      expect(lengths).to.deep.equal(c.lengths);
      expect(tag).to.equal(c.tag);
      expect(notFlag).to.equal(c.notFlag);
      expect(prod).to.equal(c.prod);
      expectClose(none as Tensor, c.none, {}, 'optional tensor');
    });

    it('takes the other branch: empty list, null optional, undefined as None; returns null for None', () => {
      const s = m();
      const x = fromEncoded(E.scripted.x),
        bias = fromEncoded(E.scripted.bias);
      const c = E.scripted.call2;
      const out = s.forward(x, { bias }, [], 1, false, '', [2, -3], undefined) as torch.jit.JitValue[];
      expectClose(out[0] as Tensor, c.y, {}, 'y');
      expect((out[1] as Record<string, Tensor>).sum.item()).to.be.closeTo(c.sum, 1e-5);
      expect(out[2]).to.deep.equal([]);
      expect(out[3]).to.equal(c.tag);
      expect(out[4]).to.equal(c.notFlag);
      expect(out[5]).to.equal(-6);
      expect(c.noneIsNone).to.equal(true);
      expect(out[6]).to.equal(null);
      // a trailing Optional may also be omitted... only when it has a default: here it has none
      expectError(
        () => s.forward(x, { bias }, [], 1, false, '', [2, -3]),
        TypeError,
        'ScriptModule.forward: expected 8 inputs (x, opts, names, k, flag, tag, pair, extra), got 7',
      );
    });

    it('runMethod runs exported methods', () => {
      const s = m();
      const x = fromEncoded(E.scripted.x);
      expect(s.methods().sort()).to.deep.equal([
        'big',
        'count',
        'encode',
        'forward',
        'is_training',
        'keyed',
        'keyed_in',
        'kinds',
        'norm',
        'point',
        'scaled',
      ]);
      expectClose(s.runMethod('encode', x) as Tensor, E.scripted.encode, {}, 'encode');
      expect(s.runMethod('count', [x, x, x])).to.equal(3);
      expectClose(s.runMethod('scaled', x) as Tensor, E.scripted.scaledDefault, {}, 'default argument');
      expectClose(s.runMethod('scaled', x, 0.5) as Tensor, E.scripted.scaled, {}, 'given argument');
    });

    it('int64 beyond 2^53 crosses as bigint; dicts with int keys come back as Maps', () => {
      const s = m();
      const big = s.runMethod('big', 2n ** 52n);
      expect(big).to.equal(BigInt(E.scripted.big));
      expect(s.runMethod('big', 3)).to.equal(3072);
      const keyed = s.runMethod('keyed', 3) as Map<number, string>;
      expect(keyed).to.be.instanceOf(Map);
      expect([...keyed.entries()]).to.deep.equal(Object.entries(E.scripted.keyed).map(([k, v]) => [Number(k), v]));
      expectError(
        () => s.runMethod('big', 2n ** 70n),
        RangeError,
        "ScriptModule.runMethod('big'): input 0 (x) does not fit in int64",
      );
    });

    it("Device, Any and Union inputs; Device and Any outputs (Python's results)", () => {
      const s = m();
      const x = fromEncoded(E.scripted.x);
      const [k1, k2, k3] = E.scripted.kinds;
      expect(s.runMethod('kinds', 'cpu', 3, 2, null)).to.deep.equal(['cpu', 3, ...k1]);
      expect(s.runMethod('kinds', 'cpu', 'a', 2.5, 'u')).to.deep.equal(['cpu', 'a', ...k2]);
      const out = s.runMethod('kinds', 'cpu', x, 1, x) as torch.jit.JitValue[];
      expect((out[1] as Tensor).equal(x), 'a tensor through Any').to.equal(true);
      expect(out.slice(2)).to.deep.equal(k3);
      expect((s.runMethod('kinds', 'cpu', null, 2n, undefined) as torch.jit.JitValue[]).slice(1)).to.deep.equal([
        null,
        4,
        'none,int',
      ]);
      expectError(
        () => s.runMethod('kinds', 'cpu', 1, 2, 3),
        TypeError,
        /^ScriptModule\.runMethod\('kinds'\): expected input 3 \(u\) \(Union\[.*str.*\]\) to be one of its member types, got the number 3$/,
      );
      expectError(
        () => s.runMethod('kinds', 'cpu', [1], 2, null),
        TypeError,
        'input 1 (a) has type Any; only tensors, numbers, booleans, strings and null can be passed as Any, got an array of length 1',
      );
      expectError(
        () => s.runMethod('kinds', 3, 1, 2, null),
        TypeError,
        'input 0 (d) (Device) to be a device string, got the number 3',
      );
      expectError(
        () => s.runMethod('kinds', 'gpu', 1, 2, null),
        RangeError,
        "ScriptModule.runMethod('kinds'): expected input 0 (d) (Device) to be a device such as 'cpu' or 'cuda:0', got 'gpu'",
      );
    });

    it('refuses what cannot cross: dicts with other keys in, TorchScript classes in and out', () => {
      const s = m();
      expectError(
        () => s.runMethod('keyed_in', { 1: 'a' }),
        TypeError,
        "ScriptModule.runMethod('keyed_in'): expected input 0 (d) (Dict[int, str]) to be a dict with string keys (other key types are not supported)",
      );
      expectError(
        () => s.runMethod('point', 1.5),
        TypeError,
        "ScriptModule.runMethod('point'): the result holds a value of type __torch__.Point, which torch-napi cannot return to JavaScript",
      );
      expectError(
        () => s.runMethod('norm', { x: 3, y: 4 }),
        TypeError,
        "ScriptModule.runMethod('norm'): input 0 (p) has type __torch__.Point, which torch-napi cannot pass from JavaScript",
      );
    });

    it('runMethodAsync equals runMethod', async () => {
      const s = m();
      const x = fromEncoded(E.scripted.x);
      expectClose((await s.runMethodAsync('encode', x)) as Tensor, E.scripted.encode);
      expect(await s.runMethodAsync('keyed', 2)).to.deep.equal(
        new Map([
          [0, '0'],
          [10, '1'],
        ]),
      );
    });

    it('eval() / train() set the mode of the module', () => {
      const s = m();
      expect(s.isTraining).to.equal(true);
      expect(s.runMethod('is_training')).to.equal(true);
      expect(s.eval()).to.equal(s);
      expect(s.isTraining).to.equal(false);
      expect(s.runMethod('is_training')).to.equal(false);
      s.train();
      expect(s.runMethod('is_training')).to.equal(true);
      s.train(false);
      expect(s.isTraining).to.equal(false);
      expectError(
        () => s.train('yes' as unknown as boolean),
        TypeError,
        'ScriptModule.train: expected mode to be a boolean',
      );
    });

    it("stateDict has buffers, in PyTorch's order; namedParameters does not", () => {
      const s = m();
      const sd = s.stateDict();
      expect(Object.keys(sd)).to.deep.equal(E.scripted.stateDict);
      expect(sd.scale.toArray()).to.deep.equal([2, 3, 4]);
      expect([...s.namedParameters()].map(([k]) => k)).to.deep.equal(E.scripted.params);
      expect([...s.namedBuffers()].map(([k]) => k)).to.deep.equal(['scale']);
      expect([...s.parameters()]).to.have.length(2);
      expect([...s.buffers()]).to.have.length(1);
    });

    it('refuses wrong inputs, naming the input and what was expected', () => {
      const s = m();
      const x = fromEncoded(E.scripted.x),
        bias = fromEncoded(E.scripted.bias);
      const ok: torch.jit.JitValue[] = [x, { bias }, ['a'], 1, true, 't', [1, 2], null];
      const withInput = (i: number, v: torch.jit.JitValue): torch.jit.JitValue[] => ok.map((o, k) => (k === i ? v : o));
      // the accepted inputs give the module's values: y = relu(lin(x) * scale) + bias (k = 1, flag, no extra)
      const sd = s.stateDict();
      const yRef = torch.tidy(() => x.matmul(sd['lin.weight'].t()).add(sd['lin.bias']).mul(sd.scale).relu().add(bias));
      const checkOk = (out: torch.jit.JitValue, what: string): void => {
        const [y, dict, lengths, tag, notFlag, prod, none] = out as torch.jit.JitValue[];
        expectClose(y as Tensor, yRef.toArray() as never, { rtol: 1e-6, atol: 1e-6 }, `${what}: y`);
        expect((dict as Record<string, Tensor>).sum.item(), `${what}: sum`).to.be.closeTo(yRef.sum().item(), 1e-5);
        expect((dict as Record<string, Tensor>).max.item(), `${what}: max`).to.be.closeTo(yRef.max().item(), 1e-6);
        expect([lengths, tag, notFlag, prod, none], what).to.deep.equal([[1], 't!1', false, 2, null]);
      };
      checkOk(s.forward(...ok), 'plain inputs');
      expectError(
        () => s.forward(x),
        TypeError,
        'ScriptModule.forward: expected 8 inputs (x, opts, names, k, flag, tag, pair, extra), got 1',
      );
      expectError(() => s.forward(...ok, 1), TypeError, 'expected 8 inputs', 'got 9');
      expectError(
        () => s.forward(...withInput(0, 1)),
        TypeError,
        'ScriptModule.forward: expected input 0 (x) (Tensor) to be a Tensor, got the number 1',
      );
      expectError(
        () => s.forward(...withInput(1, { bias: 3 })),
        TypeError,
        'input 1 (opts["bias"]) (Tensor) to be a Tensor, got the number 3',
      );
      expectError(
        () => s.forward(...withInput(1, [bias])),
        TypeError,
        'input 1 (opts)',
        'to be a plain object, got an array',
      );
      expectError(
        () => s.forward(...withInput(1, new Map([['bias', bias]]) as unknown as torch.jit.JitValue)),
        TypeError,
        'input 1 (opts) (Dict[str, Tensor]) to be a plain object, got a Map',
      );
      expectError(
        () => s.forward(...withInput(1, bias)),
        TypeError,
        'input 1 (opts)',
        'to be a plain object, got a Tensor',
      );
      checkOk(s.forward(...withInput(1, Object.assign(Object.create(null), { bias }))), 'a null-prototype dict');
      expectError(
        () => s.forward(...withInput(2, ['a', 3])),
        TypeError,
        'input 2 (names[1]) (str) to be a string, got the number 3',
      );
      expectError(
        () => s.forward(...withInput(3, 1.5)),
        RangeError,
        'input 3 (k) (int) to be an integer, got the number 1.5',
      );
      expectError(() => s.forward(...withInput(3, '1')), TypeError, 'input 3 (k) (int) to be an integer, got a string');
      expectError(() => s.forward(...withInput(4, 1)), TypeError, 'input 4 (flag) (bool) to be a boolean');
      expectError(() => s.forward(...withInput(5, null)), TypeError, 'input 5 (tag) (str) to be a string, got null');
      expectError(
        () => s.forward(...withInput(6, [1])),
        TypeError,
        'input 6 (pair)',
        'to be an array of length 2, got an array of length 1',
      );
      expectError(() => s.forward(...withInput(6, [1, 2.5])), RangeError, 'input 6 (pair[1]) (int)');
      expectError(
        () => s.forward(...withInput(7, 'no')),
        TypeError,
        'input 7 (extra) (Tensor) to be a Tensor, got a string',
      );
      const gone = torch.ones([3]);
      gone.dispose();
      expectError(
        () => s.forward(...withInput(1, { bias: gone })),
        Error,
        'input 1 (opts["bias"]) is a disposed tensor',
      );
      expectError(
        () => s.runMethod('decode', x),
        Error,
        "ScriptModule.runMethod('decode'): the module has no method 'decode' (its methods: ",
      );
      expectError(
        () => s.runMethod(3 as unknown as string),
        TypeError,
        'ScriptModule.runMethod: expected name to be a method name',
      );
      expectError(
        () => s.runMethod('scaled'),
        TypeError,
        "ScriptModule.runMethod('scaled'): expected 1 to 2 inputs (x, alpha), got 0",
      );
      expectError(() => s.schema('nope'), Error, "ScriptModule.schema: the module has no method 'nope'");
      expectError(
        () => s.runMethodAsync(1 as unknown as string),
        TypeError,
        'ScriptModule.runMethodAsync: expected name to be a method name',
      );
      expectError(
        () => s.schema(1 as unknown as string),
        TypeError,
        'ScriptModule.schema: expected name to be a method name',
      );
    });

    it('a runtime error in TorchScript code is a TorchError with the TorchScript traceback, no C++ backtrace', () => {
      const s = m();
      const err = expectError(
        () => s.runMethod('encode', torch.zeros([2, 5])),
        torch.TorchError,
        /^ScriptModule\.runMethod\('encode'\): /,
        /mat1 and mat2 shapes cannot be multiplied/,
      );
      expect(err.message).to.include('Traceback of TorchScript');
    });

    it('forwardAsync refuses wrong inputs synchronously', () => {
      const s = m();
      expectError(() => s.forwardAsync(1), TypeError, 'ScriptModule.forwardAsync: expected 8 inputs');
    });
  });

  describe('the seed model (LSTM encoder and decoder, MultiheadAttention with both masks)', () => {
    it('forward equals Python with the causal attnMask and the keyPaddingMask as inputs', () => {
      const m = jit.load(fixturePath('seed_model.pt')).eval();
      const s = E.seed;
      const inputs = [fromEncoded(s.src), fromEncoded(s.tgt), fromEncoded(s.attnMask), fromEncoded(s.keyPaddingMask)];
      expect(inputs[2].dtype).to.equal('bool');
      const pred = torch.noGrad(() => m.forward(...inputs) as Tensor);
      expectClose(pred, s.pred, { rtol: 1e-4, atol: 1e-5 }, 'prediction');
      expect(m.schema()).to.match(
        /forward\(.* self, Tensor src, Tensor tgt, Tensor attn_mask, Tensor key_padding_mask\) -> Tensor/,
      );
      expectError(
        () => m.forward(inputs[0], inputs[1], inputs[2]),
        TypeError,
        'ScriptModule.forward: expected 4 inputs (src, tgt, attn_mask, key_padding_mask), got 3',
      );
    });

    it('forwardAsync equals forward', async () => {
      const m = jit.load(fixturePath('seed_model.pt')).eval();
      const s = E.seed;
      const inputs = [fromEncoded(s.src), fromEncoded(s.tgt), fromEncoded(s.attnMask), fromEncoded(s.keyPaddingMask)];
      const sync = torch.noGrad(() => m.forward(...inputs) as Tensor);
      const async = (await torch.noGrad(() => m.forwardAsync(...inputs))) as Tensor;
      expect(async.equal(sync)).to.equal(true);
    });
  });

  describe('save', () => {
    it('round-trips: save, load, same outputs, same training flag', () => {
      const m = jit.load(fixturePath('scripted.pt')).eval();
      const file = tmpFile('scripted.pt');
      jit.save(m, file);
      const back = jit.load(file);
      expect(back.isTraining).to.equal(false);
      const x = fromEncoded(E.scripted.x);
      expect((back.runMethod('encode', x) as Tensor).equal(m.runMethod('encode', x) as Tensor)).to.equal(true);
      expect(Object.keys(back.stateDict())).to.deep.equal(E.scripted.stateDict);
    });

    it('keeps trained parameters', () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      torch.noGrad(() => {
        for (const p of m.parameters()) p.mul_(2);
      });
      const file = tmpFile('mlp2.pt');
      jit.save(m, file);
      const x = fromEncoded(E.mlp.x);
      expect((jit.load(file).forward(x) as Tensor).equal(m.forward(x) as Tensor)).to.equal(true);
    });

    it('Python reads what torch.jit.save writes', function () {
      if (!pythonTorch()) {
        console.warn('      (skipped: the cross-check needs /usr/bin/python3 with torch, not found here)');
        this.skip();
      }
      const m = jit.load(fixturePath('seed_model.pt')).eval();
      const file = tmpFile('seed.pt');
      jit.save(m, file);
      const s = E.seed;
      const inputs = [fromEncoded(s.src), fromEncoded(s.tgt), fromEncoded(s.attnMask), fromEncoded(s.keyPaddingMask)];
      const ours = torch.noGrad(() => m.forward(...inputs) as Tensor);
      const inputsFile = tmpFile('inputs.pt');
      torch.save(inputs, inputsFile);
      const script = [
        'import sys, json, torch',
        'm = torch.jit.load(sys.argv[1])',
        'with torch.no_grad(): y = m(*torch.load(sys.argv[2]))',
        'print(json.dumps(y.reshape(-1).tolist()))',
      ].join('\n');
      const out = execFileSync('/usr/bin/python3', ['-c', script, file, inputsFile], {
        encoding: 'utf8',
        timeout: 120000,
      });
      const py = JSON.parse(out) as number[];
      const flat = [...(ours.data() as Float32Array)];
      expect(py.length).to.equal(flat.length);
      py.forEach((v, i) => expect(flat[i]).to.be.closeTo(v, 1e-5));
    });

    it('refuses what is not a ScriptModule, and disposed modules', () => {
      expectError(
        () => jit.save({} as torch.jit.ScriptModule, tmpFile('x.pt')),
        TypeError,
        'torch.jit.save: expected module to be a ScriptModule',
      );
      const m = jit.load(fixturePath('mlp_traced.pt'));
      m.dispose();
      expectError(() => jit.save(m, tmpFile('x.pt')), Error, 'torch.jit.save: the module is disposed');
      expectError(
        () => jit.save(jit.load(fixturePath('mlp_traced.pt')), path.join(os.tmpdir(), 'no-such-dir-jit', 'x.pt')),
        Error,
        /^torch\.jit\.save: cannot write/,
      );
    });
  });

  describe('the native layer re-checks its arguments', () => {
    it('refuses handles, inputs and classes that are not what it takes', () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const h = (m as unknown as { _h: JitHandle })._h;
      const x = torch.zeros([1, 4]);
      expectError(
        () => native.jitRun({} as JitHandle, 'forward', [x], torch.Tensor),
        TypeError,
        'ScriptModule.forward: expected a ScriptModule handle',
      );
      expectError(
        () => native.jitRun((x as unknown as { _h: JitHandle })._h, 'forward', [x], torch.Tensor),
        TypeError,
        'expected a ScriptModule handle',
      );
      expectError(
        () => native.jitRun(h, 'forward', x as unknown as unknown[], torch.Tensor),
        TypeError,
        'ScriptModule.forward: expected the inputs as an array',
      );
      expectError(
        () => native.jitRun(h, 'forward', [x], {} as unknown as TensorClass),
        TypeError,
        'ScriptModule.forward: expected the Tensor class',
      );
      expectError(
        () => native.jitRun(h, 1 as unknown as string, [x], torch.Tensor),
        TypeError,
        'ScriptModule.runMethod: expected the method name to be a string',
      );
      expectError(
        () => native.jitRunAsync(h, 1 as unknown as string, [x], torch.Tensor),
        TypeError,
        'ScriptModule.runMethodAsync: expected the method name to be a string',
      );
      expectError(
        () => native.jitDispose({} as JitHandle),
        TypeError,
        'ScriptModule.dispose: expected argument 0 to be a ScriptModule handle',
      );
      expectError(
        () => native.jitLoad('x' as unknown as Uint8Array, 'x'),
        TypeError,
        'torch.jit.load: expected argument 0 to be a Uint8Array',
      );
      native.jitDispose(h);
      expectError(() => native.jitSave(h), Error, 'torch.jit.save: this ScriptModule is disposed');
    });
  });

  describe('errors raised inside TorchScript', () => {
    // One mapping turns C++ exceptions into JS errors for sync calls and for the pool workers
    // (native/args.cc: MapException), so a call and its Async twin fail with the same class and
    // message. (libtorch 1.13's interpreter rethrows what a TorchScript method raises, an
    // IndexError included, as a RuntimeError carrying the TorchScript traceback: a TorchError.)
    const m = (): torch.jit.ScriptModule => jit.load(fixturePath('index_error.pt'));
    const cases: [string, (s: torch.jit.ScriptModule) => unknown, (s: torch.jit.ScriptModule) => Promise<unknown>][] = [
      ['a dimension out of range', (s) => s.forward(torch.ones([2]), 5), (s) => s.forwardAsync(torch.ones([2]), 5)],
      ['a list index out of range', (s) => s.runMethod('pick', [1, 2], 7), (s) => s.runMethodAsync('pick', [1, 2], 7)],
    ];
    for (const [what, sync, async] of cases) {
      it(`${what}: the sync and the async call give the same error`, async () => {
        const s = m();
        let syncError: Error | undefined;
        try {
          sync(s);
        } catch (e) {
          syncError = e as Error;
        }
        const asyncError = await rejection(async(s));
        expect(syncError).to.be.instanceOf(Error);
        expect(asyncError.constructor).to.equal(syncError?.constructor);
        expect(asyncError).to.be.instanceOf(torch.TorchError);
        const body = (e: Error) => e.message.slice(e.message.indexOf(': ') + 2);
        expect(body(asyncError)).to.equal(body(syncError as Error));
        expect(body(asyncError)).to.match(/out of range/);
        s.dispose();
      });
    }
  });

  describe('lifetime and options', () => {
    it('dispose frees the module; using it afterwards throws; tensors taken from it stay valid', () => {
      const m = jit.load(fixturePath('mlp_traced.pt'));
      const [[, w]] = m.namedParameters();
      m.dispose();
      m.dispose(); // idempotent
      expect(m.isDisposed).to.equal(true);
      expectError(() => m.forward(torch.zeros([1, 4])), Error, 'ScriptModule.forward: this ScriptModule is disposed');
      expectError(() => m.stateDict(), Error, 'ScriptModule.stateDict: this ScriptModule is disposed');
      expect(w.shape).to.deep.equal([8, 4]);
      expect(Number.isFinite(w.sum().item())).to.equal(true);
    });

    it('device: cpu loads; cuda gives the clear error here; bad options are refused', () => {
      const m = jit.load(fixturePath('mlp_traced.pt'), { device: 'cpu' });
      expect([...m.parameters()][0].device).to.equal('cpu');
      if (!torch.cuda.isAvailable()) {
        expectError(
          () => jit.load(fixturePath('mlp_traced.pt'), { device: 'cuda' }),
          Error,
          "torch.jit.load: device 'cuda' requested but CUDA is not available",
        );
      }
      expectError(
        () => jit.load(fixturePath('mlp_traced.pt'), { device: 'tpu' }),
        TypeError,
        'torch.jit.load: expected device',
      );
      expectError(
        () => jit.load(fixturePath('mlp_traced.pt'), { map_location: 'cpu' } as unknown as torch.jit.LoadOptions),
        TypeError,
        "torch.jit.load: unknown option 'map_location'",
      );
      expectError(() => jit.load(3 as unknown as string), TypeError, 'torch.jit.load: expected path');
    });

    it('no tensor leaks from forward, load and dispose', () => {
      const g = (globalThis as { gc?: () => void }).gc;
      if (g) g();
      const before = torch.memory().tensors;
      const m = jit.load(fixturePath('seed_model.pt')).eval();
      const s = E.seed;
      torch.tidy(() => {
        const inputs = [fromEncoded(s.src), fromEncoded(s.tgt), fromEncoded(s.attnMask), fromEncoded(s.keyPaddingMask)];
        for (let i = 0; i < 3; i++) torch.noGrad(() => m.forward(...inputs));
      });
      m.dispose();
      expect(torch.memory().tensors).to.equal(before);
    });
  });
});
