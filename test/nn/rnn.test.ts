// nn.LSTM / nn.GRU / nn.RNN and their cells against PyTorch 1.13 (test/fixtures/rnn.json, written
// by test/fixtures/gen/gen_rnn_fixtures.py), plus argument checks, reprs, seeded init and lifetimes.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
const { PackedSequence, packPaddedSequence, padPackedSequence } = nn.utils.rnn;
type Tensor = torch.Tensor;

interface Case {
  name: string;
  module: 'LSTM' | 'GRU' | 'RNN' | 'LSTMCell' | 'GRUCell' | 'RNNCell';
  options: Record<string, unknown> & { inputSize: number; hiddenSize: number; batchFirst?: boolean };
  kind?: 'batched' | 'unbatched' | 'packed';
  lengths?: number[];
  state: Record<string, Encoded>;
  input: Encoded;
  hx: Encoded[] | null;
  lossWeights: { output: Encoded; h?: Encoded; c?: Encoded };
  output: Encoded;
  h?: Encoded;
  c?: Encoded;
  grads: Record<string, Encoded>;
}
interface Fixture {
  torch: string;
  cases: Case[];
  cells: Case[];
  seeded: { seed: number; module: Case['module']; options: Case['options']; state: Record<string, Encoded> }[];
  dropout: {
    options: Case['options'];
    state: Record<string, Encoded>;
    input: Encoded;
    seed: number;
    train: Encoded;
    eval: Encoded;
  };
}

const fx = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'rnn.json'), 'utf8')) as Fixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };

/** Any forward, called loosely (the error tests pass what TypeScript would refuse). */
type Loose = { forward(...args: unknown[]): unknown };
const loose = (m: torch.nn.Module): Loose => m as unknown as Loose;
/** A parameter registered under a dynamic name (`weight_ih_l0`), as PyTorch's `getattr`. */
const param = (m: torch.nn.Module, name: string): torch.nn.Parameter =>
  (m as unknown as Record<string, torch.nn.Parameter>)[name];

function make(module: Case['module'], options: Case['options']): torch.nn.Module {
  switch (module) {
    case 'LSTM':
      return new nn.LSTM(options);
    case 'GRU':
      return new nn.GRU(options);
    case 'RNN':
      return new nn.RNN(options as ConstructorParameters<typeof nn.RNN>[0] & torch.nn.RNNSizes);
    case 'LSTMCell':
      return new nn.LSTMCell(options);
    case 'GRUCell':
      return new nn.GRUCell(options);
    case 'RNNCell':
      return new nn.RNNCell(options as ConstructorParameters<typeof nn.RNNCell>[0] & torch.nn.RNNSizes);
  }
}

/** Builds the module and loads PyTorch's state_dict (its own keys) with strict=true. */
function build(c: {
  module: Case['module'];
  options: Case['options'];
  state: Record<string, Encoded>;
}): torch.nn.Module {
  const m = make(c.module, c.options);
  const dtype = Object.values(c.state)[0].dtype;
  if (dtype !== 'float32') m.to(dtype);
  const sd: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(c.state)) sd[k] = fromEncoded(e);
  const r = m.loadStateDict(sd, { strict: true });
  expect(r).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
  torch.dispose(sd);
  return m;
}

function checkGrads(c: Case, m: torch.nn.Module, x: Tensor, hx: Tensor[] | undefined): void {
  const expectedKeys = Object.keys(c.grads).sort();
  const got: Record<string, Tensor | null> = { input: x.grad };
  if (hx) {
    got.h0 = hx[0].grad;
    if (hx.length === 2) got.c0 = hx[1].grad;
  }
  for (const [n, p] of m.namedParameters()) got[n] = p.grad;
  expect(Object.keys(got).sort(), 'gradients computed').to.deep.equal(expectedKeys);
  for (const k of expectedKeys) {
    const g = got[k];
    expect(g, `grad of ${k}`).to.not.equal(null);
    expectClose(g as Tensor, c.grads[k], TOL, `grad of ${k}`);
  }
}

describe('nn.LSTM / nn.GRU / nn.RNN', () => {
  describe(`PyTorch ${fx.torch} fixtures: outputs, final states and every gradient`, () => {
    it('the fixture has all 34 module cases, 5 seeded constructions and 8 cell cases', () => {
      expect(fx.cases, 'cases').to.have.length(34);
      expect(fx.seeded, 'seeded').to.have.length(5);
      expect(fx.cells, 'cells').to.have.length(8);
    });
    for (const c of fx.cases) {
      it(c.name, () =>
        torch.tidy(() => {
          const m = build(c);
          const bf = c.options.batchFirst === true;
          const x = fromEncoded(c.input, { requiresGrad: true });
          const hx = c.hx?.map((e) => fromEncoded(e, { requiresGrad: true }));
          const hxArg = hx === undefined ? undefined : c.module === 'LSTM' ? [hx[0], hx[1]] : hx[0];
          let out: Tensor, h: Tensor, cN: Tensor | undefined;
          const split = (hidden: unknown): void => {
            if (c.module === 'LSTM') [h, cN] = hidden as [Tensor, Tensor];
            else h = hidden as Tensor;
          };
          if (c.kind === 'packed') {
            const T = x.shape[bf ? 1 : 0];
            const packed = packPaddedSequence(x, c.lengths as number[], { batchFirst: bf, enforceSorted: false });
            const [po, hidden] = loose(m).forward(packed, hxArg) as [torch.nn.utils.rnn.PackedSequence, unknown];
            expect(po).to.be.instanceOf(PackedSequence);
            expect(po.batchSizes.toArray()).to.deep.equal(packed.batchSizes.toArray());
            split(hidden);
            const [padded, lens] = padPackedSequence(po, { batchFirst: bf, totalLength: T });
            expect(lens.toArray()).to.deep.equal(c.lengths);
            out = padded;
          } else {
            const [o, hidden] = loose(m).forward(x, hxArg) as [Tensor, unknown];
            out = o;
            split(hidden);
          }
          expectClose(out, c.output, TOL, 'output');
          expectClose(h!, c.h as Encoded, TOL, 'hN');
          if (c.module === 'LSTM') expectClose(cN!, c.c as Encoded, TOL, 'cN');
          const w = c.lossWeights;
          let loss = out
            .mul(fromEncoded(w.output))
            .sum()
            .add(h!.mul(fromEncoded(w.h as Encoded)).sum());
          if (cN) loss = loss.add(cN.mul(fromEncoded(w.c as Encoded)).sum());
          loss.backward();
          checkGrads(c, m, x, hx);
        }),
      );
    }
  });

  describe('seeded initialisation equals PyTorch (torch.manualSeed(s) then the constructor)', () => {
    for (const s of fx.seeded) {
      it(`torch.manual_seed(${s.seed}); ${s.module}(${JSON.stringify(s.options)})`, () =>
        torch.tidy(() => {
          torch.manualSeed(s.seed);
          const m = make(s.module, s.options);
          const sd = m.stateDict();
          expect(Object.keys(sd)).to.deep.equal(Object.keys(s.state));
          // 9 significant digits identify a float32 exactly: the weights must be bit-identical
          for (const [k, e] of Object.entries(s.state)) {
            const want = fromEncoded(e);
            if (!sd[k].equal(want)) expectClose(sd[k], e, { rtol: 0, atol: 0 }, k);
          }
        }));
    }
  });

  it('a PyTorch state_dict loads with strict=true only into the matching layer', () =>
    torch.tidy(() => {
      const c = fx.cases.find((k) => k.module === 'LSTM' && k.options.projSize === 2 && k.options.numLayers === 2)!;
      const sd: Record<string, Tensor> = {};
      for (const [k, e] of Object.entries(c.state)) sd[k] = fromEncoded(e);
      const m = new nn.LSTM(c.options);
      m.loadStateDict(sd, { strict: true });
      for (const [k, p] of m.namedParameters()) expect(p.equal(sd[k]), k).to.equal(true);
      const noProj = new nn.LSTM({ ...c.options, projSize: 0 });
      expectError(
        () => noProj.loadStateDict(sd),
        Error,
        /Unexpected key\(s\) in state_dict: "weight_hr_l0"/,
        /size mismatch for weight_hh_l0/,
      );
      const partial = { ...sd };
      delete partial.weight_hr_l1;
      expectError(() => m.loadStateDict(partial), Error, /Missing key\(s\) in state_dict: "weight_hr_l1"/);
      expect(m.loadStateDict(partial, { strict: false }).missingKeys).to.deep.equal(['weight_hr_l1']);
    }));

  it('inter-layer dropout: applied in training only, with the same generator draws as PyTorch', () =>
    torch.tidy(() => {
      const d = fx.dropout;
      const m = build({ module: 'LSTM', options: d.options, state: d.state }) as torch.nn.LSTM;
      const x = fromEncoded(d.input);
      m.train();
      torch.manualSeed(d.seed);
      expectClose(m.forward(x)[0], d.train, TOL, 'train output');
      m.eval();
      const e1 = m.forward(x)[0],
        e2 = m.forward(x)[0];
      expectClose(e1, d.eval, TOL, 'eval output');
      expect(e1.equal(e2)).to.equal(true);
    }));

  describe('construction', () => {
    it("registers PyTorch's parameter names, shapes and order (bidirectional, projSize)", () => {
      const m = new nn.LSTM(10, 20, { numLayers: 2, bidirectional: true, projSize: 5 });
      const got = [...m.namedParameters()].map(([k, p]) => `${k} ${p.shape.join('x')}`);
      const expected: string[] = [];
      for (const l of [0, 1])
        for (const s of ['', '_reverse']) {
          const inp = 10; // layer 0: inputSize; layer 1: projSize * 2 directions
          expected.push(
            `weight_ih_l${l}${s} 80x${inp}`,
            `weight_hh_l${l}${s} 80x5`,
            `bias_ih_l${l}${s} 80`,
            `bias_hh_l${l}${s} 80`,
            `weight_hr_l${l}${s} 5x20`,
          );
        }
      expect(got).to.deep.equal(expected);
      expect(m.flatWeightsNames).to.deep.equal(expected.map((e) => e.split(' ')[0]));
      expect(m.allWeights.map((ws) => ws.length)).to.deep.equal([5, 5, 5, 5]);
      const g = new nn.GRU(3, 4, { numLayers: 2, bias: false });
      expect([...g.namedParameters()].map(([k, p]) => `${k} ${p.shape.join('x')}`)).to.deep.equal([
        'weight_ih_l0 12x3',
        'weight_hh_l0 12x4',
        'weight_ih_l1 12x4',
        'weight_hh_l1 12x4',
      ]);
      const r = new nn.RNN(3, 4, 2, { bidirectional: true });
      expect(r.numLayers).to.equal(2);
      expect(param(r, 'weight_ih_l1_reverse').shape).to.deep.equal([4, 8]);
    });

    it('keeps every parameter in U(-1/√H, 1/√H)', () => {
      const m = new nn.LSTM(3, 16, { numLayers: 2, projSize: 4 });
      for (const p of m.parameters()) {
        expect(p.abs().max().item()).to.be.at.most(0.25);
        expect(p.requiresGrad).to.equal(true);
      }
    });

    it("prints like PyTorch's repr", () => {
      expect(String(new nn.LSTM(10, 20, { numLayers: 2 }))).to.equal('LSTM(10, 20, num_layers=2)');
      expect(String(new nn.LSTM(10, 20, { batchFirst: true, bidirectional: true }))).to.equal(
        'LSTM(10, 20, batch_first=True, bidirectional=True)',
      );
      expect(String(new nn.LSTM(3, 4, { projSize: 2, numLayers: 2, dropout: 0.25 }))).to.equal(
        'LSTM(3, 4, proj_size=2, num_layers=2, dropout=0.25)',
      );
      expect(String(new nn.GRU(3, 4))).to.equal('GRU(3, 4)');
      // PyTorch's RNN repr does not show the nonlinearity (RNNCell's does)
      expect(String(new nn.RNN(3, 4, { nonlinearity: 'relu' }))).to.equal('RNN(3, 4)');
      expect(
        String(new nn.RNN(3, 4, { numLayers: 2, bias: false, batchFirst: true, dropout: 1, bidirectional: true })),
      ).to.equal('RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=1.0, bidirectional=True)');
      expect(String(new nn.RNNCell(3, 4, { nonlinearity: 'relu', bias: false }))).to.equal(
        'RNNCell(3, 4, bias=False, nonlinearity=relu)',
      );
      expect(String(new nn.LSTMCell(3, 4))).to.equal('LSTMCell(3, 4)');
      expect(String(new nn.GRUCell(3, 4, { bias: false }))).to.equal('GRUCell(3, 4, bias=False)');
      expect(String(new nn.LSTM(3, 4, 2, { dropout: 1e-5 }))).to.equal('LSTM(3, 4, num_layers=2, dropout=1e-05)');
      expect(String(new nn.GRU(3, 4, 2, { dropout: 0.0001 }))).to.equal('GRU(3, 4, num_layers=2, dropout=0.0001)');
      expect(String(new nn.RNN(3, 4, 2, { dropout: 1 / 3 }))).to.equal(
        'RNN(3, 4, num_layers=2, dropout=0.3333333333333333)',
      );
      const seq = new nn.Sequential(new nn.LSTM(3, 4), new nn.Linear(4, 2));
      expect(String(seq)).to.equal(
        'Sequential(\n  (0): LSTM(3, 4)\n  (1): Linear(in_features=4, out_features=2, bias=True)\n)',
      );
    });

    it('takes one options object with inputSize and hiddenSize, or a positional numLayers', () => {
      const a = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true });
      expect([a.inputSize, a.hiddenSize, a.numLayers, a.batchFirst]).to.deep.equal([3, 4, 2, true]);
      const b = new nn.GRU(3, 4, 3, { dropout: 0.1 });
      expect([b.numLayers, b.dropout]).to.deep.equal([3, 0.1]);
      const c = new nn.RNNCell({ inputSize: 2, hiddenSize: 5, nonlinearity: 'relu' });
      expect([c.inputSize, c.hiddenSize, c.nonlinearity]).to.deep.equal([2, 5, 'relu']);
      const d = new nn.LSTM(3, 4, { dtype: 'float64' });
      expect(param(d, 'weight_ih_l0').dtype).to.equal('float64');
    });

    it('rejects bad options with TypeError/RangeError naming the option', () => {
      expectError(
        () => new nn.LSTM(10, 20, { dropout: 1.5 }),
        RangeError,
        /LSTM/,
        /dropout should be a number in range \[0, 1\]/,
        /1\.5/,
      );
      expectError(
        () => new nn.LSTM(10, 20, { projSize: 20 }),
        RangeError,
        /projSize has to be smaller than hiddenSize/,
      );
      expectError(() => new nn.LSTM(10, 20, { projSize: -1 }), RangeError, /projSize/, /non-negative integer/);
      expectError(
        () => new nn.GRU(10, 20, { projSize: 5 } as never),
        TypeError,
        /GRU/,
        /projSize option is only supported for LSTM/,
      );
      expectError(() => new nn.RNN(10, 20, { projSize: 5 } as never), TypeError, /RNN/, /only supported for LSTM/);
      expectError(
        () => new nn.LSTM(10, 20, { batch_first: true } as never),
        TypeError,
        "LSTM: unknown option 'batch_first', did you mean 'batchFirst'? (known: numLayers, bias, batchFirst,",
      );
      expectError(
        () => new nn.GRU(10, 20, { bidirectonal: true } as never),
        TypeError,
        "GRU: unknown option 'bidirectonal', did you mean 'bidirectional'?",
      );
      expectError(
        () => new nn.LSTMCell(10, 20, { batch_first: true } as never),
        TypeError,
        "LSTMCell: unknown option 'batch_first' (known: bias, dtype, device)",
      );
      expectError(
        () => new nn.RNN(10, 20, { nonlinearity: 'sigmoid' as never }),
        TypeError,
        /RNN/,
        /nonlinearity/,
        /'tanh' or 'relu'/,
      );
      expectError(
        () => new nn.RNNCell(10, 20, { nonlinearity: 'gelu' as never }),
        TypeError,
        /RNNCell/,
        /nonlinearity/,
      );
      expectError(() => new nn.LSTM(10, 0), RangeError, /hiddenSize/, /positive integer/);
      expectError(() => new nn.LSTM(10, 20, { numLayers: 0 }), RangeError, /numLayers/, /positive integer/);
      expectError(() => new nn.LSTM(10.5, 20), RangeError, /inputSize/);
      expectError(() => new nn.LSTM('10' as never, 20), TypeError, /inputSize/);
      expectError(() => new nn.GRU(10, 20, { bidirectional: 1 as never }), TypeError, /bidirectional/, /boolean/);
      expectError(
        () => new nn.LSTMCell(10, 20, { numLayers: 2 } as never),
        TypeError,
        /LSTMCell/,
        /unknown option 'numLayers'/,
      );
    });

    it('a huge numLayers is refused before anything is built (the old guard counted only parameter bytes)', () => {
      const before = torch.memory().tensors;
      expectError(
        () => new nn.LSTM(1, 1, { numLayers: 1e6 }),
        RangeError,
        /^LSTM: expected numLayers to be at most 10000, got 1000000$/,
      );
      expectError(() => new nn.GRU(1, 1, 10001), RangeError, /numLayers to be at most 10000/);
      // parameters that alone fit in memory, but not with ~2 KiB per parameter tensor (10000 layers,
      // bidirectional: 80000 tensors, ~160 MiB) on top: refused, nothing allocated
      const inputSize = Math.floor((os.totalmem() - 64 * 2 ** 20) / 32);
      expectError(
        () => new nn.LSTM(inputSize, 1, { numLayers: 10000, bidirectional: true }),
        RangeError,
        /^LSTM: numLayers=10000 \(80000 parameter tensors, .* of parameters\) would need .*, more than this machine's/,
      );
      expect(torch.memory().tensors).to.equal(before);
      const ok = new nn.RNN(1, 1, { numLayers: 50 });
      expect(ok.flatWeights.length).to.equal(200);
    });

    it("warns once, like PyTorch's UserWarning, when dropout > 0 with a single layer", () => {
      const calls: unknown[][] = [];
      const orig = process.emitWarning;
      process.emitWarning = ((...args: unknown[]) => {
        calls.push(args);
      }) as typeof process.emitWarning;
      try {
        new nn.LSTM(3, 4, { dropout: 0.123 });
        new nn.LSTM(3, 4, { dropout: 0.123 });
        new nn.GRU(3, 4, { dropout: 0.123, numLayers: 2 });
      } finally {
        process.emitWarning = orig;
      }
      expect(calls).to.have.length(1);
      expect(calls[0][1]).to.equal('UserWarning');
      expect(calls[0][0]).to.equal(
        'dropout option adds dropout after all but last recurrent layer, so non-zero ' +
          'dropout expects num_layers greater than 1, but got dropout=0.123 and num_layers=1',
      );
    });
  });

  describe('shapes and semantics (spec §4.2, §4.3)', () => {
    it('seq-first, bidirectional and projSize shapes; states are never batch-first', () =>
      torch.tidy(() => {
        const x = torch.randn(7, 3, 10);
        const [o1, [h1, c1]] = new nn.LSTM(10, 20, { numLayers: 2 }).forward(x);
        expect([o1.shape, h1.shape, c1.shape]).to.deep.equal([
          [7, 3, 20],
          [2, 3, 20],
          [2, 3, 20],
        ]);
        const bi = new nn.LSTM(10, 20, { numLayers: 2, bidirectional: true });
        const [o2, [h2]] = bi.forward(x);
        expect([o2.shape, h2.shape]).to.deep.equal([
          [7, 3, 40],
          [4, 3, 20],
        ]);
        // h_n[-2] is the forward direction's last step, h_n[-1] the backward direction's first
        expectClose(h2.select(0, 2), o2.select(0, 6).narrow(1, 0, 20).toArray() as number[][], { atol: 1e-6 });
        expectClose(h2.select(0, 3), o2.select(0, 0).narrow(1, 20, 20).toArray() as number[][], { atol: 1e-6 });
        const [o3, [h3, c3]] = new nn.LSTM(10, 20, { bidirectional: true, projSize: 5 }).forward(x);
        expect([o3.shape, h3.shape, c3.shape]).to.deep.equal([
          [7, 3, 10],
          [2, 3, 5],
          [2, 3, 20],
        ]);
        const bf = new nn.GRU(10, 20, { numLayers: 2, batchFirst: true });
        const [o4, h4] = bf.forward(torch.randn(3, 7, 10));
        expect([o4.shape, h4.shape]).to.deep.equal([
          [3, 7, 20],
          [2, 3, 20],
        ]);
        const [o5, h5] = new nn.RNN(10, 20, { bidirectional: true }).forward(torch.randn(7, 10));
        expect([o5.shape, h5.shape]).to.deep.equal([
          [7, 40],
          [2, 20],
        ]);
      }));

    it('gate order i, f, g, o with both biases (hand recurrence)', () =>
      torch.tidy(() => {
        const m = new nn.LSTM(3, 4);
        const x = torch.randn(1, 1, 3);
        const h0 = torch.randn(1, 1, 4),
          c0 = torch.randn(1, 1, 4);
        const [out, [h1, c1]] = m.forward(x, [h0, c0]);
        const gates = torch.noGrad(() =>
          x
            .select(0, 0)
            .matmul(param(m, 'weight_ih_l0').t())
            .add(param(m, 'bias_ih_l0'))
            .add(h0.select(0, 0).matmul(param(m, 'weight_hh_l0').t()))
            .add(param(m, 'bias_hh_l0')),
        );
        const [i, f, g, o] = gates.chunk(4, 1);
        const c = f.sigmoid().mul(c0.select(0, 0)).add(i.sigmoid().mul(g.tanh()));
        const h = o.sigmoid().mul(c.tanh());
        expectClose(c1.select(0, 0), c.toArray() as number[][], { atol: 1e-6 });
        expectClose(h1.select(0, 0), h.toArray() as number[][], { atol: 1e-6 });
        expectClose(out.select(0, 0), h.toArray() as number[][], { atol: 1e-6 });
      }));

    it('packed input with unsorted lengths: states in the original order, equal to the output at len-1', () =>
      torch.tidy(() => {
        const m = new nn.LSTM(3, 4, { numLayers: 2 });
        const x = torch.randn(7, 3, 3);
        const lengths = [5, 7, 3];
        const packed = packPaddedSequence(x, lengths, { enforceSorted: false });
        expect(packed.sortedIndices!.toArray()).to.deep.equal([1, 0, 2]);
        expect(packed.batchSizes.toArray()).to.deep.equal([3, 3, 3, 2, 2, 1, 1]);
        const [po, [h]] = m.forward(packed);
        const [out] = padPackedSequence(po, { totalLength: 7 });
        lengths.forEach((len, b) => {
          expectClose(
            h.select(0, 1).select(0, b),
            out
              .select(0, len - 1)
              .select(0, b)
              .toArray() as number[],
            { atol: 1e-6 },
          );
          if (len < 7)
            expect(
              out
                .narrow(0, len, 7 - len)
                .select(1, b)
                .abs()
                .sum()
                .item(),
            ).to.equal(0);
        });
        // each sequence alone gives the same result
        lengths.forEach((len, b) => {
          const [, [hb]] = m.forward(x.narrow(0, 0, len).narrow(1, b, 1));
          expectClose(hb.select(1, 0), h.select(1, b).toArray() as number[][], { atol: 1e-6 });
        });
      }));

    it('Module.to("float64") moves the weights; the next forward runs in float64', () =>
      torch.tidy(() => {
        const m = new nn.GRU(3, 4).to('float64');
        const [o, h] = m.forward(torch.randn(5, 2, 3, { dtype: 'float64' }));
        expect([o.dtype, h.dtype]).to.deep.equal(['float64', 'float64']);
      }));
  });

  describe('argument checks (before the native call), and the module still works after each', () => {
    const L = 6,
      N = 3;
    const lstm = new nn.LSTM(10, 20, { numLayers: 2 });
    const x = torch.randn(L, N, 10);
    const works = () =>
      torch.tidy(() => {
        const [o, [h, c]] = lstm.forward(x, [torch.zeros(2, N, 20), torch.zeros(2, N, 20)]);
        expect([o.shape, h.shape, c.shape]).to.deep.equal([
          [L, N, 20],
          [2, N, 20],
          [2, N, 20],
        ]);
      });
    const fails = (args: unknown[], cls: new (...a: never[]) => Error, ...patterns: RegExp[]) => {
      torch.tidy(() => {
        expectError(() => loose(lstm).forward(...args), cls, /LSTM\.forward/, ...patterns);
      });
      works();
    };
    const boolCausal = () => torch.ones(L, L).triu(1).bool();
    const floatCausal = () => torch.zeros(L, L).maskedFill(boolCausal(), -Infinity);
    const maskMessage = [/no attention mask/, /nn\.MultiheadAttention/, /attnMask/];

    it('THE SEED BUG: decoder.forward(input, mask) with a bool causal mask', () => {
      fails(
        [x, boolCausal()],
        TypeError,
        /hx to be \[h0, c0\] with h0 of shape \[2, 3, 20\] and c0 of shape \[2, 3, 20\]/,
        /single bool tensor of shape \[6, 6\]/,
        ...maskMessage,
      );
    });
    it('the seed bug with a float mask (generateSquareSubsequentMask style), unbatched, or L == 1', () => {
      fails([x, floatCausal()], TypeError, /single float32 tensor of shape \[6, 6\]/, ...maskMessage);
      fails(
        [x.select(1, 0), boolCausal()],
        TypeError,
        /h0 of shape \[2, 20\] and c0 of shape \[2, 20\]/,
        ...maskMessage,
      );
      fails([x.narrow(0, 0, 1), torch.zeros(1, 1, { dtype: 'bool' })], TypeError, ...maskMessage);
      fails([x, [boolCausal(), boolCausal()]], TypeError, /bool tensor of shape \[6, 6\]/, ...maskMessage);
      fails([x, [floatCausal(), floatCausal()]], TypeError, /looks like an attention mask/, ...maskMessage);
      fails([x, torch.zeros(2, N, 20)], TypeError, /single float32 tensor of shape \[2, 3, 20\]/, ...maskMessage);
    });
    it('hx shape errors name the expected and the actual shapes', () => {
      fails(
        [x, [torch.zeros(1, N, 20), torch.zeros(2, N, 20)]],
        RangeError,
        /hx\[0\] \(h0\)/,
        /\[2, 3, 20\]/,
        /got \[1, 3, 20\]/,
      );
      fails(
        [x, [torch.zeros(2, N, 20), torch.zeros(2, N, 21)]],
        RangeError,
        /hx\[1\] \(c0\)/,
        /\[2, 3, 20\]/,
        /got \[2, 3, 21\]/,
      );
      fails([x, [torch.zeros(N, 20), torch.zeros(N, 20)]], RangeError, /batched 3-D input/, /must be 3-D/);
      fails([x, [torch.zeros(2, N, 20)]], TypeError, /an array of length 1/);
      fails([x, [torch.zeros(2, N, 20), 5]], TypeError, /hx\[1\] \(c0\) to be a Tensor/, /the number 5/);
      fails([x, 'h0'], TypeError, /hx to be \[h0, c0\]/, /a string/);
      fails(
        [x.select(1, 0), [torch.zeros(2, N, 20), torch.zeros(2, N, 20)]],
        RangeError,
        /unbatched 2-D input/,
        /\[2, 20\]/,
      );
    });
    it('a batch-size mismatch between input and hx names both shapes', () => {
      fails(
        [x, [torch.zeros(2, 2, 20), torch.zeros(2, 2, 20)]],
        RangeError,
        /h0\) has batch size 2 \(shape \[2, 2, 20\]\)/,
        /input of shape \[6, 3, 10\]/,
        /batch size 3/,
        /expected hx\[0\] \(h0\) of shape \[2, 3, 20\]/,
      );
      const bf = new nn.LSTM(10, 20, { numLayers: 2, batchFirst: true });
      torch.tidy(() =>
        expectError(
          () => bf.forward(torch.randn(N, 7, 10), [torch.zeros(N, 2, 20), torch.zeros(N, 2, 20)]),
          RangeError,
          /expected hx\[0\] \(h0\) of shape \[2, 3, 20\]/,
          /got \[3, 2, 20\]/,
          /batchFirst=true/,
        ),
      );
    });
    it('input checks: type, rank, dtype, feature size (naming both shapes)', () => {
      fails([x.narrow(2, 0, 9)], RangeError, /inputSize=10/, /got shape \[6, 3, 9\]/, /\(L, N, 10\)/);
      fails([torch.randn(2, L, N, 10)], RangeError, /3-D \(L, N, H_in\) or 2-D/, /4-D tensor of shape \[2, 6, 3, 10\]/);
      fails(
        [torch.randn(L, N, 10, { dtype: 'float64' })],
        TypeError,
        /dtype of the module's weights \(float32\), got float64/,
      );
      fails([torch.ones(L, N, 10, { dtype: 'int64' })], TypeError, /floating point/, /int64/);
      fails([[1, 2, 3]], TypeError, /input to be a Tensor or a PackedSequence/);
      fails(
        [x, [torch.zeros(2, N, 20, { dtype: 'float64' }), torch.zeros(2, N, 20)]],
        TypeError,
        /h0\) to have the input's dtype float32, got float64/,
      );
    });
    it('projSize: h0 is (D*numLayers, N, projSize)', () =>
      torch.tidy(() => {
        const p = new nn.LSTM(10, 20, { projSize: 5 });
        expectError(
          () => p.forward(x, [torch.zeros(1, N, 20), torch.zeros(1, N, 20)]),
          RangeError,
          /expected hx\[0\] \(h0\) of shape \[1, 3, 5\]/,
        );
        const [o, [h, c]] = p.forward(x, [torch.zeros(1, N, 5), torch.zeros(1, N, 20)]);
        expect([o.shape, h.shape, c.shape]).to.deep.equal([
          [L, N, 5],
          [1, N, 5],
          [1, N, 20],
        ]);
      }));
    it('GRU / RNN: hx is one tensor; masks are named as such', () =>
      torch.tidy(() => {
        const gru = new nn.GRU(10, 20, { numLayers: 2 });
        const ok = () => expect(gru.forward(x)[1].shape).to.deep.equal([2, N, 20]);
        const gfails = (args: unknown[], cls: new (...a: never[]) => Error, ...p: RegExp[]) => {
          expectError(() => loose(gru).forward(...args), cls, /GRU\.forward/, ...p);
          ok();
        };
        gfails([x, boolCausal()], TypeError, /h0, a tensor of shape \[2, 3, 20\]/, ...maskMessage);
        gfails([x, floatCausal()], TypeError, /looks like an attention mask/, ...maskMessage);
        gfails([x.select(1, 0), torch.zeros(L, 9)], TypeError, /\[6, 9\]/, ...maskMessage);
        gfails([x, [torch.zeros(2, N, 20), torch.zeros(2, N, 20)]], TypeError, /only an LSTM takes \[h0, c0\]/);
        gfails([x, torch.zeros(2, 2, 20)], RangeError, /batch size 2/, /input of shape \[6, 3, 10\]/);
        const rnn = new nn.RNN(10, 20, { nonlinearity: 'relu' });
        expectError(
          () => loose(rnn).forward(x, torch.zeros(1, N, 20, { dtype: 'bool' })),
          TypeError,
          /RNN\.forward/,
          ...maskMessage,
        );
        expect(rnn.forward(x, torch.zeros(1, N, 20))[1].shape).to.deep.equal([1, N, 20]);
      }));
    it("a float causal mask that has the state's shape is still refused (PyTorch 1.13 runs it silently)", () =>
      torch.tidy(() => {
        // GRU(10, L, numLayers=L), unbatched: h0 is (L, L), the shape of a causal mask
        const gru = new nn.GRU(10, L, { numLayers: L });
        const xu = torch.randn(L, 10);
        expectError(() => gru.forward(xu, floatCausal()), TypeError, /non-finite values/, ...maskMessage);
        const [o, h] = gru.forward(xu, torch.randn(L, L));
        expect([o.shape, h.shape]).to.deep.equal([
          [L, L],
          [L, L],
        ]);
      }));
  });

  describe('lifetimes', () => {
    it('forward (batched, unbatched, packed) leaves no native tensors behind once its results are disposed', () => {
      const m = new nn.LSTM(3, 4, { numLayers: 2, bidirectional: true });
      const g = new nn.GRU(3, 4);
      const x = torch.randn(5, 3, 3);
      const h0 = torch.zeros(4, 3, 4),
        c0 = torch.zeros(4, 3, 4);
      const xu = x.select(1, 0);
      const before = torch.memory().tensors;
      for (let k = 0; k < 3; k++) {
        torch.dispose(m.forward(x));
        torch.dispose(m.forward(x, [h0, c0]));
        torch.dispose(g.forward(xu));
        const packed = packPaddedSequence(x, [2, 5, 3], { enforceSorted: false });
        torch.dispose(m.forward(packed, [h0, c0]));
        packed.dispose();
      }
      expect(torch.memory().tensors).to.equal(before);
      torch.tidy(() => {
        m.forward(x)[0].sum().backward();
      });
      m.zeroGrad();
      expect(torch.memory().tensors).to.equal(before);
      torch.dispose([x, xu, h0, c0]);
    });
    it("the module's parameters survive the tidy scope it was built in", () => {
      const m = torch.tidy(() => new nn.LSTM(3, 4));
      for (const p of m.parameters()) expect(p.isDisposed).to.equal(false);
      torch.tidy(() => expect(m.forward(torch.randn(2, 3))[0].shape).to.deep.equal([2, 4]));
    });
  });
});

describe('nn.LSTMCell / nn.GRUCell / nn.RNNCell', () => {
  describe(`PyTorch ${fx.torch} fixtures`, () => {
    for (const c of fx.cells) {
      it(c.name, () =>
        torch.tidy(() => {
          const m = build(c);
          const x = fromEncoded(c.input, { requiresGrad: true });
          const hx = c.hx?.map((e) => fromEncoded(e, { requiresGrad: true }));
          const res = loose(m).forward(x, hx === undefined ? undefined : c.module === 'LSTMCell' ? hx : hx[0]);
          const [h, cN] = c.module === 'LSTMCell' ? (res as [Tensor, Tensor]) : [res as Tensor, undefined];
          expectClose(h, c.output, TOL, 'h1');
          let loss = h.mul(fromEncoded(c.lossWeights.output)).sum();
          if (cN) {
            expectClose(cN, c.c as Encoded, TOL, 'c1');
            loss = loss.add(cN.mul(fromEncoded(c.lossWeights.c as Encoded)).sum());
          }
          loss.backward();
          checkGrads(c, m, x, hx);
        }),
      );
    }
  });

  it('parameter names and shapes (bias false leaves only the weights)', () => {
    expect([...new nn.LSTMCell(3, 4).namedParameters()].map(([k, p]) => `${k} ${p.shape.join('x')}`)).to.deep.equal([
      'weight_ih 16x3',
      'weight_hh 16x4',
      'bias_ih 16',
      'bias_hh 16',
    ]);
    const g = new nn.GRUCell(3, 4, { bias: false });
    expect(Object.keys(g.stateDict())).to.deep.equal(['weight_ih', 'weight_hh']);
    expect(g.bias_ih).to.equal(null);
  });

  it('argument checks, and the cell still works after each', () =>
    torch.tidy(() => {
      const cell = new nn.LSTMCell(10, 20);
      const x = torch.randn(3, 10);
      const works = () =>
        expect(cell.forward(x).map((t) => t.shape)).to.deep.equal([
          [3, 20],
          [3, 20],
        ]);
      const fails = (args: unknown[], cls: new (...a: never[]) => Error, ...p: RegExp[]) => {
        expectError(() => loose(cell).forward(...args), cls, /LSTMCell\.forward/, ...p);
        works();
      };
      fails([torch.randn(2, 3, 10)], RangeError, /2-D \(N, 10\) or 1-D \(10\)/, /3-D tensor of shape \[2, 3, 10\]/);
      fails([torch.randn(3, 9)], RangeError, /inputSize=10/, /got shape \[3, 9\]/);
      fails([torch.randn(3, 10, { dtype: 'float64' })], TypeError, /dtype/, /float64/);
      fails(
        [x, torch.ones(3, 3).bool()],
        TypeError,
        /\[h0, c0\], each of shape \[3, 20\]/,
        /no attention mask/,
        /attnMask/,
      );
      fails(
        [x, [torch.zeros(2, 20), torch.zeros(2, 20)]],
        RangeError,
        /batch size 2/,
        /input of shape \[3, 10\]/,
        /\[3, 20\]/,
      );
      fails([x, [torch.zeros(3, 20), torch.zeros(3, 21)]], RangeError, /hx\[1\] \(c0\)/, /\[3, 20\]/, /got \[3, 21\]/);
      const gru = new nn.GRUCell(10, 20);
      expectError(
        () => loose(gru).forward(x, [torch.zeros(3, 20)]),
        TypeError,
        /GRUCell\.forward/,
        /only an LSTMCell takes/,
      );
      expectError(() => loose(gru).forward(x, torch.zeros(3, 20, { dtype: 'bool' })), TypeError, /no attention mask/);
      expect(gru.forward(x.select(0, 0), torch.zeros(20)).shape).to.deep.equal([20]);
    }));
});
