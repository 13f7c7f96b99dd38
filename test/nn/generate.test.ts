import { expect } from 'chai';
import type { GenerationModel } from '../../lib';
import * as torch from '../../lib';
import { prng, settleGarbage } from '../helpers';

/** int64 values as numbers */
const ints = (t: torch.Tensor) => t.to('float64').tolist() as number[][];

// torch.generate on toy models whose every continuation can be enumerated: greedy, beam search and
// sampling are checked against brute force, states are checked to follow their beams.

const V = 5;
const EOS = 4;

/** log-probabilities of a table-driven model: row = f(last token, state) */
function table(seed: number): number[][] {
  const r = prng(seed);
  return Array.from({ length: V }, () => Array.from({ length: V }, () => r() * 4 - 2));
}
function logSoftmax(row: number[]): number[] {
  const m = Math.max(...row);
  const z = Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0)) + m;
  return row.map((x) => x - z);
}

/**
 * Decoder-only toy: the state is a (B) int64 tensor holding the sum of the tokens so far; the
 * logits are table[(last + sum) % V]. Beam search must carry the state with its beam.
 */
function stateModel(tab: number[][]): GenerationModel<torch.Tensor> {
  const t = torch.tensor(tab);
  return {
    initialState: (B) => torch.zeros([B], { dtype: 'int64' }),
    decodeStep(tokens, sum) {
      const next = sum.add(tokens);
      const logits = t.indexSelect(0, next.remainder(V));
      return { logits, state: next };
    },
  };
}

function scoreOf(tab: number[][], seq: number[], start: number): number {
  let sum = 0;
  let last = start;
  let lp = 0;
  for (const tok of seq) {
    sum += last;
    lp += logSoftmax(tab[sum % V])[tok];
    last = tok;
  }
  return lp;
}

/** every sequence of length <= L that ends in EOS, or has length L */
function allSequences(L: number): number[][] {
  const out: number[][] = [];
  const grow = (prefix: number[]) => {
    if (prefix.length === L || prefix[prefix.length - 1] === EOS) {
      out.push(prefix);
      return;
    }
    for (let v = 0; v < V; v++) grow([...prefix, v]);
  };
  grow([]);
  return out;
}

describe('torch.generate', () => {
  it('greedy search follows the argmax of each step, carrying the state', () => {
    const tab = table(1);
    const model = stateModel(tab);
    const { sequences, scores, lengths } = torch.generate(model, { bosToken: 0, eosToken: EOS, maxLength: 6 });
    // by hand
    const want: number[] = [];
    let sum = 0;
    let last = 0;
    for (let t = 0; t < 6; t++) {
      sum += last;
      const lp = logSoftmax(tab[sum % V]);
      const tok = lp.indexOf(Math.max(...lp));
      want.push(tok);
      last = tok;
      if (tok === EOS) break;
    }
    expect(lengths).to.deep.equal([want.length]);
    expect(ints(sequences)[0].slice(0, want.length)).to.deep.equal(want);
    expect(scores.item()).to.be.closeTo(scoreOf(tab, want, 0), 1e-5);
    torch.dispose([sequences, scores]);
  });

  it('beam search with enough beams finds the best sequence (brute force, lengthPenalty 0)', () => {
    for (const seed of [2, 3, 4, 5]) {
      const tab = table(seed);
      const L = 3;
      const all = allSequences(L).map((s) => ({ s, score: scoreOf(tab, s, 0) }));
      all.sort((a, b) => b.score - a.score);
      const out = torch.generate(stateModel(tab), {
        bosToken: 0,
        eosToken: EOS,
        maxLength: L,
        numBeams: 25,
        lengthPenalty: 0,
        numReturnSequences: 3,
      });
      const seqs = ints(out.sequences);
      const scores = out.scores.tolist() as number[];
      for (let i = 0; i < 3; i++) {
        expect(seqs[i].slice(0, out.lengths[i]), `seed ${seed} rank ${i}`).to.deep.equal(all[i].s);
        expect(scores[i]).to.be.closeTo(all[i].score, 1e-5);
      }
      torch.dispose([out.sequences, out.scores]);
    }
  });

  it('beam search applies the length penalty as Hugging Face does (sum / length ** p, eos not counted)', () => {
    const tab = table(7);
    const L = 3;
    for (const p of [1, 2]) {
      const all = allSequences(L).map((s) => {
        const len = 1 + s.length - (s[s.length - 1] === EOS ? 1 : 0); // bos + tokens, eos excluded
        return { s, score: scoreOf(tab, s, 0) / len ** p };
      });
      all.sort((a, b) => b.score - a.score);
      const out = torch.generate(stateModel(tab), {
        bosToken: 0,
        eosToken: EOS,
        maxLength: L,
        numBeams: 25,
        lengthPenalty: p,
      });
      expect(ints(out.sequences)[0].slice(0, out.lengths[0])).to.deep.equal(all[0].s);
      expect(out.scores.item()).to.be.closeTo(all[0].score, 1e-5);
      torch.dispose([out.sequences, out.scores]);
    }
  });

  it('one beam is greedy search; batches decode each row independently', () => {
    const tab = table(8);
    const g = torch.generate(stateModel(tab), { bosToken: 0, eosToken: EOS, maxLength: 5, batchSize: 3 });
    const b = torch.generate(stateModel(tab), { bosToken: 0, eosToken: EOS, maxLength: 5, batchSize: 3, numBeams: 1 });
    expect(ints(b.sequences)).to.deep.equal(ints(g.sequences));
    const rows = ints(g.sequences);
    expect(rows[1]).to.deep.equal(rows[0]);
    torch.dispose([g, b].flatMap((o) => [o.sequences, o.scores]));
  });

  it('encoder–decoder: rows of different source lengths, padding, eos, and the attention of each step', () => {
    // copy model: at step t the decoder wants src[b][t], then EOS after the row's length
    const src = torch.tensor(
      [
        [1, 2, 3, 1],
        [3, 3, 0, 0],
      ],
      { dtype: 'int64' },
    );
    const srcPadding = torch.nn.masks.keyPadding([4, 2], 4);
    type St = { memory: torch.Tensor; pad: torch.Tensor; t: number };
    const model: GenerationModel<St> = {
      encode: (s, pad) => ({ memory: s, pad: pad as torch.Tensor, t: 0 }),
      decodeStep(tokens, st) {
        const R = tokens.shape[0];
        const S = st.memory.shape[1];
        const pos = torch.full([R, 1], Math.min(st.t, S - 1), { dtype: 'int64' });
        const want = st.memory.gather(1, pos).squeeze(1);
        const ended = st.pad
          .gather(1, pos)
          .squeeze(1)
          .logicalOr(torch.tensor(st.t >= S));
        const target = torch.where(ended, torch.tensor(EOS, { dtype: 'int64' }), want);
        const logits = torch.nn.functional.oneHot(target, V).float().mul(5);
        const attention = torch.nn.functional.oneHot(pos.squeeze(1), S).float();
        return { logits, state: { ...st, t: st.t + 1 }, attention };
      },
    };
    for (const numBeams of [1, 3]) {
      const out = torch.generate(model, {
        src,
        srcPadding,
        bosToken: 0,
        eosToken: EOS,
        padToken: 0,
        maxLength: 8,
        numBeams,
        outputAttentions: true,
      });
      expect(ints(out.sequences)).to.deep.equal([
        [1, 2, 3, 1, EOS],
        [3, 3, EOS, 0, 0],
      ]);
      expect(out.lengths).to.deep.equal([5, 3]);
      const a = out.attentions as torch.Tensor;
      expect(a.shape).to.deep.equal([2, 5, 4]);
      const rows = a.tolist() as number[][][];
      expect(rows[1].map((r) => r.indexOf(1))).to.deep.equal([0, 1, 2, -1, -1]); // zero after the end
      torch.dispose([out.sequences, out.scores, a]);
    }
    torch.dispose([src, srcPadding]);
  });

  it('sampling: topK 1 is greedy; the same seed gives the same samples; topP keeps the likely tokens', () => {
    const tab = table(9);
    const g = torch.generate(stateModel(tab), { bosToken: 0, eosToken: EOS, maxLength: 6, batchSize: 2 });
    const k1 = torch.generate(stateModel(tab), {
      bosToken: 0,
      eosToken: EOS,
      maxLength: 6,
      batchSize: 2,
      doSample: true,
      topK: 1,
    });
    expect(ints(k1.sequences)).to.deep.equal(ints(g.sequences));
    torch.manualSeed(11);
    const s1 = torch.generate(stateModel(tab), {
      bosToken: 0,
      maxLength: 12,
      batchSize: 4,
      doSample: true,
      temperature: 1.5,
    });
    torch.manualSeed(11);
    const s2 = torch.generate(stateModel(tab), {
      bosToken: 0,
      maxLength: 12,
      batchSize: 4,
      doSample: true,
      temperature: 1.5,
    });
    expect(ints(s1.sequences)).to.deep.equal(ints(s2.sequences));
    expect(new Set(ints(s1.sequences).map(String)).size).to.be.greaterThan(1);
    // topP: only tokens inside the top-p mass of their step may appear
    torch.manualSeed(12);
    const p = torch.generate(stateModel(tab), { bosToken: 0, maxLength: 8, batchSize: 16, doSample: true, topP: 0.5 });
    for (const seq of ints(p.sequences)) {
      let sum = 0;
      let last = 0;
      for (const tok of seq) {
        sum += last;
        const probs = logSoftmax(tab[sum % V]).map(Math.exp);
        const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
        let mass = 0;
        const allowed = new Set<number>();
        for (const i of order) {
          if (mass >= 0.5) break;
          allowed.add(i);
          mass += probs[i];
        }
        expect(allowed.has(tok), `token ${tok} outside the top-p set`).to.equal(true);
        last = tok;
      }
    }
    torch.dispose([g, k1, s1, s2, p].flatMap((o) => [o.sequences, o.scores]));
  });

  it('noRepeatNgramSize forbids repeated n-grams; minLength forbids an early eos', () => {
    // a model that always prefers 1 then 2 then 1 ... (bigram 1,2 would repeat), and eos second
    const model: GenerationModel<null> = {
      decodeStep(tokens) {
        const prefer = torch.where(
          tokens.eq(1),
          torch.tensor(2, { dtype: 'int64' }),
          torch.tensor(1, { dtype: 'int64' }),
        );
        const logits = torch.nn.functional
          .oneHot(prefer, V)
          .float()
          .mul(3)
          .add(torch.tensor([0, 0, 0, 0, 2]));
        return { logits, state: null };
      },
    };
    const r = torch.generate(model, { bosToken: 0, maxLength: 8, noRepeatNgramSize: 2 });
    const seq = ints(r.sequences)[0];
    const grams = seq.slice(1).map((t, i) => `${seq[i]},${t}`);
    expect(new Set(grams).size).to.equal(grams.length);
    const eosModel: GenerationModel<null> = {
      decodeStep: (tokens) => ({
        logits: torch.nn.functional.oneHot(torch.full([tokens.shape[0]], EOS, { dtype: 'int64' }), V).float(),
        state: null,
      }),
    };
    const m = torch.generate(eosModel, { bosToken: 0, eosToken: EOS, maxLength: 6, minLength: 3 });
    expect(m.lengths).to.deep.equal([4]);
    expect(ints(m.sequences)[0][3]).to.equal(EOS);
    torch.dispose([r, m].flatMap((o) => [o.sequences, o.scores]));
  });

  it('decoder-only prompts are fed first; LSTM states (layers, B, H) follow their beams', () => {
    torch.manualSeed(3);
    const emb = new torch.nn.Embedding(V, 6);
    const lstm = new torch.nn.LSTM(6, 8, { numLayers: 2 });
    const head = new torch.nn.Linear(8, V);
    type St = [torch.Tensor, torch.Tensor] | null;
    const model: GenerationModel<St> = {
      decodeStep(tokens, st) {
        const [y, hc] = lstm.forward(emb.forward(tokens).unsqueeze(0), st);
        return { logits: head.forward(y.squeeze(0)), state: hc };
      },
    };
    const prompt = torch.tensor([[1, 2, 3]], { dtype: 'int64' });
    const L = 3;
    const out = torch.generate(model, { prompt, maxLength: L, numBeams: 125, lengthPenalty: 0 });
    // brute force: the full-sequence log-probability of every continuation
    let best = Number.NEGATIVE_INFINITY;
    let bestSeq: number[] = [];
    torch.noGrad(() => {
      for (const s of allSequences(L).filter((x) => x.length === L && !x.includes(EOS))) {
        const seq = torch.tensor([[1, 2, 3, ...s]], { dtype: 'int64' }).t();
        const [y] = lstm.forward(emb.forward(seq));
        const lp = head.forward(y).logSoftmax(-1).squeeze(1); // (T, V)
        let score = 0;
        const rows = lp.tolist() as number[][];
        for (let i = 0; i < L; i++) score += rows[2 + i][s[i]];
        if (score > best) [best, bestSeq] = [score, s];
      }
    });
    const got = ints(out.sequences)[0];
    if (!got.includes(EOS)) {
      expect(got).to.deep.equal(bestSeq);
      expect(out.scores.item()).to.be.closeTo(best, 1e-4);
    } else expect(out.scores.item()).to.be.at.least(best - 1e-4);
    torch.dispose([out.sequences, out.scores, prompt]);
  });

  it('frees every tensor it makes (states, steps, attention) except its outputs', async () => {
    const tab = table(10);
    const model = stateModel(tab);
    const warm = torch.generate(model, { bosToken: 0, eosToken: EOS, maxLength: 4, numBeams: 3 }); // warm caches
    torch.dispose([warm.sequences, warm.scores]);
    await settleGarbage(); // earlier tests' dropped tensors must not be collected while this counts
    const before = torch.memory().tensors;
    const out = torch.generate(model, { bosToken: 0, eosToken: EOS, maxLength: 6, numBeams: 3, numReturnSequences: 2 });
    expect(torch.memory().tensors).to.equal(before + 2);
    torch.dispose([out.sequences, out.scores]);
    const g = torch.generate(model, { bosToken: 0, eosToken: EOS, maxLength: 6, batchSize: 2, doSample: true });
    expect(torch.memory().tensors).to.equal(before + 2);
    torch.dispose([g.sequences, g.scores]);
  });

  it('generateAsync gives what generate gives, and uses decodeStepAsync when the model has it', async () => {
    const tab = table(12);
    const model = stateModel(tab);
    const a = torch.generate(model, { bosToken: 0, eosToken: EOS, maxLength: 5, numBeams: 2 });
    const b = await torch.generateAsync(model, { bosToken: 0, eosToken: EOS, maxLength: 5, numBeams: 2 });
    expect(ints(b.sequences)).to.deep.equal(ints(a.sequences));
    let calls = 0;
    const asyncModel: GenerationModel<torch.Tensor> = {
      ...model,
      async decodeStepAsync(tokens, st) {
        calls++;
        return model.decodeStep(tokens, st);
      },
    };
    const c = await torch.generateAsync(asyncModel, { bosToken: 0, eosToken: EOS, maxLength: 5, numBeams: 2 });
    expect(ints(c.sequences)).to.deep.equal(ints(a.sequences));
    expect(calls).to.be.greaterThan(0);
    torch.dispose([a, b, c].flatMap((o) => [o.sequences, o.scores]));
  });

  it('refuses bad options and bad models with messages that name them', () => {
    const model = stateModel(table(1));
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ bosToken: 0, beams: 2 }, /unknown option 'beams'/],
      [{ bosToken: 0, numBeams: 0 }, /numBeams >= 1/],
      [{ bosToken: 0, numBeams: 2, doSample: true }, /beam search with sampling/],
      [{ bosToken: 0, numBeams: 2, numReturnSequences: 3 }, /numReturnSequences \(3\) must be <= numBeams/],
      [{ bosToken: 0, numReturnSequences: 2 }, /greedy search returns one sequence/],
      [{ bosToken: 0, temperature: 0 }, /temperature > 0/],
      [{ bosToken: 0, topP: 1.5 }, /topP in \(0, 1\]/],
      [{ bosToken: 0, maxLength: 2, minLength: 3 }, /minLength \(3\) > maxLength \(2\)/],
      [{ bosToken: 0.5 }, /bosToken to be an integer/],
      [{}, /give src, prompt or bosToken/],
      [{ src: torch.zeros([1, 2]), bosToken: 0 }, /no encode/],
      [{ bosToken: 0, onStep: 3 }, /onStep to be a function/],
      [{ bosToken: 0, doSample: true, generator: 3 }, /generator to be a torch.Generator/],
    ];
    for (const [o, re] of bad)
      expect(() => torch.generate(model, o as torch.GenerateOptions), JSON.stringify(o)).to.throw(re);
    expect(() => torch.generate({} as GenerationModel, { bosToken: 0 })).to.throw(TypeError, /decodeStep/);
    const badLogits: GenerationModel<null> = { decodeStep: () => ({ logits: torch.zeros([3]), state: null }) };
    expect(() => torch.generate(badLogits, { bosToken: 0 })).to.throw(TypeError, /logits of shape \(B, V\)/);
  });
});
