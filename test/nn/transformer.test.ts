// nn.TransformerEncoderLayer / DecoderLayer / Encoder / Decoder / Transformer against PyTorch 1.13's
// slow path (test/fixtures/transformer.json, written by test/fixtures/gen/gen_transformer_fixtures.py), plus
// construction, copies, masks, dropout, argument checks and lifetimes.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded, settleGarbage } from '../helpers';

const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;
type ModuleName =
  | 'TransformerEncoderLayer'
  | 'TransformerDecoderLayer'
  | 'TransformerEncoder'
  | 'TransformerDecoder'
  | 'Transformer';

interface Options {
  dModel?: number;
  nhead?: number;
  dimFeedforward?: number;
  dropout?: number;
  activation?: 'relu' | 'gelu' | 'tanh';
  layerNormEps?: number;
  batchFirst?: boolean;
  normFirst?: boolean;
  numLayers?: number;
  numEncoderLayers?: number;
  numDecoderLayers?: number;
}
interface Case {
  name: string;
  module: ModuleName;
  options: Options;
  state: Record<string, Encoded>;
  inputs: Record<'src' | 'tgt' | 'memory', Encoded>;
  masks: Record<string, Encoded>;
  lossWeights: Encoded;
  output: Encoded;
  grads: Record<string, Encoded>;
}
interface Digest {
  shape: number[];
  head: (number | string)[];
  sum: number;
  sumsq: number;
}
interface Fixture {
  torch: string;
  cases: Case[];
  seeded: { seed: number; module: ModuleName; options: Options; state: Record<string, Encoded> }[];
  seededDigest: {
    seed: number;
    module: ModuleName;
    options: Options;
    after: Encoded;
    params: Record<string, Digest>;
  }[];
  dropout: { case: string; options: Options; seed: number; train: Encoded; eval: Encoded }[];
  stateKeys: Record<ModuleName, string[]>;
  repr: Record<string, string>;
  squareSubsequentMask: Encoded;
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'transformer.json'), 'utf8'),
) as Fixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };
const E = 8,
  H = 2,
  FF = 16;

/** Any forward, called loosely (the error tests pass what TypeScript would refuse). */
type Loose = { forward(...args: unknown[]): Tensor };
const loose = (m: torch.nn.Module): Loose => m as unknown as Loose;

function layerOptions(o: Options): torch.nn.TransformerLayerOptions {
  const act = o.activation ?? 'relu';
  return {
    dimFeedforward: o.dimFeedforward ?? FF,
    dropout: o.dropout ?? 0.1,
    // 'tanh' stands for the callable torch.tanh in the Python generator
    activation: act === 'tanh' ? (x: Tensor) => x.tanh() : act,
    layerNormEps: o.layerNormEps ?? 1e-5,
    batchFirst: o.batchFirst ?? false,
    normFirst: o.normFirst ?? false,
  };
}

function make(module: ModuleName, o: Options): torch.nn.Module {
  const d = o.dModel ?? E,
    h = o.nhead ?? H;
  const lo = layerOptions(o);
  switch (module) {
    case 'TransformerEncoderLayer':
      return new nn.TransformerEncoderLayer(d, h, lo);
    case 'TransformerDecoderLayer':
      return new nn.TransformerDecoderLayer(d, h, lo);
    case 'TransformerEncoder':
      return new nn.TransformerEncoder(new nn.TransformerEncoderLayer(d, h, lo), o.numLayers as number, {
        norm: new nn.LayerNorm(d, { eps: lo.layerNormEps }),
      });
    case 'TransformerDecoder':
      return new nn.TransformerDecoder(new nn.TransformerDecoderLayer(d, h, lo), o.numLayers as number, {
        norm: new nn.LayerNorm(d, { eps: lo.layerNormEps }),
      });
    case 'Transformer':
      return new nn.Transformer({
        dModel: d,
        nhead: h,
        numEncoderLayers: o.numEncoderLayers,
        numDecoderLayers: o.numDecoderLayers,
        ...lo,
      });
  }
}

/** Builds the module and loads PyTorch's state_dict (its own keys) with strict=true. */
function build(module: ModuleName, options: Options, state: Record<string, Encoded>): torch.nn.Module {
  const m = make(module, options);
  const sd: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(state)) sd[k] = fromEncoded(e);
  expect(Object.keys(m.stateDict()), "state_dict keys in PyTorch's order").to.deep.equal(Object.keys(state));
  expect(m.loadStateDict(sd, { strict: true })).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
  torch.dispose(sd);
  return m;
}

function masksOf(c: { masks: Record<string, Encoded> }): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(c.masks)) out[k] = fromEncoded(e);
  return out;
}

function run(
  module: ModuleName,
  m: torch.nn.Module,
  ins: Record<string, Tensor>,
  masks: Record<string, Tensor>,
): Tensor {
  if (module === 'TransformerEncoderLayer' || module === 'TransformerEncoder') return loose(m).forward(ins.src, masks);
  if (module === 'Transformer') return loose(m).forward(ins.src, ins.tgt, masks);
  return loose(m).forward(ins.tgt, ins.memory, masks);
}

/** float32 values that must be bit-equal to PyTorch's (stored with 9 significant digits). */
function expectExactF32(t: Tensor, e: Encoded, what: string): void {
  expect([...t.shape], `${what} shape`).to.deep.equal(e.shape);
  const a = t.data();
  e.values.forEach((v, i) => {
    if (Math.fround(v as number) !== a[i]) expect.fail(`${what}[flat ${i}]: expected ${v}, got ${a[i]}`);
  });
}

function caseByName(name: string): Case {
  const c = fx.cases.find((x) => x.name === name);
  if (!c) throw new Error(`fixture: no case ${name}`);
  return c;
}

const small = (o: torch.nn.TransformerLayerOptions = {}) =>
  new nn.TransformerEncoderLayer(E, H, { dimFeedforward: FF, ...o });

describe('nn.Transformer*', () => {
  describe(`PyTorch ${fx.torch} slow path: outputs and the gradients of the inputs and of every parameter`, () => {
    it('the fixture has 10 cases, 1 + 3 seeded constructions, 5 state key lists and 2 dropout cases', () => {
      expect(fx.cases, 'cases').to.have.length(10);
      expect(fx.seeded, 'seeded').to.have.length(1);
      expect(fx.seededDigest, 'seededDigest').to.have.length(3);
      expect(Object.keys(fx.stateKeys), 'stateKeys').to.have.length(5);
      expect(fx.dropout, 'dropout').to.have.length(2);
    });
    for (const c of fx.cases) {
      it(c.name, () =>
        torch.tidy(() => {
          const m = build(c.module, c.options, c.state).eval();
          const ins: Record<string, Tensor> = {};
          for (const [k, e] of Object.entries(c.inputs)) ins[k] = fromEncoded(e, { requiresGrad: true });
          const out = run(c.module, m, ins, masksOf(c));
          expectClose(out, c.output, TOL, 'output');
          out.mul(fromEncoded(c.lossWeights)).sum().backward();
          const got: Record<string, Tensor | null> = {};
          for (const [k, t] of Object.entries(ins)) got[k] = t.grad;
          for (const [n, p] of m.namedParameters()) got[n] = p.grad;
          expect(Object.keys(got).sort(), 'gradients computed').to.deep.equal(Object.keys(c.grads).sort());
          for (const [k, e] of Object.entries(c.grads)) {
            expect(got[k], `grad of ${k}`).to.not.equal(null);
            expectClose(got[k] as Tensor, e, TOL, `grad of ${k}`);
          }
        }),
      );
    }
  });

  describe('construction', () => {
    for (const s of fx.seeded) {
      it(`torch.manualSeed(${s.seed}) then ${s.module}(8, 2, {dimFeedforward: 16}) gives PyTorch's initial weights`, () =>
        torch.tidy(() => {
          torch.manualSeed(s.seed);
          const m = make(s.module, s.options);
          const sd = m.stateDict();
          expect(Object.keys(sd)).to.deep.equal(Object.keys(s.state));
          for (const [k, e] of Object.entries(s.state)) expectExactF32(sd[k], e, k);
        }));
    }

    for (const s of fx.seededDigest) {
      it(`torch.manualSeed(${s.seed}) then ${s.module}(${JSON.stringify(s.options)}): PyTorch's weights, and the generator goes on as PyTorch's`, () =>
        torch.tidy(() => {
          torch.manualSeed(s.seed);
          const m = make(s.module, s.options);
          expectExactF32(torch.rand(4), s.after, 'torch.rand(4) after construction');
          const sd = m.stateDict();
          expect(Object.keys(sd)).to.deep.equal(Object.keys(s.params));
          for (const [k, d] of Object.entries(s.params)) {
            const t = sd[k];
            expect([...t.shape], `${k} shape`).to.deep.equal(d.shape);
            const flat = t.data() as Float32Array;
            d.head.forEach((v, i) => expect(flat[i], `${k}[${i}]`).to.equal(Math.fround(v as number)));
            let sum = 0,
              sumsq = 0;
            for (const v of flat) {
              sum += v;
              sumsq += v * v;
            }
            expect(sum, `${k} sum`).to.be.closeTo(d.sum, 1e-9 + 1e-9 * Math.abs(d.sum));
            expect(sumsq, `${k} sum of squares`).to.be.closeTo(d.sumsq, 1e-9 + 1e-9 * d.sumsq);
          }
        }));
    }

    it("has PyTorch's state_dict keys, in its order", () => {
      const ctor: Record<ModuleName, Options> = {
        TransformerEncoderLayer: {},
        TransformerDecoderLayer: {},
        TransformerEncoder: { numLayers: 2 },
        TransformerDecoder: { numLayers: 2 },
        Transformer: { numEncoderLayers: 2, numDecoderLayers: 1 },
      };
      for (const [name, keys] of Object.entries(fx.stateKeys)) {
        const m = make(name as ModuleName, ctor[name as ModuleName]);
        const sd = m.stateDict();
        expect(Object.keys(sd), name).to.deep.equal(keys);
        expect(
          [...m.namedParameters()].map(([k]) => k),
          `${name} parameters`,
        ).to.deep.equal(keys);
        torch.dispose(sd);
      }
    });

    it("prints like PyTorch's repr", () => {
      expect(String(small({ activation: 'gelu' }))).to.equal(fx.repr.TransformerEncoderLayer);
      expect(String(small({ activation: new nn.GELU(), dropout: 0.2, layerNormEps: 1e-6 }))).to.equal(
        fx.repr['TransformerEncoderLayer gelu module p=0.2 eps=1e-6'],
      );
      expect(String(new nn.TransformerDecoderLayer(E, H, { dimFeedforward: FF }))).to.equal(
        fx.repr.TransformerDecoderLayer,
      );
      expect(String(new nn.TransformerEncoder(small(), 2))).to.equal(fx.repr['TransformerEncoder no norm']);
      expect(String(make('Transformer', { numEncoderLayers: 2, numDecoderLayers: 1 }))).to.equal(fx.repr.Transformer);
    });

    it('stores a string activation as F.relu / F.gelu (a function, not a submodule); a module activation is registered', () => {
      expect(small().activation).to.equal(F.relu);
      expect(small({ activation: 'gelu' }).activation).to.equal(F.gelu);
      const fn = (x: Tensor) => x.tanh();
      expect(small({ activation: fn }).activation).to.equal(fn);
      expect([...small({ activation: 'gelu' }).namedChildren()].map(([k]) => k)).to.not.include('activation');
      const gelu = new nn.GELU();
      const layer = small({ activation: gelu });
      expect(layer.activation).to.equal(gelu);
      expect([...layer.namedChildren()].map(([k]) => k).pop()).to.equal('activation');
      // the module and 'gelu' compute the same thing
      torch.tidy(() => {
        torch.manualSeed(1);
        const a = small({ activation: 'gelu' }).eval();
        torch.manualSeed(1);
        const b = small({ activation: new nn.GELU() }).eval();
        const x = torch.randn(4, 2, E);
        expect(a.forward(x).allclose(b.forward(x), { rtol: 0, atol: 0 })).to.equal(true);
      });
    });

    it("keeps its settings: dModel, nhead, dimFeedforward, batchFirst, normFirst, and MultiheadAttention's", () => {
      const l = new nn.TransformerDecoderLayer(12, 3, {
        dimFeedforward: 20,
        batchFirst: true,
        normFirst: true,
        dropout: 0.25,
      });
      expect([l.dModel, l.nhead, l.dimFeedforward, l.batchFirst, l.normFirst]).to.deep.equal([12, 3, 20, true, true]);
      expect([l.self_attn.embedDim, l.self_attn.numHeads, l.self_attn.dropout, l.self_attn.batchFirst]).to.deep.equal([
        12,
        3,
        0.25,
        true,
      ]);
      expect([l.multihead_attn.batchFirst, l.dropout.p, l.dropout3.p, l.norm3.eps]).to.deep.equal([
        true,
        0.25,
        0.25,
        1e-5,
      ]);
      const t = new nn.Transformer({
        dModel: 16,
        nhead: 4,
        numEncoderLayers: 1,
        numDecoderLayers: 2,
        dimFeedforward: 8,
      });
      expect([t.dModel, t.nhead, t.batchFirst, t.encoder.numLayers, t.decoder.numLayers]).to.deep.equal([
        16,
        4,
        false,
        1,
        2,
      ]);
      expect(t.encoder.norm).to.be.instanceOf(nn.LayerNorm);
      expect(t.decoder.norm).to.be.instanceOf(nn.LayerNorm);
      expect(new nn.TransformerEncoder(small(), 1).norm).to.equal(null);
    });

    it('nn.Transformer re-initialises every parameter of more than one dimension (xavier), and not the others', () => {
      torch.tidy(() => {
        const t = new nn.Transformer({
          dModel: 8,
          nhead: 2,
          numEncoderLayers: 1,
          numDecoderLayers: 1,
          dimFeedforward: 16,
        });
        for (const [k, p] of t.namedParameters()) {
          if (p.dim() > 1) {
            const bound = Math.sqrt(6 / (p.shape[0] + p.shape[1]));
            expect(p.abs().max().item() as number, k).to.be.at.most(bound);
          }
        }
        // LayerNorms keep 1 / 0, MHA biases 0
        expect(t.encoder.norm!.stateDict().weight.eq(1).all().itemBool()).to.equal(true);
        const layer = t.decoder.layers.at(0) as torch.nn.TransformerDecoderLayer;
        expect(layer.self_attn.in_proj_bias!.eq(0).all().itemBool()).to.equal(true);
      });
    });

    it('accepts dtype and device; a float64 layer runs float64 inputs', () =>
      torch.tidy(() => {
        const l = small({ dtype: 'float64', device: 'cpu' }).eval();
        for (const p of l.parameters()) expect(p.dtype).to.equal('float64');
        const out = l.forward(torch.randn(3, 2, E, { dtype: 'float64' }), { srcMask: nn.masks.causal(3) });
        expect(out.dtype).to.equal('float64');
        const enc = new nn.TransformerEncoder(l, 2);
        for (const p of enc.parameters()) expect(p.dtype).to.equal('float64');
      }));
  });

  describe("TransformerEncoder / TransformerDecoder copies (PyTorch's copy.deepcopy)", () => {
    it("start every layer from the given layer's weights, as separate parameters", () =>
      torch.tidy(() => {
        const layer = small();
        const enc = new nn.TransformerEncoder(layer, 3);
        expect(enc.layers.length).to.equal(3);
        const base = layer.stateDict();
        const seen = new Set<unknown>();
        for (const l of enc.layers) {
          expect(l).to.be.instanceOf(nn.TransformerEncoderLayer);
          expect(l).to.not.equal(layer);
          const sd = l.stateDict();
          for (const [k, t] of Object.entries(base)) expect(sd[k].equal(t), k).to.equal(true);
          for (const p of l.parameters()) {
            expect(p).to.be.instanceOf(nn.Parameter);
            expect(p.requiresGrad).to.equal(true);
            expect(seen.has(p)).to.equal(false);
            seen.add(p);
          }
        }
        for (const p of layer.parameters()) expect(seen.has(p)).to.equal(false);
        // changing one copy changes neither the others nor the original
        torch.noGrad(() => (enc.layers.at(0) as torch.nn.TransformerEncoderLayer).linear1.weight.fill_(7));
        expect((enc.layers.at(1) as torch.nn.TransformerEncoderLayer).linear1.weight.eq(7).any().itemBool()).to.equal(
          false,
        );
        expect(layer.linear1.weight.eq(7).any().itemBool()).to.equal(false);
      }));

    it('copy settings, training mode, frozen parameters, a function activation and a module activation', () =>
      torch.tidy(() => {
        const fn = (x: Tensor) => x.sigmoid();
        const layer = new nn.TransformerDecoderLayer(E, H, {
          dimFeedforward: FF,
          activation: fn,
          batchFirst: true,
          normFirst: true,
          dropout: 0.2,
        });
        layer.eval();
        layer.norm1.weight!.requiresGrad_(false);
        const dec = new nn.TransformerDecoder(layer, 2);
        const c = dec.layers.at(1) as torch.nn.TransformerDecoderLayer;
        expect([
          c.batchFirst,
          c.normFirst,
          c.dModel,
          c.self_attn.batchFirst,
          c.dropout.p,
          c.training,
          c.self_attn.training,
        ]).to.deep.equal([true, true, E, true, 0.2, false, false]);
        expect(c.activation).to.equal(fn);
        expect(c.norm1.weight!.requiresGrad).to.equal(false);
        expect(c.norm2.weight!.requiresGrad).to.equal(true);
        const gelu = new nn.GELU({ approximate: 'tanh' });
        const enc = new nn.TransformerEncoder(small({ activation: gelu }), 2);
        const acts = [...enc.layers].map((l) => (l as torch.nn.TransformerEncoderLayer).activation);
        expect(acts[0]).to.be.instanceOf(nn.GELU);
        expect(acts[0]).to.not.equal(gelu);
        expect(acts[0]).to.not.equal(acts[1]);
        expect((acts[0] as torch.nn.GELU).approximate).to.equal('tanh');
        // train()/eval() reach the copies
        dec.train();
        expect(c.training && c.dropout1.training).to.equal(true);
      }));

    it('copy a custom layer module, with its buffers (persistent or not) and tied parameters', () =>
      torch.tidy(() => {
        class Tied extends nn.Module {
          a = new nn.Linear(E, E);
          b: torch.nn.Linear;
          constructor() {
            super();
            this.b = new nn.Linear(E, E);
            this.b.weight = this.a.weight;
            this.registerBuffer('count', torch.zeros([1]));
            this.registerBuffer('scratch', torch.ones([2]), { persistent: false });
          }
          forward(src: Tensor): Tensor {
            return this.b.forward(this.a.forward(src));
          }
        }
        const enc = new nn.TransformerEncoder(new Tied(), 2);
        const t = enc.layers.at(0) as Tied;
        expect(t).to.be.instanceOf(Tied);
        expect(t.b.weight).to.equal(t.a.weight);
        // PyTorch's order: a module's own buffers before its children; tied weights appear under both names
        expect(Object.keys(enc.stateDict())).to.deep.equal([
          'layers.0.count',
          'layers.0.a.weight',
          'layers.0.a.bias',
          'layers.0.b.weight',
          'layers.0.b.bias',
          'layers.1.count',
          'layers.1.a.weight',
          'layers.1.a.bias',
          'layers.1.b.weight',
          'layers.1.b.bias',
        ]);
        expect([...enc.namedBuffers()].map(([k]) => k)).to.deep.equal([
          'layers.0.count',
          'layers.0.scratch',
          'layers.1.count',
          'layers.1.scratch',
        ]);
        expect(enc.forward(torch.randn(3, 2, E)).shape).to.deep.equal([3, 2, E]);
      }));

    it('the encoder stack equals its layers run in turn, then the norm', () =>
      torch.tidy(() => {
        const enc = new nn.TransformerEncoder(small({ batchFirst: true }), 2, new nn.LayerNorm(E)).eval();
        const x = torch.randn(2, 5, E);
        const mask = nn.masks.causal(5),
          kpm = nn.masks.keyPadding([5, 3]);
        let y = x;
        for (const l of enc.layers)
          y = (l as torch.nn.TransformerEncoderLayer).forward(y, { srcMask: mask, srcKeyPaddingMask: kpm });
        y = (enc.norm as torch.nn.LayerNorm).forward(y);
        expect(enc.forward(x, { mask, srcKeyPaddingMask: kpm }).equal(y)).to.equal(true);
      }));
  });

  describe('masks', () => {
    it("generateSquareSubsequentMask equals PyTorch's (float, 0 on and below the diagonal, -inf above)", () =>
      torch.tidy(() => {
        const m = nn.Transformer.generateSquareSubsequentMask(4);
        expectClose(m, fx.squareSubsequentMask, { rtol: 0, atol: 0 }, 'mask');
        expect(nn.Transformer.generateSquareSubsequentMask(3, { dtype: 'float64' }).dtype).to.equal('float64');
        expect(nn.Transformer.generateSquareSubsequentMask(0).shape).to.deep.equal([0, 0]);
        expect(nn.Transformer.generateSquareSubsequentMask(2, { device: 'cpu' }).toArray()).to.deep.equal([
          [0, -Infinity],
          [0, 0],
        ]);
      }));

    it("a bool causal mask (true = blocked) gives exactly the float -inf mask's result, and isCausal is only a hint", () =>
      torch.tidy(() => {
        const l = small().eval();
        const x = torch.randn(5, 2, E);
        const a = l.forward(x, { srcMask: nn.masks.causal(5) });
        const b = l.forward(x, { srcMask: nn.Transformer.generateSquareSubsequentMask(5) });
        const c = l.forward(x, { srcMask: nn.masks.causal(5), isCausal: true });
        expect(a.equal(b)).to.equal(true);
        expect(a.equal(c)).to.equal(true);
        expect(a.equal(l.forward(x))).to.equal(false);
      }));

    it('the output at position i does not depend on later positions with a causal mask', () =>
      torch.tidy(() => {
        const t = new nn.Transformer({
          dModel: E,
          nhead: H,
          numEncoderLayers: 1,
          numDecoderLayers: 2,
          dimFeedforward: FF,
        }).eval();
        const src = torch.randn(4, 2, E),
          tgt = torch.randn(5, 2, E);
        const tgtMask = nn.Transformer.generateSquareSubsequentMask(5);
        const a = t.forward(src, tgt, { tgtMask });
        const tgt2 = tgt.clone();
        torch.noGrad(() => tgt2.index(4).fill_(100));
        const b = t.forward(src, tgt2, { tgtMask });
        expect(a.index('0:4').allclose(b.index('0:4'), { atol: 1e-6 })).to.equal(true);
        expect(a.index(4).allclose(b.index(4), { atol: 1e-3 })).to.equal(false);
      }));

    it("a fully padded sequence gives NaN, as PyTorch 1.13's slow path (not 0 as its nested-tensor fast path)", () =>
      torch.tidy(() => {
        const l = small({ batchFirst: true }).eval();
        const out = l.forward(torch.randn(2, 3, E), { srcKeyPaddingMask: nn.masks.keyPadding([3, 0], 3) });
        expect(out.index(0).isnan().any().itemBool()).to.equal(false);
        expect(out.index(1).isnan().all().itemBool()).to.equal(true);
      }));
  });

  describe('dropout', () => {
    for (const d of fx.dropout) {
      // libtorch 2.x draws dropout masks differently from 1.13 (the fixtures' version), so the
      // exact masks are compared on 1.13 only; 'is active only in training mode' runs on both.
      it(`${d.case}, p=0.3: train mode after torch.manualSeed(${d.seed}) draws PyTorch's masks; eval mode has none`, function () {
        if (!torch.libtorchVersion.startsWith('1.13')) this.skip();
        torch.tidy(() => {
          const c = caseByName(d.case);
          const m = build(c.module, d.options, c.state);
          const masks = masksOf(c);
          const ins: Record<string, Tensor> = {};
          for (const [k, e] of Object.entries(c.inputs)) ins[k] = fromEncoded(e);
          m.train();
          torch.manualSeed(d.seed);
          const train = torch.noGrad(() => run(c.module, m, ins, masks));
          expectClose(train, d.train, TOL, 'train-mode output');
          m.eval();
          const e1 = run(c.module, m, ins, masks),
            e2 = run(c.module, m, ins, masks);
          expectClose(e1, d.eval, TOL, 'eval-mode output');
          expect(e1.equal(e2)).to.equal(true);
        });
      });
    }

    it('is active only in training mode', () =>
      torch.tidy(() => {
        const t = new nn.Transformer({
          dModel: E,
          nhead: H,
          numEncoderLayers: 1,
          numDecoderLayers: 1,
          dimFeedforward: FF,
          dropout: 0.5,
        });
        const src = torch.randn(4, 2, E),
          tgt = torch.randn(3, 2, E);
        expect(t.training).to.equal(true);
        const a = t.forward(src, tgt),
          b = t.forward(src, tgt);
        expect(a.equal(b)).to.equal(false);
        t.eval();
        for (const m of t.modules()) expect(m.training).to.equal(false);
        const c = t.forward(src, tgt),
          e = t.forward(src, tgt);
        expect(c.equal(e)).to.equal(true);
        // p = 0 in training mode computes what eval mode does
        torch.manualSeed(4);
        const z = small({ dropout: 0 });
        const x = torch.randn(3, 2, E);
        const zt = z.forward(x);
        expect(zt.equal(z.eval().forward(x))).to.equal(true);
      }));
  });

  describe('argument checks', () => {
    it('constructors reject bad arguments, naming the class and the argument', () => {
      const Enc = nn.TransformerEncoderLayer as unknown as new (...a: unknown[]) => unknown;
      expectError(() => new Enc('8', 2), TypeError, 'TransformerEncoderLayer', 'dModel', 'integer');
      expectError(() => new Enc(0, 2), RangeError, 'TransformerEncoderLayer', 'dModel', 'positive');
      expectError(() => new Enc(8, 2.5), RangeError, 'TransformerEncoderLayer', 'nhead');
      expectError(() => new Enc(8, 3), RangeError, 'TransformerEncoderLayer', 'divisible', 'dModel=8', 'nhead=3');
      expectError(() => new Enc(8, 2, { dimFeedforward: 0 }), RangeError, 'dimFeedforward', 'positive');
      expectError(() => new Enc(8, 2, { dropout: 1.5 }), RangeError, 'dropout', '[0, 1]');
      expectError(() => new Enc(8, 2, { dropout: '0.1' }), TypeError, 'dropout', 'number');
      expectError(
        () => new Enc(8, 2, { activation: 'tanh' }),
        TypeError,
        'TransformerEncoderLayer',
        'activation',
        "'relu' or 'gelu'",
        'tanh',
      );
      expectError(() => new Enc(8, 2, { activation: 42 }), TypeError, 'activation', 'the number 42');
      expectError(() => new Enc(8, 2, { layerNormEps: -1 }), RangeError, 'layerNormEps');
      expectError(() => new Enc(8, 2, { batchFirst: 1 }), TypeError, 'batchFirst', 'boolean');
      expectError(() => new Enc(8, 2, { normFirst: 'yes' }), TypeError, 'normFirst', 'boolean');
      expectError(() => new Enc(8, 2, { dimFeedForward: 16 }), TypeError, "unknown option 'dimFeedForward'");
      expectError(() => new Enc(8, 2, { dim_feedforward: 16 }), TypeError, "did you mean 'dimFeedforward'");
      expectError(() => new Enc(8, 2, 16), TypeError, 'options');
      const Dec = nn.TransformerDecoderLayer as unknown as new (...a: unknown[]) => unknown;
      expectError(() => new Dec(10, 4), RangeError, 'TransformerDecoderLayer', 'divisible');
      const TE = nn.TransformerEncoder as unknown as new (...a: unknown[]) => unknown;
      expectError(() => new TE({}, 2), TypeError, 'TransformerEncoder', 'encoderLayer', 'nn.Module');
      expectError(() => new TE(small(), 0), RangeError, 'TransformerEncoder', 'numLayers', 'positive');
      expectError(() => new TE(small(), 2, { norm: 'layernorm' }), TypeError, 'TransformerEncoder', 'norm');
      const TD = nn.TransformerDecoder as unknown as new (...a: unknown[]) => unknown;
      expectError(() => new TD(small(), 1.5), RangeError, 'TransformerDecoder', 'numLayers');
      const T = nn.Transformer as unknown as new (...a: unknown[]) => unknown;
      expectError(() => new T({ dModel: 10, nhead: 3 }), RangeError, 'Transformer:', 'divisible');
      expectError(
        () => new T({ dModel: 8, nhead: 2, numEncoderLayers: 0 }),
        RangeError,
        'Transformer',
        'numEncoderLayers',
      );
      expectError(() => new T({ dModel: 8, nhead: 2, activation: 'swish' }), TypeError, 'Transformer', 'activation');
      expectError(() => new T({ d_model: 8 }), TypeError, "did you mean 'dModel'");
      expectError(() => new T({ customEncoder: 3 }), TypeError, 'customEncoder', 'nn.Module');
    });

    it("forward rejects bad inputs and options; MultiheadAttention's mask errors come through with the layer's argument names", () =>
      torch.tidy(() => {
        const l = small();
        const f = loose(l);
        const x = torch.randn(5, 2, E);
        expectError(() => f.forward([1, 2]), TypeError, 'TransformerEncoderLayer.forward', 'src', 'Tensor');
        expectError(() => f.forward(torch.randn(5, 2, 6)), RangeError, 'src', 'dModel = 8', '[5, 2, 6]');
        expectError(() => f.forward(torch.randn(1, 5, 2, E)), RangeError, 'src');
        expectError(() => f.forward(x, { mask: nn.masks.causal(5) }), TypeError, "unknown option 'mask'", 'srcMask');
        expectError(
          () => f.forward(x, { src_key_padding_mask: nn.masks.causal(5) }),
          TypeError,
          "did you mean 'srcKeyPaddingMask'",
        );
        expectError(() => f.forward(x, { srcMask: [[true]] }), TypeError, 'srcMask', 'Tensor or null');
        expectError(
          () => f.forward(x, { srcMask: nn.masks.causal(4) }),
          RangeError,
          'TransformerEncoderLayer.forward: in self_attn (srcMask is its attnMask',
          'MultiheadAttention.forward',
          'attnMask',
          '[5, 5]',
          'got [4, 4]',
        );
        expectError(
          () => f.forward(x, { srcMask: torch.zeros([5, 5], { dtype: 'int32' }) }),
          TypeError,
          'self_attn',
          'attnMask',
          'int32',
        );
        expectError(
          () => f.forward(x, { srcKeyPaddingMask: nn.masks.keyPadding([5, 4, 3]) }),
          RangeError,
          'srcKeyPaddingMask its keyPaddingMask',
          'keyPaddingMask',
          '[N, S] = [2, 5]',
          'got [3, 5]',
        );
        expectError(
          () => f.forward(x, { srcKeyPaddingMask: torch.zeros([2, 5], { dtype: 'int64' }) }),
          TypeError,
          'TransformerEncoderLayer.forward',
          'srcKeyPaddingMask',
          'bool and floating',
        );
        expectError(() => f.forward(x, { isCausal: true }), TypeError, 'isCausal', 'attnMask');
        expectError(() => f.forward(x, { isCausal: 1 }), TypeError, 'isCausal', 'boolean');
        expectError(() => f.forward(x.to('float64')), TypeError, 'float64');

        const d = loose(new nn.TransformerDecoderLayer(E, H, { dimFeedforward: FF }));
        const tgt = torch.randn(4, 2, E),
          mem = torch.randn(5, 2, E);
        expectError(() => d.forward(tgt), TypeError, 'TransformerDecoderLayer.forward', 'memory', 'undefined');
        expectError(() => d.forward(tgt, torch.randn(5, E)), RangeError, 'tgt and memory must both be batched');
        expectError(() => d.forward(tgt, torch.randn(5, 3, E)), RangeError, 'multihead_attn', 'batch sizes differ');
        expectError(
          () => d.forward(tgt, mem, { memoryMask: nn.masks.causal(4) }),
          RangeError,
          'multihead_attn',
          'memoryMask its attnMask',
          '[4, 5]',
        );
        expectError(
          () => d.forward(tgt, mem, { tgtMask: nn.masks.causal(5) }),
          RangeError,
          'self_attn (tgtMask',
          '[4, 4]',
        );
        expectError(
          () => d.forward(tgt, mem, { memoryKeyPaddingMask: torch.zeros([2, 5], { dtype: 'int32' }) }),
          TypeError,
          'memoryKeyPaddingMask',
          'bool and floating',
        );
        expectError(() => d.forward(tgt, mem, { memoryIsCausal: true }), TypeError, 'multihead_attn', 'isCausal');
        expectError(() => d.forward(tgt, mem, { srcMask: nn.masks.causal(4) }), TypeError, "unknown option 'srcMask'");

        const enc = loose(new nn.TransformerEncoder(small(), 2));
        expectError(
          () => enc.forward(x, { srcMask: nn.masks.causal(5) }),
          TypeError,
          'TransformerEncoder.forward',
          "unknown option 'srcMask'",
          'called mask here',
        );
        expectError(
          () => enc.forward(x, { mask: nn.masks.causal(3) }),
          RangeError,
          'TransformerEncoderLayer.forward',
          'attnMask',
        );
        expectError(
          () => enc.forward(x, { srcKeyPaddingMask: torch.zeros([2, 5], { dtype: 'uint8' }) }),
          TypeError,
          'TransformerEncoder.forward',
          'bool and floating',
        );
        const dec = loose(new nn.TransformerDecoder(new nn.TransformerDecoderLayer(E, H, { dimFeedforward: FF }), 2));
        expectError(
          () => dec.forward(tgt, mem, { tgtMask: 'causal' }),
          TypeError,
          'TransformerDecoder.forward',
          'tgtMask',
          'Tensor or null',
        );
        expectError(() => dec.forward(tgt, 3), TypeError, 'TransformerDecoder.forward', 'memory');

        const t = loose(
          new nn.Transformer({ dModel: E, nhead: H, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: FF }),
        );
        expectError(
          () => t.forward(mem, torch.randn(4, 3, E)),
          RangeError,
          'Transformer.forward',
          'batch number of src and tgt must be equal',
        );
        expectError(
          () => t.forward(torch.randn(5, 2, 6), tgt),
          RangeError,
          'Transformer.forward',
          'feature number',
          'dModel = 8',
        );
        expectError(() => t.forward(mem, torch.randn(4, E)), RangeError, 'src and tgt both batched');
        expectError(() => t.forward(mem, tgt, { mask: nn.masks.causal(5) }), TypeError, "unknown option 'mask'");
        expectError(
          () => t.forward(mem, tgt, { memoryMask: nn.masks.causal(5) }),
          RangeError,
          'TransformerDecoderLayer.forward',
          'memoryMask',
          '[4, 5]',
        );
        expectError(
          () => nn.Transformer.generateSquareSubsequentMask(-1),
          RangeError,
          'generateSquareSubsequentMask',
          'sz',
        );
        expectError(() => nn.Transformer.generateSquareSubsequentMask(2.5), RangeError, 'sz');
        expectError(
          () => nn.Transformer.generateSquareSubsequentMask(3, { dtype: 'int64' }),
          TypeError,
          'floating point',
        );
      }));

    it('a module works normally after an error', () =>
      torch.tidy(() => {
        const t = new nn.Transformer({
          dModel: E,
          nhead: H,
          numEncoderLayers: 2,
          numDecoderLayers: 2,
          dimFeedforward: FF,
        }).eval();
        const src = torch.randn(5, 2, E),
          tgt = torch.randn(4, 2, E);
        const tgtMask = nn.masks.causal(4);
        const before = t.forward(src, tgt, { tgtMask });
        expect(() => t.forward(src, tgt, { tgtMask: nn.masks.causal(5) })).to.throw(RangeError);
        expect(() => t.forward(src, tgt, { memoryKeyPaddingMask: nn.masks.keyPadding([1, 2, 3]) })).to.throw(
          RangeError,
        );
        const after = t.forward(src, tgt, { tgtMask });
        expect(after.equal(before)).to.equal(true);
        // and gradients still flow
        after.sum().backward();
        for (const [k, p] of t.namedParameters()) expect(p.grad, k).to.not.equal(null);
      }));
  });

  describe('lifetime', () => {
    it('forward frees its intermediates: only the output stays alive', async () => {
      await settleGarbage(); // earlier tests' dropped tensors must not be collected while this counts
      const t = new nn.Transformer({
        dModel: E,
        nhead: H,
        numEncoderLayers: 2,
        numDecoderLayers: 2,
        dimFeedforward: FF,
      });
      const src = torch.randn(5, 2, E),
        tgt = torch.randn(4, 2, E);
      const mask = nn.Transformer.generateSquareSubsequentMask(4);
      const kpm = nn.masks.keyPadding([5, 3]);
      t.forward(src, tgt, { tgtMask: mask, srcKeyPaddingMask: kpm, memoryKeyPaddingMask: kpm }).dispose(); // warm-up
      const before = torch.memory().tensors;
      for (let i = 0; i < 3; i++) {
        const out = t.forward(src, tgt, { tgtMask: mask, srcKeyPaddingMask: kpm, memoryKeyPaddingMask: kpm });
        expect(torch.memory().tensors).to.equal(before + 1);
        out.dispose();
      }
      const enc = new nn.TransformerEncoder(small(), 2).eval();
      const causal = nn.masks.causal(5);
      const encBefore = torch.memory().tensors;
      enc.forward(src, { mask: causal, srcKeyPaddingMask: kpm }).dispose();
      expect(() => enc.forward(src, { mask: nn.masks.causal(4) })).to.throw(RangeError);
      expect(torch.memory().tensors, "after an error too (the bad mask is the caller's)").to.equal(encBefore + 1);
      torch.dispose([src, tgt, mask, kpm, causal]);
    });

    it('a module built inside torch.tidy keeps its (copied) parameters', () => {
      const enc = torch.tidy(() => new nn.TransformerEncoder(small(), 2, { norm: new nn.LayerNorm(E) }));
      for (const p of enc.parameters()) expect(p.isDisposed).to.equal(false);
      const t = torch.tidy(
        () => new nn.Transformer({ dModel: E, nhead: H, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: FF }),
      );
      for (const p of t.parameters()) expect(p.isDisposed).to.equal(false);
      torch.tidy(() => {
        expect(t.forward(torch.randn(3, 1, E), torch.randn(2, 1, E)).shape).to.deep.equal([2, 1, E]);
      });
    });
  });
});
