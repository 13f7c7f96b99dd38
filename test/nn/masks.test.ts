// nn.masks: the mask helpers equal their PyTorch expressions (spec §6 case 23, §7), their error
// paths, and the two polarities: MultiheadAttention's bool true = BLOCKED versus
// scaledDotProductAttention's bool true = ALLOWED. Golden values: test/fixtures/attention.json
// (test/fixtures/gen/gen_attention_fixtures.py, PyTorch 1.13.1).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, expectExact, fromEncoded } from '../helpers';

const { nn } = torch;
const F = nn.functional;
const masks = nn.masks;
type Tensor = torch.Tensor;

interface MasksFixture {
  meta: { E: number; H: number; L: number; S: number; N: number };
  tensors: Record<string, Encoded>;
  states: Record<string, Record<string, Encoded>>;
  masks: Record<string, Encoded> & {
    fullyMasked: {
      attnMask: string;
      keyPaddingMask: string;
      attn3d: string;
      attnOnly: Encoded;
      kpmOnly: Encoded;
      both: Encoded;
      attn3dOnly: Encoded;
      attn3dKpm: Encoded;
      attnFloat: Encoded;
    };
  };
}
const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'attention.json'), 'utf8'),
) as MasksFixture;
const { E, H, L, S } = fx.meta;
const named = (n: string): Tensor => fromEncoded(fx.tensors[n]);
const mk = (n: string): Encoded => fx.masks[n] as Encoded;
const same = (a: Tensor, b: Tensor | Encoded, what: string) =>
  expectClose(a, b instanceof torch.Tensor ? (b.toArray() as never) : b, { rtol: 0, atol: 0 }, what);

/** nn.MultiheadAttention with PyTorch's weights of the fixture's 'base' state. */
function baseModule(): torch.nn.MultiheadAttention {
  const m = new nn.MultiheadAttention(E, H);
  const sd: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(fx.states.base)) sd[k] = fromEncoded(e);
  m.loadStateDict(sd);
  return m.eval();
}

// =============================================================================================
describe('nn.masks.causal (MultiheadAttention convention: true = blocked)', () => {
  it('causal(T) equals torch.triu(torch.ones(T, T), diagonal=1).bool()', () => {
    const m = masks.causal(4);
    expect(m.dtype).to.equal('bool');
    same(m, mk('causal4'), 'causal(4)');
  });

  it('causal(L, S) is top-left aligned (query i sees keys 0..i), for L < S and L > S', () => {
    same(masks.causal(4, 5), mk('causal4x5'), 'causal(4, 5)');
    same(masks.causal(5, 3), mk('causal5x3'), 'causal(5, 3)');
  });

  it('the diagonal option: triu(ones, diagonal)', () => {
    same(masks.causal(4, 5, { diagonal: 0 }), mk('causal4x5diag0'), 'diagonal 0');
    same(masks.causal(4, 5, { diagonal: 2 }), mk('causal4x5diag2'), 'diagonal 2');
    same(masks.causal(4, 5, { diagonal: -1 }), mk('causal4x5diagm1'), 'diagonal -1');
    same(masks.causal(4, undefined, { device: 'cpu' }), mk('causal4'), 'device cpu');
  });

  it('toAdditive(causal(T)) equals nn.Transformer.generate_square_subsequent_mask(T) (float 0 / -inf above the diagonal)', () => {
    const f = masks.toAdditive(masks.causal(4));
    expect(f.dtype).to.equal('float32');
    same(f, mk('generateSquareSubsequentMask4'), 'generate_square_subsequent_mask(4)');
    same(f, mk('toAdditiveCausal4'), 'zeros.masked_fill(mask, -inf)');
    const d = masks.toAdditive(masks.causal(4), { dtype: 'float64' });
    expect(d.dtype).to.equal('float64');
    same(d.float(), mk('toAdditiveCausal4'), 'float64');
  });

  it('the bool causal mask and its float version give the same MultiheadAttention output', () => {
    const m = baseModule();
    const q = named('plain.query'),
      k = named('plain.key'),
      v = named('plain.value');
    const [ob, wb] = m.forward(q, k, v, { attnMask: masks.causal(L, S) });
    const [of, wf] = m.forward(q, k, v, { attnMask: masks.toAdditive(masks.causal(L, S)) });
    expect(of.equal(ob)).to.equal(true);
    expect(wf!.equal(wb!)).to.equal(true);
    expect(wb!.index(':', 0, '1:').abs().max().item(), 'query 0 sees key 0 only').to.equal(0);
  });

  it('errors', () => {
    expectError(() => masks.causal(-1), RangeError, /nn\.masks\.causal/, /L/);
    expectError(() => masks.causal(2.5), RangeError, /nn\.masks\.causal/, /L/);
    expectError(() => masks.causal('4' as unknown as number), TypeError, /nn\.masks\.causal/, /L/);
    expectError(() => masks.causal(4, -2), RangeError, /nn\.masks\.causal/, /S/);
    expectError(() => masks.causal(4, 4, { diagonal: 0.5 }), RangeError, /diagonal/);
    expectError(() => masks.causal(4, 4, 'x' as never), TypeError, /nn\.masks\.causal/, /options/);
    expectError(
      () => masks.causal(4, 4, { bogus: 1 } as object),
      TypeError,
      /nn\.masks\.causal/,
      /unknown option 'bogus'/,
      /diagonal, device/,
    );
  });
});

// =============================================================================================
describe('nn.masks.keyPadding / padding (true = padded key)', () => {
  it('padding([7, 4, 2], 7) equals arange(S) >= lengths[:, None]', () => {
    const m = masks.padding([7, 4, 2], 7);
    expect(m.dtype).to.equal('bool');
    same(m, mk('padding742'), 'padding');
    same(masks.keyPadding([7, 4, 2], 9), mk('padding742S9'), 'maxLen 9');
    same(masks.keyPadding([7, 4, 2]), mk('padding742'), 'maxLen defaults to the longest');
    expect(masks.padding).to.equal(masks.keyPadding);
  });

  it('takes a 1-D int64 or int32 lengths tensor', () => {
    same(masks.keyPadding(torch.tensor([7n, 4n, 2n]), 7), mk('padding742'), 'int64 tensor');
    same(masks.keyPadding(torch.tensor([7, 4, 2], { dtype: 'int32' }), 7), mk('padding742'), 'int32 tensor');
  });

  it("used as MultiheadAttention's keyPaddingMask, it zeroes the weights of the padded keys", () => {
    const m = baseModule();
    const [, w] = m.forward(named('plain.query'), named('plain.key'), named('plain.value'), {
      keyPaddingMask: masks.keyPadding([5, 3, 1], S),
      averageAttnWeights: false,
    });
    expect(w!.index(1, ':', ':', '3:').abs().max().item()).to.equal(0);
    expect(w!.index(2, ':', ':', '1:').abs().max().item()).to.equal(0);
    expectClose(
      w!.index(2, ':', ':', 0),
      [
        [1, 1, 1, 1],
        [1, 1, 1, 1],
      ],
      { rtol: 0, atol: 1e-7 },
      'all weight on key 0',
    );
  });

  it('errors', () => {
    expectError(() => masks.keyPadding([7, 4, 2], 5), RangeError, /nn\.masks\.keyPadding/, /7/, /maxLen/);
    expectError(() => masks.keyPadding([7, -1]), RangeError, /nn\.masks\.keyPadding/, /lengths\[1\]/);
    expectError(() => masks.keyPadding([7, 1.5]), RangeError, /lengths\[1\]/);
    expectError(
      () => masks.keyPadding(torch.zeros([2, 2], { dtype: 'int64' })),
      RangeError,
      /nn\.masks\.keyPadding/,
      /1-D/,
      /\[2, 2\]/,
    );
    expectError(() => masks.keyPadding('7' as unknown as number[]), TypeError, /nn\.masks\.keyPadding/, /lengths/);
    expectError(() => masks.keyPadding([3], -1), RangeError, /maxLen/);
  });
});

// =============================================================================================
describe('nn.masks.toAdditive / mhaToSdpa / sdpaToMha', () => {
  it('toAdditive: bool (true = blocked) → float 0 / -inf', () => {
    const b = named('boolMask.attnMask');
    same(masks.toAdditive(b), named('boolMask.asFloat'), 'toAdditive');
  });

  it('mhaToSdpa(m) equals ~m; sdpaToMha inverts it; the aliases are the same functions', () => {
    const m = masks.causal(4, 5);
    const s = masks.mhaToSdpa(m);
    same(s, mk('toSdpaCausal4x5'), '~causal');
    expect(masks.sdpaToMha(s).equal(m)).to.equal(true);
    expect(masks.toSdpa).to.equal(masks.mhaToSdpa);
    expect(masks.fromSdpa).to.equal(masks.sdpaToMha);
    expect(masks.fromSdpa(masks.toSdpa(m)).equal(m)).to.equal(true);
  });

  it('float masks pass through unchanged (a copy): they are additive in both conventions', () => {
    const f = named('floatMask.attnMask');
    const s = masks.mhaToSdpa(f);
    expect(s).to.not.equal(f);
    expect(s.equal(f)).to.equal(true);
    expect(masks.sdpaToMha(f).equal(f)).to.equal(true);
  });

  it('errors', () => {
    expectError(
      () => masks.toAdditive(named('floatMask.attnMask')),
      TypeError,
      /nn\.masks\.toAdditive/,
      /bool/,
      /float32/,
    );
    expectError(() => masks.toAdditive([[true]] as unknown as Tensor), TypeError, /nn\.masks\.toAdditive/, /Tensor/);
    expectError(
      () => masks.toAdditive(masks.causal(2), { dtyp: 'float64' } as object),
      TypeError,
      /nn\.masks\.toAdditive/,
      /unknown option 'dtyp'/,
    );
    expectError(
      () => masks.toAdditive(masks.causal(2), { dtype: 'int64' as 'float32' }),
      TypeError,
      /nn\.masks\.toAdditive/,
      /dtype/,
    );
    expectError(() => masks.mhaToSdpa(null as unknown as Tensor), TypeError, /nn\.masks\.mhaToSdpa/, /Tensor/);
    expectError(() => masks.sdpaToMha({} as unknown as Tensor), TypeError, /nn\.masks\.sdpaToMha/, /Tensor/);
  });
});

// =============================================================================================
describe('nn.masks.findFullyMasked (query rows that come out NaN from MultiheadAttention)', () => {
  const f = fx.masks.fullyMasked;
  it('attnMask (L, S) alone → (L); keyPaddingMask alone → (N); both → (N, L)', () => {
    same(masks.findFullyMasked(named(f.attnMask)), f.attnOnly, 'attnMask');
    same(masks.findFullyMasked(null, named(f.keyPaddingMask)), f.kpmOnly, 'kpm');
    same(masks.findFullyMasked(named(f.attnMask), named(f.keyPaddingMask)), f.both, 'both');
  });

  it('3-D attnMask (N*H, L, S) alone → (N*H, L); with a keyPaddingMask → (N, L), a row counting if any head is fully masked', () => {
    same(masks.findFullyMasked(named(f.attn3d)), f.attn3dOnly, '3-D');
    same(masks.findFullyMasked(named(f.attn3d), named(f.keyPaddingMask)), f.attn3dKpm, '3-D + kpm');
  });

  it('float masks: -inf counts as blocked, -1e9 does not', () => {
    same(masks.findFullyMasked(named('fm.attnFloat')), f.attnFloat, 'float');
  });

  it("predicts exactly the NaN rows of MultiheadAttention's output", () => {
    const m = baseModule();
    const q = named('plain.query'),
      k = named('plain.key'),
      v = named('plain.value');
    for (const [am, kpm] of [
      [named(f.attnMask), named(f.keyPaddingMask)],
      [named(f.attn3d), named(f.keyPaddingMask)],
      [named(f.attn3d), null],
    ] as [Tensor, Tensor | null][]) {
      const [out] = m.forward(q, k, v, { attnMask: am, keyPaddingMask: kpm });
      const nanRows = out.isnan().all(-1).transpose(0, 1); // (N, L)
      const predicted = masks.findFullyMasked(am, kpm ?? masks.keyPadding([S, S, S], S));
      expect(nanRows.equal(predicted), `NaN rows for attnMask ${am.shape}`).to.equal(true);
    }
  });

  it('errors', () => {
    expectError(() => masks.findFullyMasked(), TypeError, /nn\.masks\.findFullyMasked/, /attnMask/);
    expectError(
      () => masks.findFullyMasked(torch.zeros([5, L, S], { dtype: 'bool' }), named(f.keyPaddingMask)),
      RangeError,
      /nn\.masks\.findFullyMasked/,
      /N = 3/,
    );
  });
});

// =============================================================================================
describe('mask polarity: the same causal structure through MultiheadAttention and scaledDotProductAttention', () => {
  // One head, identity projections, no biases: MHA's weights are softmax(q kᵀ/√E + mask) and its
  // output is weights @ v, i.e. exactly scaled-dot-product attention.
  function identityMha(): torch.nn.MultiheadAttention {
    const m = new nn.MultiheadAttention(E, 1);
    const I = torch.eye(E);
    m.loadStateDict({
      in_proj_weight: torch.cat([I, I, I], 0),
      in_proj_bias: torch.zeros(3 * E),
      'out_proj.weight': I,
      'out_proj.bias': torch.zeros(E),
    });
    return m.eval();
  }
  const q = () => named('plain.query'),
    k = () => named('plain.key'),
    v = () => named('plain.value'); // (L|S, N, E)
  const bf = (t: Tensor) => t.transpose(0, 1); // (N, L|S, E)

  it('MHA with nn.masks.causal(L, S) == SDPA with nn.masks.mhaToSdpa(nn.masks.causal(L, S)) == SDPA isCausal', () => {
    const m = identityMha();
    const [outMha, wMha] = m.forward(q(), k(), v(), { attnMask: masks.causal(L, S) });
    const outSdpa = F.scaledDotProductAttention(bf(q()), bf(k()), bf(v()), {
      attnMask: masks.mhaToSdpa(masks.causal(L, S)),
    });
    expectClose(bf(outMha), outSdpa.toArray() as number[][][], { rtol: 1e-5, atol: 1e-6 }, 'MHA vs SDPA');
    const outCausal = F.scaledDotProductAttention(bf(q()), bf(k()), bf(v()), { isCausal: true });
    expectClose(outCausal, outSdpa.toArray() as number[][][], { rtol: 1e-5, atol: 1e-6 }, 'SDPA mask vs isCausal');
    // MHA's weights are SDPA's softmax, computed by hand
    const scores = bf(q())
      .matmul(bf(k()).transpose(1, 2))
      .div(Math.sqrt(E))
      .add(masks.toAdditive(masks.causal(L, S)));
    expectClose(
      wMha!,
      scores.softmax(-1).toArray() as number[][][],
      { rtol: 1e-5, atol: 1e-6 },
      'MHA weights vs softmax',
    );
  });

  it('a float mask means the same in both', () => {
    const m = identityMha();
    const fm = named('floatMask.attnMask');
    const [outMha] = m.forward(q(), k(), v(), { attnMask: fm });
    const outSdpa = F.scaledDotProductAttention(bf(q()), bf(k()), bf(v()), { attnMask: masks.mhaToSdpa(fm) });
    expectClose(bf(outMha), outSdpa.toArray() as number[][][], { rtol: 1e-5, atol: 1e-6 }, 'float mask');
  });

  it('passing the MHA mask to SDPA unconverted flips its meaning (query 0 then attends keys 1..S-1)', () => {
    const m = identityMha();
    const wrong = F.scaledDotProductAttention(bf(q()), bf(k()), bf(v()), { attnMask: masks.causal(L, S) });
    const [outFlipped] = m.forward(q(), k(), v(), { attnMask: masks.causal(L, S).logicalNot() });
    // the MHA-side equivalent of the mistake: the complement (row L-1 of ~causal(4, 5) keeps key 4)
    expectClose(bf(outFlipped), wrong.toArray() as number[][][], { rtol: 1e-5, atol: 1e-6 }, 'flipped polarity');
    const right = F.scaledDotProductAttention(bf(q()), bf(k()), bf(v()), { isCausal: true });
    expect(wrong.sub(right).abs().max().item() as number).to.be.greaterThan(1e-2);
  });

  it('and the SDPA tril mask given to MHA blocks the past: converting with sdpaToMha restores causality', () => {
    const m = identityMha();
    const x = named('selfAttn.query'); // (L, N, E), self-attention
    const tril = torch.ones([L, L], { dtype: 'bool' }).tril();
    const [bad] = m.forward(x, x, x, { attnMask: tril });
    expect(
      bad
        .select(0, L - 1)
        .isnan()
        .all()
        .itemBool(),
      'last row NaN',
    ).to.equal(true);
    const [good] = m.forward(x, x, x, { attnMask: masks.sdpaToMha(tril) });
    const ref = F.scaledDotProductAttention(bf(x), bf(x), bf(x), { attnMask: tril });
    expectClose(bf(good), ref.toArray() as number[][][], { rtol: 1e-5, atol: 1e-6 }, 'converted');
  });

  it('a fully blocked row: NaN through MHA, 0 through SDPA (PyTorch >= 2.5)', () => {
    const m = identityMha();
    const blocked = masks.causal(L, S).clone();
    const row1 = torch.tensor([false, true, false, false]).view(L, 1).expand(L, S);
    const mhaMask = blocked.logicalOr(row1);
    const [outMha] = m.forward(q(), k(), v(), { attnMask: mhaMask });
    const outSdpa = F.scaledDotProductAttention(bf(q()), bf(k()), bf(v()), { attnMask: masks.mhaToSdpa(mhaMask) });
    expect(outMha.select(0, 1).isnan().all().itemBool()).to.equal(true);
    expectExact(outSdpa.select(1, 1).abs().max(), 0, undefined, 'SDPA row 1');
    for (const r of [0, 2, 3])
      expectClose(
        bf(outMha).select(1, r),
        outSdpa.select(1, r).toArray() as number[][],
        { rtol: 1e-5, atol: 1e-6 },
        `row ${r}`,
      );
  });
});
