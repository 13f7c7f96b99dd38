// nn.MultiheadAttention against PyTorch 1.13.1 (spec: mha-lstm-spec.md §1, §6 cases 1-23).
// Golden values: test/fixtures/attention.json (test/fixtures/gen/gen_attention_fixtures.py). Every case
// loads PyTorch's state_dict with loadStateDict and rebuilds PyTorch's inputs with torch.tensor,
// so both sides compute from the same float32 values; gradients are those of
// loss = (out * gradOut).sum() [+ (weights * gradWeights).sum()], w.r.t. query/key/value and
// every parameter.
//
// Deliberate divergence (case 16): masks are canonicalised to additive floats and ADDED (PyTorch
// 2), so a float attnMask with a float keyPaddingMask applies both; 1.13 silently drops the
// padding mask. The fixture holds the value computed with the pre-added mask, and 1.13's own
// (wrong) value, which we must NOT return.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { mixedMasksAdvice } from '../../lib/nn/modules/attention';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;
type MHA = torch.nn.MultiheadAttention;

type Ref = string | null;
interface MhaCase {
  module: { embedDim: number; numHeads: number } & torch.nn.MultiheadAttentionOptions;
  state: string;
  training: boolean;
  query: Ref;
  key: Ref;
  value: Ref;
  attnMask: Ref;
  keyPaddingMask: Ref;
  needWeights: boolean;
  averageAttnWeights: boolean;
  out: Encoded;
  weights: Encoded | null;
  gradOut?: Ref;
  gradWeights?: Ref;
  grads?: Record<string, Encoded>;
  lossRows?: number[];
  torch113?: { out: Encoded; weights: Encoded | null };
  uint8Warning?: string;
  seed?: number;
}
interface AttentionFixture {
  meta: { torch: string; E: number; H: number; L: number; S: number; N: number };
  tensors: Record<string, Encoded>;
  states: Record<string, Record<string, Encoded>>;
  mha: Record<string, MhaCase>;
  init: Record<string, { seed: number; options: torch.nn.MultiheadAttentionOptions; state: Record<string, Encoded> }>;
  params: Record<
    string,
    { options: torch.nn.MultiheadAttentionOptions; names: [string, number[]][]; stateKeys: string[] }
  >;
  repr: Record<string, { options: torch.nn.MultiheadAttentionOptions; repr: string }>;
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'attention.json'), 'utf8'),
) as AttentionFixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };
const { E, H, L, S, N } = fx.meta;

/** A shared fixture tensor; "name^T" is that tensor transposed (0, 1) (the batch-first inputs). */
function tensorNamed(name: string, opts: { requiresGrad?: boolean } = {}): Tensor {
  const transposed = name.endsWith('^T');
  const e = fx.tensors[transposed ? name.slice(0, -2) : name];
  if (e === undefined) throw new Error(`fixture: no tensor ${name}`);
  if (!transposed) return fromEncoded(e, opts);
  const t = fromEncoded(e).transpose(0, 1).contiguous();
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}
const opt = (r: Ref | undefined): Tensor | null => (r === null || r === undefined ? null : tensorNamed(r));

function stateOf(st: Record<string, Encoded>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(st)) out[k] = fromEncoded(e);
  return out;
}

/** The case's module with PyTorch's weights loaded, in the case's train/eval mode. */
function moduleFor(c: MhaCase, overrides: torch.nn.MultiheadAttentionOptions = {}): MHA {
  const { embedDim, numHeads, ...opts } = c.module;
  const m = new nn.MultiheadAttention(embedDim, numHeads, { ...opts, ...overrides });
  expect(m.loadStateDict(stateOf(fx.states[c.state])), 'loadStateDict').to.deep.equal({
    missingKeys: [],
    unexpectedKeys: [],
  });
  m.train(c.training);
  return m;
}

interface Inputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  attnMask: Tensor | null;
  keyPaddingMask: Tensor | null;
}
/** The case's inputs; "=query"/"=key" pass the same object (PyTorch's identity-based paths). */
function inputsFor(c: MhaCase, requiresGrad = false): Inputs {
  const q = tensorNamed(c.query!, { requiresGrad });
  const k = c.key === '=query' ? q : tensorNamed(c.key!, { requiresGrad });
  const v = c.value === '=query' ? q : c.value === '=key' ? k : tensorNamed(c.value!, { requiresGrad });
  return { q, k, v, attnMask: opt(c.attnMask), keyPaddingMask: opt(c.keyPaddingMask) };
}

function forwardCase(
  m: MHA,
  c: MhaCase,
  x: Inputs,
  extra: torch.nn.MultiheadAttentionForwardOptions = {},
): [Tensor, Tensor | null] {
  return m.forward(x.q, x.k, x.v, {
    attnMask: x.attnMask,
    keyPaddingMask: x.keyPaddingMask,
    needWeights: c.needWeights,
    averageAttnWeights: c.averageAttnWeights,
    ...extra,
  });
}

/** Runs a fixture case: output, weights and (if recorded) every gradient against PyTorch's. */
function checkCase(name: string): { m: MHA; x: Inputs; out: Tensor; w: Tensor | null } {
  const c = fx.mha[name];
  const m = moduleFor(c);
  const x = inputsFor(c, c.grads !== undefined);
  const [out, w] = forwardCase(m, c, x);
  expectClose(out, c.out, TOL, `${name}: output`);
  if (c.weights === null) expect(w, `${name}: weights`).to.equal(null);
  else expectClose(w!, c.weights, TOL, `${name}: weights`);
  if (c.grads) {
    const go = tensorNamed(c.gradOut!);
    let loss: Tensor;
    if (c.lossRows) {
      const rows = torch.tensor(c.lossRows.map(BigInt));
      loss = out.indexSelect(0, rows).mul(go.indexSelect(0, rows)).sum();
    } else {
      loss = out.mul(go).sum();
    }
    if (c.gradWeights) loss = loss.add(w!.mul(tensorNamed(c.gradWeights)).sum());
    loss.backward();
    const params = new Map(m.namedParameters());
    const expectedParams = Object.keys(c.grads).filter((k) => !['query', 'key', 'value'].includes(k));
    expect([...params.keys()], `${name}: parameters`).to.deep.equal(expectedParams);
    for (const [k, g] of Object.entries(c.grads)) {
      const t = k === 'query' ? x.q : k === 'key' ? x.k : k === 'value' ? x.v : params.get(k)!;
      expect(t.grad, `${name}: grad of ${k}`).to.not.equal(null);
      expectClose(t.grad!, g, TOL, `${name}: grad of ${k}`);
    }
  }
  return { m, x, out, w };
}

/** Calls fn with process.emitWarning replaced by a recorder; returns fn's result and the calls. */
function recordWarnings<T>(fn: () => T): [T, unknown[][]] {
  const calls: unknown[][] = [];
  const orig = process.emitWarning;
  process.emitWarning = ((...args: unknown[]) => {
    calls.push(args);
  }) as typeof process.emitWarning;
  try {
    return [fn(), calls];
  } finally {
    process.emitWarning = orig;
  }
}

const finite = (t: Tensor): boolean => t.isfinite().all().itemBool();
const allNaN = (t: Tensor): boolean => t.isnan().all().itemBool();
const anyNaN = (t: Tensor): boolean => t.isnan().any().itemBool();
const plainCase = () => fx.mha.plain;

// =============================================================================================
// The warnings first: they are emitted once per process.
describe('nn.MultiheadAttention: mask dtypes (case 6) and their warnings', () => {
  it('a uint8 attnMask acts as the bool mask (nonzero = blocked) and warns once (DeprecationWarning)', () => {
    const c = fx.mha.boolMask;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const [ob, wb] = forwardCase(m, c, x);
    const u8 = tensorNamed('boolMask.asUint8');
    expect(u8.dtype).to.equal('uint8');
    const [[r1, r2], calls] = recordWarnings(() => [
      m.forward(x.q, x.k, x.v, { attnMask: u8, averageAttnWeights: false }),
      m.forward(x.q, x.k, x.v, { attnMask: u8, averageAttnWeights: false }),
    ]);
    expect(r1[0].equal(ob), 'uint8 output == bool output (exactly)').to.equal(true);
    expect(r1[1]!.equal(wb!), 'uint8 weights == bool weights (exactly)').to.equal(true);
    expect(r2[0].equal(ob)).to.equal(true);
    expect(calls.length, 'process.emitWarning calls for two uint8 forwards').to.equal(1);
    const [msg, o] = calls[0] as [string, { type?: string }];
    expect(msg)
      .to.match(/uint8|byte/i)
      .and.to.match(/bool/);
    expect(o.type).to.equal('DeprecationWarning');
    // PyTorch 1.13's own text, for the record
    expect(c.uint8Warning).to.match(/Byte tensor for attn_mask .* is deprecated/);
  });

  it('a uint8 attnMask with a bool keyPaddingMask is not a dtype mismatch (uint8 is the deprecated bool mask): no mismatch warning', () => {
    const c = fx.mha.boolMask;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const kpm = torch.tensor([
      [false, false, false, false, true],
      [false, false, false, true, true],
      [false, false, false, false, false],
    ]);
    const [[ru, rb], calls] = recordWarnings(() => [
      m.forward(x.q, x.k, x.v, { attnMask: tensorNamed('boolMask.asUint8'), keyPaddingMask: kpm }),
      m.forward(x.q, x.k, x.v, { attnMask: tensorNamed('boolMask.attnMask'), keyPaddingMask: kpm }),
    ]);
    expect(
      calls.filter(([msg]) => /mismatched/.test(String(msg))),
      'mismatch warnings',
    ).to.deep.equal([]);
    expect(ru[0].equal(rb[0])).to.equal(true);
  });

  it('a bool attnMask with a float keyPaddingMask warns once about the mismatch; float + float does not', () => {
    const c = fx.mha.mixedBoolFloat;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const cf = fx.mha.mixedFloatFloat;
    const xf = inputsFor(cf);
    const [, callsFF] = recordWarnings(() => forwardCase(m, cf, xf));
    expect(callsFF.length, 'float attnMask + float kpm: no warning').to.equal(0);
    const [, calls] = recordWarnings(() => [forwardCase(m, c, x), forwardCase(m, c, x)]);
    expect(calls.length, 'bool attnMask + float kpm, two calls').to.equal(1);
    expect(String(calls[0][0]))
      .to.match(/mismatched/)
      .and.to.match(/added/)
      .and.to.include('(attnMask bool, keyPaddingMask float)')
      .and.to.include('Use a bool keyPaddingMask (true = padded): nn.masks.keyPadding(lengths, S)')
      .and.to.include('or convert attnMask with nn.masks.toAdditive(attnMask)');
  });

  it("PyTorch's tutorial setup (float generateSquareSubsequentMask + bool key padding) warns once, naming the bool fix", () =>
    torch.tidy(() => {
      torch.manualSeed(0);
      const T = 5;
      const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
      const src = torch.randn(T, 2, 8);
      const pad = nn.masks.keyPadding([5, 3], T);
      const floatMask = nn.Transformer.generateSquareSubsequentMask(T);
      const [[outFloat], calls] = recordWarnings(() => [
        layer.forward(src, { srcMask: floatMask, srcKeyPaddingMask: pad }),
        layer.forward(src, { srcMask: floatMask, srcKeyPaddingMask: pad }),
      ]);
      // once per process: a test file run earlier (modules_async, transformer) may have had it
      expect(calls.length, 'two calls, at most one warning').to.be.at.most(1);
      for (const [msg, opts] of calls) {
        expect(msg).to.equal(mixedMasksAdvice(true, T, T));
        expect(opts).to.deep.equal({ type: 'DeprecationWarning', code: 'TORCH_NAPI_MIXED_MASKS' });
      }
      expect(mixedMasksAdvice(true, T, T)).to.equal(
        'MultiheadAttention: mismatched attnMask and keyPaddingMask dtypes (attnMask float, keyPaddingMask bool); ' +
          'both are converted to additive float masks and added (PyTorch 2 semantics), and PyTorch deprecates the ' +
          'mix. Give both masks one dtype. For a causal attnMask use the bool nn.masks.causal(5) (true = blocked) ' +
          'instead of nn.Transformer.generateSquareSubsequentMask(T); an existing float mask of 0 and -inf converts ' +
          'with mask.eq(-Infinity). A float mask with other values (a bias) stays float: convert keyPaddingMask ' +
          'with nn.masks.toAdditive(keyPaddingMask) instead.',
      );
      expect(mixedMasksAdvice(true, 4, 6)).to.include('use the bool nn.masks.causal(4, 6) (true = blocked)');
      // the fixes it names: same result, no warning
      expect(floatMask.eq(-Infinity).equal(nn.masks.causal(T)), 'mask.eq(-Infinity) is causal(T)').to.equal(true);
      const [[outCausal, outConverted, outAdditive], quiet] = recordWarnings(() => [
        layer.forward(src, { srcMask: nn.masks.causal(T), srcKeyPaddingMask: pad }),
        layer.forward(src, { srcMask: floatMask.eq(-Infinity), srcKeyPaddingMask: pad }),
        layer.forward(src, { srcMask: floatMask, srcKeyPaddingMask: nn.masks.toAdditive(pad) }),
      ]);
      expect(quiet, 'no warning with one dtype').to.deep.equal([]);
      const maxDiff = (a: Tensor) => a.sub(outFloat).abs().max().item() as number;
      expect(maxDiff(outCausal), 'bool causal').to.be.below(1e-6);
      expect(maxDiff(outConverted), 'converted float mask').to.be.below(1e-6);
      expect(maxDiff(outAdditive), 'float key padding').to.be.below(1e-6);
    }));
});

// =============================================================================================
describe('nn.MultiheadAttention: construction', () => {
  it('the fixture has 6 parameter layouts, 6 reprs, 2 seeded inits and 38 forward cases', () => {
    expect(Object.keys(fx.params), 'params').to.have.length(6);
    expect(Object.keys(fx.repr), 'repr').to.have.length(6);
    expect(Object.keys(fx.init), 'init').to.have.length(2);
    expect(Object.keys(fx.mha), 'mha').to.have.length(38);
  });

  for (const [name, p] of Object.entries(fx.params)) {
    it(`parameters: PyTorch's names, order and shapes (${name}: ${JSON.stringify(p.options)})`, () => {
      const m = new nn.MultiheadAttention(E, H, p.options);
      expect([...m.namedParameters()].map(([n, t]) => [n, [...t.shape]])).to.deep.equal(p.names);
      expect(Object.keys(m.stateDict())).to.deep.equal(p.stateKeys);
    });
  }

  for (const [name, r] of Object.entries(fx.repr)) {
    it(`toString() equals PyTorch's repr (${name})`, () => {
      expect(new nn.MultiheadAttention(E, H, r.options).toString()).to.equal(r.repr);
    });
  }

  for (const [name, c] of Object.entries(fx.init)) {
    it(`torch.manualSeed(${c.seed}) gives PyTorch's initial weights (${name}: ${JSON.stringify(c.options)})`, () => {
      torch.manualSeed(c.seed);
      const m = new nn.MultiheadAttention(E, H, c.options);
      const sd = m.stateDict();
      expect(Object.keys(sd)).to.deep.equal(Object.keys(c.state));
      for (const [k, e] of Object.entries(c.state)) expectClose(sd[k], e, { rtol: 1e-6, atol: 1e-7 }, `init ${k}`);
    });
  }

  it("out_proj draws its Linear init BEFORE the xavier init of in_proj (PyTorch's order)", () => {
    const st = fx.init.default;
    torch.manualSeed(st.seed);
    const lin = new nn.Linear(E, E);
    expectClose(lin.weight, st.state['out_proj.weight'], { rtol: 1e-6, atol: 1e-7 }, 'a Linear drawn first');
    const w = torch.empty([3 * E, E]);
    nn.init.xavierUniform_(w);
    expectClose(w, st.state.in_proj_weight, { rtol: 1e-6, atol: 1e-7 }, 'then xavier_uniform_ of in_proj_weight');
    // both biases are zero
    expectClose(fromEncoded(st.state.in_proj_bias).abs().sum(), 0, { atol: 0 });
    expectClose(fromEncoded(st.state['out_proj.bias']).abs().sum(), 0, { atol: 0 });
  });

  it('out_proj is a NonDynamicallyQuantizableLinear (a Linear)', () => {
    const m = new nn.MultiheadAttention(E, H);
    expect(m.out_proj).to.be.instanceOf(nn.NonDynamicallyQuantizableLinear);
    expect(m.out_proj).to.be.instanceOf(nn.Linear);
    expect(m.headDim).to.equal(E / H);
  });

  it('embedDim % numHeads != 0 throws in the constructor', () => {
    expectError(
      () => new nn.MultiheadAttention(8, 3),
      RangeError,
      /MultiheadAttention/,
      /divisible/,
      /embedDim=8/,
      /numHeads=3/,
    );
    expectError(() => new nn.MultiheadAttention(10, 4), RangeError, /divisible/);
  });

  it('rejects bad constructor arguments', () => {
    expectError(() => new nn.MultiheadAttention(8, 2, { dropout: 1.5 }), RangeError, /dropout/);
    expectError(() => new nn.MultiheadAttention(8, 0), RangeError, /numHeads/);
    expectError(() => new nn.MultiheadAttention(8.5, 2), RangeError, /embedDim/);
    expectError(() => new nn.MultiheadAttention(8, 2, { kdim: 0 }), RangeError, /kdim/);
    expectError(
      () => new nn.MultiheadAttention(8, 2, { batchFirst: 1 as unknown as boolean }),
      TypeError,
      /batchFirst/,
    );
  });
});

// =============================================================================================
describe('nn.MultiheadAttention: every fixture case equals PyTorch 1.13 (outputs, weights, gradients)', () => {
  for (const [name, c] of Object.entries(fx.mha)) {
    if (name === 'dropoutTrain') continue;
    const what = [
      c.attnMask ? 'attnMask' : '',
      c.keyPaddingMask ? 'keyPaddingMask' : '',
      c.grads ? 'grads' : '',
      c.torch113 ? 'deliberate divergence' : '',
    ]
      .filter(Boolean)
      .join(', ');
    it(`${name}${what ? ` (${what})` : ''}`, () => {
      checkCase(name);
    });
  }
});

// =============================================================================================
describe('nn.MultiheadAttention: shapes and layouts (cases 1-3, 5)', () => {
  it('case 1: seq-first shapes; per-head weights average to the averaged ones', () => {
    const { out, w } = checkCase('plain');
    expect([...out.shape]).to.deep.equal([L, N, E]);
    expect([...w!.shape]).to.deep.equal([N, L, S]);
    const { w: wh } = checkCase('plainPerHead');
    expect([...wh!.shape]).to.deep.equal([N, H, L, S]);
    expectClose(wh!.mean(1), fx.mha.plain.weights!, TOL, 'mean over heads');
    expectClose(w!.sum(-1), torch.ones(N, L).toArray() as number[][], TOL, 'rows sum to 1');
  });

  it('case 2: batchFirst gives the transposed output of the same tensors; weights stay (N, L, S)', () => {
    const c = plainCase();
    const x = inputsFor(c);
    const m = moduleFor(c, { batchFirst: true });
    expect(m.batchFirst).to.equal(true);
    const [out, w] = m.forward(x.q.transpose(0, 1), x.k.transpose(0, 1), x.v.transpose(0, 1));
    expect([...out.shape]).to.deep.equal([N, L, E]);
    expectClose(out.transpose(0, 1), c.out, TOL, 'batchFirst output transposed back');
    expectClose(w!, c.weights!, TOL, 'weights (N, L, S)');
  });

  it('case 3: unbatched input; equals the corresponding batch row; batchFirst is ignored', () => {
    const c = fx.mha.unbatchedAvg;
    const { out, w } = checkCase('unbatchedAvg');
    expect([...out.shape]).to.deep.equal([L, E]);
    expect([...w!.shape]).to.deep.equal([L, S]);
    const { w: wh } = checkCase('unbatched');
    expect([...wh!.shape]).to.deep.equal([H, L, S]);
    // the unbatched query/key/value are batch row 1 of the plain case's tensors
    const p = inputsFor(plainCase());
    const m = moduleFor(plainCase());
    const kpmBatched = tensorNamed(c.keyPaddingMask!).unsqueeze(0).expand(N, S).contiguous();
    const [ob, wb] = m.forward(p.q, p.k, p.v, { keyPaddingMask: kpmBatched });
    expectClose(out, ob.select(1, 1).toArray() as number[][], { rtol: 1e-5, atol: 1e-6 }, 'unbatched == batch row');
    expectClose(w!, wb!.select(0, 1).toArray() as number[][], { rtol: 1e-5, atol: 1e-6 }, 'weights == batch row');
    const cb = fx.mha.unbatchedBatchFirst;
    expect(cb.module.batchFirst).to.equal(true);
    checkCase('unbatchedBatchFirst');
  });

  it('case 5: needWeights=false returns null and the identical output', () => {
    const c = fx.mha.bothMasks;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const [o1, w1] = forwardCase(m, c, x);
    const [o2, w2] = forwardCase(m, c, x, { needWeights: false });
    expect(w1).to.not.equal(null);
    expect(w2).to.equal(null);
    expect(o2.equal(o1), 'identical output').to.equal(true);
  });

  it('the identity fast paths (query === key === value, key === value) give the same numbers as copies', () => {
    for (const name of ['selfAttn', 'kvSame']) {
      const c = fx.mha[name];
      const m = moduleFor(c);
      const x = inputsFor(c);
      const [o1, w1] = forwardCase(m, c, x);
      const [o2, w2] = forwardCase(m, c, { ...x, k: x.k.clone(), v: x.v.clone() });
      expectClose(o2, o1.toArray() as number[][][], { rtol: 1e-6, atol: 1e-6 }, `${name} output`);
      expectClose(w2!, w1!.toArray() as number[][][], { rtol: 1e-6, atol: 1e-6 }, `${name} weights`);
    }
  });

  it('case 4: output and per-head weights equal the explicit formula (scale 1/√headDim, in_proj rows q, k, v)', () => {
    const c = fx.mha.floatMask;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const [out, w] = forwardCase(m, c, x);
    const sd = m.stateDict();
    const [wq, wk, wv] = sd.in_proj_weight.chunk(3, 0);
    const [bq, bk, bv] = sd.in_proj_bias.chunk(3, 0);
    const d = E / H;
    const heads = (t: Tensor, len: number) => t.reshape([len, N * H, d]).transpose(0, 1); // (N*H, len, d), row n*H+h
    const qh = heads(F.linear(x.q, wq, bq), L),
      kh = heads(F.linear(x.k, wk, bk), S),
      vh = heads(F.linear(x.v, wv, bv), S);
    const scores = qh.matmul(kh.transpose(1, 2)).div(Math.sqrt(d)).add(x.attnMask!);
    const P = scores.softmax(-1);
    const o = P.matmul(vh).transpose(0, 1).reshape([L, N, E]);
    const expected = F.linear(o, sd['out_proj.weight'], sd['out_proj.bias']);
    expectClose(out, expected.toArray() as number[][][], TOL, 'output == formula');
    expectClose(w!, P.view(N, H, L, S).toArray() as number[][][][], TOL, 'weights == formula');
  });
});

// =============================================================================================
describe('nn.MultiheadAttention: mask semantics (cases 6-16)', () => {
  it("case 6: a bool attnMask gives exactly the float -inf mask's output and weights", () => {
    const c = fx.mha.boolMask;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const [ob, wb] = forwardCase(m, c, x);
    const fm = tensorNamed('boolMask.asFloat');
    const [of, wf] = forwardCase(m, c, { ...x, attnMask: fm });
    expect(of.equal(ob), 'output bool == float -inf').to.equal(true);
    expect(wf!.equal(wb!), 'weights bool == float -inf').to.equal(true);
    // and the blocked positions have weight exactly 0
    const blocked = x.attnMask!.view(1, 1, L, S).expand(N, H, L, S);
    expect(wb!.index(blocked).abs().max().item()).to.equal(0);
  });

  it('case 7: a float mask is additive (-1 in column 0 → softmax(s - 1)); a 0/1 float mask is NOT the bool mask', () => {
    const c = fx.mha.minusOneCol0;
    const { w } = checkCase('minusOneCol0');
    const p = plainCase();
    const m = moduleFor(p);
    const x = inputsFor(p);
    const [, w0] = m.forward(x.q, x.k, x.v, { averageAttnWeights: false });
    // softmax(s + b) with b = -1 at column 0: w'0 = w0·e⁻¹ / (w0·e⁻¹ + 1 - w0)
    const a = w0!.select(-1, 0).mul(Math.exp(-1));
    const expected0 = a.div(a.add(w0!.select(-1, 0).neg().add(1)));
    expectClose(w!.select(-1, 0), expected0.toArray() as number[][][], { rtol: 1e-5, atol: 1e-6 }, 'column 0 weights');
    expect(c.attnMask).to.not.equal(null);
    const zeroOne = tensorNamed('zeroOne');
    const [o01] = m.forward(x.q, x.k, x.v, { attnMask: zeroOne });
    const [oBool] = m.forward(x.q, x.k, x.v, { attnMask: zeroOne.bool() });
    const [oPlus] = m.forward(x.q, x.k, x.v, { attnMask: zeroOne.mul(1) });
    expect(o01.sub(oBool).abs().max().item() as number, '0/1 float mask != bool mask').to.be.greaterThan(1e-3);
    expect(o01.equal(oPlus)).to.equal(true);
  });

  it('case 8: a fully masked query row gives NaN (1.13 slow path); other rows are finite and unchanged', () => {
    const { out, w } = checkCase('fullyMaskedRow');
    expect(allNaN(out.select(0, 1)), 'out[1] is NaN').to.equal(true);
    expect(allNaN(w!.select(2, 1)), 'weights[:, :, 1] is NaN').to.equal(true);
    const { out: oRef } = checkCase('boolMask'); // the same mask except row 1
    for (const r of [0, 2, 3]) {
      expect(finite(out.select(0, r)), `row ${r} finite`).to.equal(true);
      expectClose(out.select(0, r), oRef.select(0, r).toArray() as number[][], { rtol: 1e-6, atol: 1e-6 }, `row ${r}`);
    }
  });

  it('case 9: a fully padded batch element gives NaN for that element only', () => {
    const { out } = checkCase('fullyPadded');
    expect(allNaN(out.select(1, 2)), 'out[:, 2] NaN').to.equal(true);
    const { out: oRef } = checkCase('kpmBool'); // the same kpm except element 2
    for (const b of [0, 1]) {
      expect(finite(out.select(1, b))).to.equal(true);
      expectClose(
        out.select(1, b),
        oRef.select(1, b).toArray() as number[][],
        { rtol: 1e-6, atol: 1e-6 },
        `batch ${b}`,
      );
    }
  });

  it('case 10: NaN gradient contamination, as in 1.13: a fully masked row poisons in_proj_weight.grad even when the loss excludes it', () => {
    // Parity with PyTorch (pytorch#41508): the loss sums rows 0, 2, 3 only, yet the NaN of row 1
    // flows back through softmax's backward into the shared projection weights.
    // checkCase compares every gradient with PyTorch's, NaN positions included
    const { m, x } = checkCase('nanGrad');
    expect(anyNaN(m.in_proj_weight!.grad!), 'in_proj_weight.grad has NaN').to.equal(true);
    const params = new Map(m.namedParameters());
    for (const [k, g] of Object.entries(fx.mha.nanGrad.grads!)) {
      const t = k === 'query' ? x.q : k === 'key' ? x.k : k === 'value' ? x.v : params.get(k)!;
      expect(anyNaN(t.grad!), `${k}.grad has NaN exactly when PyTorch's does`).to.equal(g.values.includes('nan'));
    }
  });

  it('case 11: -1e9 on a full row gives exactly uniform weights (0.2), no NaN; other rows match -inf within 1e-6', () => {
    const { out, w } = checkCase('minus1e9Row');
    expect(finite(out)).to.equal(true);
    const row = w!.select(2, 1);
    expectClose(row, torch.full([N, H, S], 0.2).toArray() as number[][][], { rtol: 0, atol: 0 }, 'uniform row');
    const { out: oInf } = checkCase('boolMask');
    for (const r of [0, 2, 3])
      expectClose(out.select(0, r), oInf.select(0, r).toArray() as number[][], { rtol: 1e-6, atol: 1e-6 }, `row ${r}`);
  });

  it('case 12: with kpm[1, 3:] = true, overwriting the padded keys/values with 1000 changes nothing; their weights are exactly 0', () => {
    const c = fx.mha.kpmInvariance;
    const { m, x, out, w } = checkCase('kpmInvariance');
    // (S, N, 1): keys 3, 4 of batch element 1
    const where = torch
      .tensor([false, false, false, true, true])
      .view(S, 1, 1)
      .logicalAnd(torch.tensor([false, true, false]).view(1, N, 1));
    const k2 = x.k.maskedFill(where, 1000),
      v2 = x.v.maskedFill(where, 1000);
    expect(k2.equal(x.k)).to.equal(false);
    const [o2, w2] = forwardCase(m, c, { ...x, k: k2, v: v2 });
    expectClose(o2, out.toArray() as number[][][], { rtol: 0, atol: 1e-6 }, 'output unchanged');
    expectClose(w2!, w!.toArray() as number[][][][], { rtol: 0, atol: 1e-6 }, 'weights unchanged');
    expect(w!.select(0, 1).narrow(-1, 3, 2).abs().max().item(), 'weights at padded keys').to.equal(0);
  });

  it('case 13: a bool keyPaddingMask equals the expanded 3-D attnMask (repeat_interleave over heads, broadcast over L)', () => {
    const c = fx.mha.kpmBool;
    const { m, x, out, w } = checkCase('kpmBool');
    const a3 = tensorNamed('kpmBool.expanded3d');
    expect([...a3.shape]).to.deep.equal([N * H, L, S]);
    const [o3, w3] = forwardCase(m, c, { ...x, attnMask: a3, keyPaddingMask: null });
    expectClose(o3, out.toArray() as number[][][], { rtol: 0, atol: 1e-7 }, 'output');
    expectClose(w3!, w!.toArray() as number[][][][], { rtol: 0, atol: 1e-7 }, 'weights');
    // the same expansion built with our ops
    const kpm = x.keyPaddingMask!;
    const built = kpm
      .view(N, 1, 1, S)
      .expand(N, H, L, S)
      .reshape([N * H, L, S]);
    expect(built.equal(a3)).to.equal(true);
  });

  it('case 14: a 3-D mask is batch-major: blocking key 0 at index 0*H+1 zeroes w[0,1,:,0] only', () => {
    const { w } = checkCase('perHead3d');
    expect(w!.index(0, 1, ':', 0).abs().max().item()).to.equal(0);
    expect(w!.index(0, 0, ':', 0).min().item() as number).to.be.greaterThan(0);
    expect(w!.index(1, 1, ':', 0).min().item() as number).to.be.greaterThan(0);
    expect(w!.index(1, 0, ':', 0).min().item() as number).to.be.greaterThan(0);
  });

  it('case 15: bool causal attnMask + bool keyPaddingMask: every masked position has weight 0, rows sum to 1 (with gradients)', () => {
    const { x, w } = checkCase('bothMasks');
    const blocked = x
      .attnMask!.view(1, 1, L, S)
      .logicalOr(x.keyPaddingMask!.view(N, 1, 1, S))
      .expand(N, H, L, S);
    expect(w!.index(blocked).abs().max().item()).to.equal(0);
    expect(w!.index(blocked.logicalNot()).min().item() as number).to.be.greaterThan(0);
    expectClose(w!.sum(-1), torch.ones(N, H, L).toArray() as number[][][], TOL, 'row sums');
    // the float (0/-inf) version of the causal mask gives the same result
    checkCase('bothMasksFloat');
  });

  it('case 16 (deliberate divergence): float attnMask + float keyPaddingMask apply BOTH (1.13 drops the kpm)', () => {
    const c = fx.mha.mixedFloatFloat;
    const { out, w } = checkCase('mixedFloatFloat');
    // 1.13 returns a different (wrong) value here: make sure we are not it
    expect(out.sub(fromEncoded(c.torch113!.out)).abs().max().item() as number).to.be.greaterThan(1e-2);
    // key 2 is -inf in the kpm for every batch element: weight 0 (1.13 gives it weight)
    expect(w!.select(-1, 2).abs().max().item(), 'kpm -inf key').to.equal(0);
    expect(fromEncoded(c.torch113!.weights!).select(-1, 2).min().item() as number).to.be.greaterThan(0);
    // the soft -1.0 of kpm[1, 0] is a bias, not a block
    expect(w!.index(1, ':', ':', 0).min().item() as number).to.be.greaterThan(0);
  });

  it('case 16 (deliberate divergence): bool attnMask + soft float keyPaddingMask adds the bias (never booleanises it)', () => {
    const c = fx.mha.mixedBoolFloat;
    const { w } = checkCase('mixedBoolFloat');
    expect(w!.select(-1, 2).min().item() as number, 'key 2 (bias -1.0) keeps weight').to.be.greaterThan(0);
    expect(fromEncoded(c.torch113!.weights!).select(-1, 2).abs().max().item(), '1.13 hard-masks it').to.equal(0);
    expect(w!.select(-1, 3).abs().max().item(), 'key 3 blocked by the bool attnMask').to.equal(0);
  });

  it("float attnMask + bool keyPaddingMask, and a float keyPaddingMask alone, are added (as 1.13's slow path)", () => {
    checkCase('floatAttnBoolKpm');
    const { w } = checkCase('floatKpm');
    expect(w!.index(0, ':', 1).abs().max().item(), '-inf kpm entry').to.equal(0);
  });

  it('float64 and float16 masks are accepted with float32 queries (cast to the query dtype)', () => {
    const c = fx.mha.float3dMask;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const kpmF = tensorNamed(fx.mha.floatKpm.keyPaddingMask!);
    const [o32, w32] = forwardCase(m, c, { ...x, keyPaddingMask: kpmF });
    const [o64, w64] = forwardCase(m, c, { ...x, attnMask: x.attnMask!.double(), keyPaddingMask: kpmF.double() });
    expect(o64.dtype).to.equal('float32');
    expect(o64.equal(o32), 'float64 masks').to.equal(true);
    expect(w64!.equal(w32!)).to.equal(true);
    const h = x.attnMask!.half();
    const [o16] = forwardCase(m, c, { ...x, attnMask: h, keyPaddingMask: kpmF });
    const [o16as32] = forwardCase(m, c, { ...x, attnMask: h.float(), keyPaddingMask: kpmF });
    expect(o16.equal(o16as32), 'float16 mask == its float32 value').to.equal(true);
  });

  it('isCausal is only a hint: with attnMask it changes nothing', () => {
    const c = fx.mha.bothMasks;
    const m = moduleFor(c);
    const x = inputsFor(c);
    const [o1, w1] = forwardCase(m, c, x);
    const [o2, w2] = forwardCase(m, c, x, { isCausal: true });
    expect(o2.equal(o1)).to.equal(true);
    expect(w2!.equal(w1!)).to.equal(true);
  });
});

// =============================================================================================
describe('nn.MultiheadAttention: kdim/vdim, bias, addBiasKv/addZeroAttn (cases 20-21)', () => {
  it('case 20: kdim=6, vdim=4 uses q/k/v_proj_weight and matches PyTorch (batched and unbatched)', () => {
    const { m } = checkCase('kdimVdim');
    expect(Object.keys(m.stateDict())).to.deep.equal([
      'q_proj_weight',
      'k_proj_weight',
      'v_proj_weight',
      'in_proj_bias',
      'out_proj.weight',
      'out_proj.bias',
    ]);
    expect(m.in_proj_weight).to.equal(null);
    checkCase('kdimVdimUnbatched');
  });

  it('case 20: bias=false drops in_proj_bias and out_proj.bias', () => {
    const { m } = checkCase('noBias');
    expect(Object.keys(m.stateDict())).to.deep.equal(['in_proj_weight', 'out_proj.weight']);
    const { m: m2 } = checkCase('noBiasKdimBiasKv');
    expect(Object.keys(m2.stateDict())).to.deep.equal([
      'q_proj_weight',
      'k_proj_weight',
      'v_proj_weight',
      'bias_k',
      'bias_v',
      'out_proj.weight',
    ]);
  });

  it('case 21: addBiasKv + addZeroAttn give weights (N, H, L, S+2); the extra slots are never masked', () => {
    const { w } = checkCase('biasKvZeroAttn');
    expect([...w!.shape]).to.deep.equal([N, H, L, S + 2]);
    const { out: oAll, w: wAll } = checkCase('biasKvZeroAttnAllPadded');
    expect(finite(oAll), 'no NaN when every real key is padded').to.equal(true);
    expect(wAll!.narrow(-1, 0, S).abs().max().item()).to.equal(0);
    expectClose(
      wAll!.narrow(-1, S, 2).sum(-1),
      torch.ones(N, H, L).toArray() as number[][][],
      TOL,
      'weight on the two extra slots',
    );
    const { w: wb } = checkCase('biasKv');
    expect([...wb!.shape]).to.deep.equal([N, L, S + 1]);
    const { w: wz } = checkCase('zeroAttnBatchFirst');
    expect([...wz!.shape]).to.deep.equal([N, L, S + 1]);
    const { out: ou, w: wu } = checkCase('biasKvZeroAttnUnbatched');
    expect([...ou.shape]).to.deep.equal([L, E]);
    expect([...wu!.shape]).to.deep.equal([H, L, S + 2]);
  });
});

// =============================================================================================
describe('nn.MultiheadAttention: dropout (case 22)', () => {
  it('eval: dropout is off, rows sum to 1, two calls are identical and equal PyTorch', () => {
    const c = fx.mha.dropoutEval;
    expect(c.module.dropout).to.equal(0.5);
    const { m, x, out, w } = checkCase('dropoutEval');
    const [o2, w2] = forwardCase(m, c, x);
    expect(o2.equal(out)).to.equal(true);
    expect(w2!.equal(w!)).to.equal(true);
    expectClose(w!.sum(-1), torch.ones(N, L).toArray() as number[][], TOL, 'row sums');
  });

  it('train (p = 0.5): the returned weights are post-dropout: each entry is 0 or 2× the eval probability', () => {
    const c = fx.mha.dropoutEval;
    const m = moduleFor(c);
    const x = inputsFor(c);
    m.eval();
    const [, pe] = m.forward(x.q, x.k, x.v, { averageAttnWeights: false });
    m.train();
    const [, pt] = m.forward(x.q, x.k, x.v, { averageAttnWeights: false });
    const zero = pt!.eq(0);
    const kept = zero.logicalNot();
    expect(zero.any().itemBool(), 'some entries dropped').to.equal(true);
    expect(kept.any().itemBool(), 'some entries kept').to.equal(true);
    expectClose(
      pt!.index(kept),
      pe!.mul(2).index(kept).toArray() as number[],
      { rtol: 1e-5, atol: 1e-7 },
      'kept = 2 × prob',
    );
    const dev = pt!.sum(-1).sub(1).abs().max().item() as number;
    expect(dev, 'rows no longer sum to 1').to.be.greaterThan(1e-3);
  });

  it("train with torch.manualSeed gives PyTorch's dropout draw (same generator)", () => {
    const c = fx.mha.dropoutTrain;
    const m = moduleFor(c);
    const x = inputsFor(c);
    torch.manualSeed(c.seed!);
    const [out, w] = forwardCase(m, c, x);
    expectClose(out, c.out, TOL, 'output');
    expectClose(w!, c.weights!, TOL, 'weights');
  });
});

// =============================================================================================
describe('nn.MultiheadAttention: an SDPA-style tril mask passed as attnMask (case 23)', () => {
  it('reproduces 1.13: last row NaN, every other row attends only to the future', () => {
    const { out, w } = checkCase('sdpaStyleTril');
    const Ls = w!.shape[2];
    expect(allNaN(out.select(0, Ls - 1))).to.equal(true);
    for (let i = 0; i < Ls - 1; i++) {
      expect(
        w!
          .index(':', ':', i, `:${i + 1}`)
          .abs()
          .max()
          .item(),
        `row ${i}: keys <= ${i} blocked`,
      ).to.equal(0);
      expectClose(w!.index(':', ':', i).sum(-1), torch.ones(N, H).toArray() as number[][], TOL, `row ${i} sums to 1`);
    }
    // converting it with nn.masks.sdpaToMha gives the causal mask instead
    const tril = tensorNamed(fx.mha.sdpaStyleTril.attnMask!);
    expect(nn.masks.sdpaToMha(tril).equal(nn.masks.causal(Ls))).to.equal(true);
  });
});

// =============================================================================================
describe('nn.MultiheadAttention.forward: errors (cases 17-19) name the argument and both shapes', () => {
  const fn = /MultiheadAttention\.forward/;
  let m: MHA;
  let x: Inputs;
  let xu: { q: Tensor; k: Tensor; v: Tensor };
  before(() => {
    m = moduleFor(plainCase());
    x = inputsFor(plainCase());
    xu = { q: x.q.select(1, 0), k: x.k.select(1, 0), v: x.v.select(1, 0) };
  });
  const fwd = (o: torch.nn.MultiheadAttentionForwardOptions) => () => m.forward(x.q, x.k, x.v, o);
  const bool = (...shape: number[]) => torch.zeros(shape, { dtype: 'bool' });

  it('case 17: attnMask of a wrong shape: (S, L), (1, S), (N, L, S), 4-D, 1-D', () => {
    expectError(
      fwd({ attnMask: bool(S, L) }),
      RangeError,
      fn,
      /attnMask/,
      /attnMask must have shape \[L, S\] = \[4, 5\]/,
      /got \[5, 4\]/,
    );
    expectError(fwd({ attnMask: bool(1, S) }), RangeError, fn, /attnMask/, /\[L, S\] = \[4, 5\]/, /got \[1, 5\]/);
    expectError(
      fwd({ attnMask: bool(N, L, S) }),
      RangeError,
      fn,
      /attnMask/,
      /\[N\*numHeads, L, S\] = \[6, 4, 5\]/,
      /got \[3, 4, 5\]/,
    );
    expectError(
      fwd({ attnMask: bool(H, N, L, S) }),
      RangeError,
      fn,
      /attnMask/,
      /\[L, S\] = \[4, 5\]/,
      /got \[2, 3, 4, 5\]/,
    );
    expectError(fwd({ attnMask: bool(S) }), RangeError, fn, /attnMask/, /\[L, S\] = \[4, 5\]/, /got \[5\]/);
    expectError(fwd({ attnMask: torch.zeros(S, L) }), RangeError, fn, /attnMask/, /got \[5, 4\]/);
  });

  it('case 17 / 3: an unbatched query takes a 3-D attnMask of (numHeads, L, S) only', () => {
    expectError(
      () => m.forward(xu.q, xu.k, xu.v, { attnMask: bool(4, L, S) }),
      RangeError,
      fn,
      /attnMask/,
      /\[numHeads, L, S\] = \[2, 4, 5\]/,
      /got \[4, 4, 5\]/,
    );
    const [o] = m.forward(xu.q, xu.k, xu.v, { attnMask: bool(H, L, S) });
    expect([...o.shape]).to.deep.equal([L, E]);
  });

  it('case 17: keyPaddingMask of a wrong shape: (S, N), (N, L), 1-D for a batched query, 2-D for an unbatched one', () => {
    expectError(
      fwd({ keyPaddingMask: bool(S, N) }),
      RangeError,
      fn,
      /keyPaddingMask/,
      /\[N, S\] = \[3, 5\]/,
      /got \[5, 3\]/,
    );
    expectError(
      fwd({ keyPaddingMask: bool(N, L) }),
      RangeError,
      fn,
      /keyPaddingMask/,
      /\[N, S\] = \[3, 5\]/,
      /got \[3, 4\]/,
    );
    expectError(fwd({ keyPaddingMask: bool(S) }), RangeError, fn, /keyPaddingMask/, /\[N, S\] = \[3, 5\]/, /got \[5\]/);
    expectError(
      () => m.forward(xu.q, xu.k, xu.v, { keyPaddingMask: bool(1, S) }),
      RangeError,
      fn,
      /keyPaddingMask/,
      /\[S\] = \[5\]/,
      /got \[1, 5\]/,
    );
  });

  it('case 18: mask dtypes: int32/int64 attnMask and uint8/int64/int32 keyPaddingMask throw TypeError', () => {
    expectError(fwd({ attnMask: torch.zeros([L, S], { dtype: 'int32' }) }), TypeError, fn, /attnMask/, /int32/);
    expectError(fwd({ attnMask: torch.zeros([L, S], { dtype: 'int64' }) }), TypeError, fn, /attnMask/, /int64/);
    expectError(
      fwd({ keyPaddingMask: torch.zeros([N, S], { dtype: 'uint8' }) }),
      TypeError,
      fn,
      /keyPaddingMask/,
      /uint8/,
    );
    expectError(
      fwd({ keyPaddingMask: torch.zeros([N, S], { dtype: 'int64' }) }),
      TypeError,
      fn,
      /keyPaddingMask/,
      /int64/,
    );
    expectError(
      fwd({ keyPaddingMask: torch.zeros([N, S], { dtype: 'int32' }) }),
      TypeError,
      fn,
      /keyPaddingMask/,
      /int32/,
    );
    expectError(fwd({ attnMask: [[true]] as unknown as Tensor }), TypeError, fn, /attnMask/);
    expectError(fwd({ keyPaddingMask: 3 as unknown as Tensor }), TypeError, fn, /keyPaddingMask/);
  });

  it('case 19: query last dim != E, key/value mismatch, 4-D query, batched query with 2-D key, batch-size mismatch', () => {
    const r = (...s: number[]) => torch.randn(s);
    expectError(() => m.forward(r(L, N, 10), x.k, x.v), RangeError, fn, /query/, /embedDim = 8/, /\[4, 3, 10\]/);
    expectError(
      () => m.forward(x.q, r(S, N, E), r(S + 1, N, E)),
      RangeError,
      fn,
      /key/,
      /value/,
      /\[5, 3, 8\]/,
      /\[6, 3, 8\]/,
    );
    expectError(() => m.forward(r(1, L, N, E), x.k, x.v), RangeError, fn, /query/, /\[1, 4, 3, 8\]/);
    expectError(() => m.forward(x.q, r(S, E), r(S, E)), RangeError, fn, /key/, /value/, /\[5, 8\]/);
    expectError(() => m.forward(xu.q, x.k, x.v), RangeError, fn, /key/, /value/, /\[5, 3, 8\]/);
    // PyTorch: an opaque "shape '[5, 6, 4]' is invalid for input of size 80"; ours names N
    expectError(() => m.forward(x.q, r(S, 2, E), r(S, 2, E)), RangeError, fn, /batch/, /N = 3/, /N = 2/, /\[5, 2, 8\]/);
    expectError(() => m.forward(x.q, x.k, r(S, 2, E)), RangeError, fn, /batch/, /value/);
    expectError(() => m.forward(x.q, r(S, N, 6), x.v), RangeError, fn, /key/, /kdim = 8/, /\[5, 3, 6\]/);
    expectError(() => m.forward(x.q, x.k, r(S, N, 6)), RangeError, fn, /value/, /vdim = 8/, /\[5, 3, 6\]/);
    expectError(() => m.forward(x.q.double(), x.k.double(), x.v.double()), TypeError, fn, /float64/);
    expectError(() => m.forward(x.q, x.k.double(), x.v), TypeError, fn, /key/, /float64/);
    expectError(() => m.forward([1] as unknown as Tensor, x.k, x.v), TypeError, fn, /query/);
    expectError(() => m.forward(x.q, x.k, null as unknown as Tensor), TypeError, fn, /value/);
  });

  it('batchFirst errors speak of the batch-first layout', () => {
    const mb = moduleFor(plainCase(), { batchFirst: true });
    const qb = x.q.transpose(0, 1),
      kb = x.k.transpose(0, 1);
    expectError(
      () => mb.forward(qb, kb, kb, { attnMask: bool(S, L) }),
      RangeError,
      fn,
      /attnMask/,
      /\[L, S\] = \[4, 5\]/,
    );
    expectError(() => mb.forward(qb, x.k, x.k), RangeError, fn, /batch/, /batchFirst/);
  });

  it('isCausal: true without attnMask throws', () => {
    expectError(fwd({ isCausal: true }), TypeError, fn, /isCausal/, /attnMask/);
    expectError(fwd({ needWeights: 'yes' as unknown as boolean }), TypeError, fn, /needWeights/);
  });

  it('the module still works after every error', () => {
    const c = plainCase();
    const [out, w] = forwardCase(m, c, x);
    expectClose(out, c.out, TOL, 'output after errors');
    expectClose(w!, c.weights!, TOL, 'weights after errors');
  });
});
