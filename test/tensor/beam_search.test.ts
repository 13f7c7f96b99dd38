// Beam search over torch.topk: a tiny fixed "language model" (a table of next-token log-probs given
// the previous token) decoded with torch ops only (logSoftmax, topk over the flattened
// beam x vocab scores, indexSelect, cat), checked against exhaustive search, a plain-JS beam
// search, and hand-computed expectations.
import { expect } from 'chai';

import * as torch from '../../lib';

interface Hyp {
  tokens: number[];
  score: number;
}

/**
 * Beam search with torch ops. `logits` is (V + 1, V): row v gives the next-token logits after
 * token v, row V those after the start token. Returns the `numBeams` best sequences of `steps`
 * tokens, best first.
 */
function beamSearch(logits: torch.Tensor, numBeams: number, steps: number): Hyp[] {
  return torch.tidy(() => {
    const V = logits.shape[1];
    const logp = logits.logSoftmax(-1); // (V + 1, V)
    // step 1: the start row's top tokens
    const first = torch.topk(logp.select(0, V), Math.min(numBeams, V));
    let scores = first.values; // (beams)
    let seqs = first.indices.unsqueeze(1); // (beams, 1)
    let last = first.indices;
    for (let t = 1; t < steps; t++) {
      // every (beam, next token): the beam's score + log p(next | its last token)
      const cand = scores.unsqueeze(1).add(logp.indexSelect(0, last)); // (beams, V)
      const k = Math.min(numBeams, cand.numel());
      const { values, indices } = torch.topk(cand.reshape([-1]), k);
      const beam = indices.div(V, { roundingMode: 'floor' });
      const token = indices.remainder(V);
      seqs = torch.cat([seqs.indexSelect(0, beam), token.unsqueeze(1)], 1);
      scores = values;
      last = token;
    }
    // int64 tensors list as bigints
    const toks = (seqs.tolist() as bigint[][]).map((row) => row.map(Number));
    const sc = scores.tolist() as number[];
    return toks.map((tokens, i) => ({ tokens, score: sc[i] }));
  });
}

/** The log-prob table as plain numbers. */
function table(logits: torch.Tensor): number[][] {
  return torch.tidy(() => logits.logSoftmax(-1).tolist() as number[][]);
}

/** Every sequence of `steps` tokens, best first (the ground truth). */
function exhaustive(lp: number[][], steps: number): Hyp[] {
  const V = lp[0].length;
  const out: Hyp[] = [];
  const walk = (tokens: number[], prev: number, score: number): void => {
    if (tokens.length === steps) {
      out.push({ tokens, score });
      return;
    }
    for (let v = 0; v < V; v++) walk([...tokens, v], v, score + lp[prev][v]);
  };
  walk([], V, 0);
  return out.sort((a, b) => b.score - a.score);
}

/** The same beam search in plain JS (the tables here have no tied scores). */
function jsBeamSearch(lp: number[][], numBeams: number, steps: number): Hyp[] {
  const V = lp[0].length;
  let beams: Hyp[] = [{ tokens: [], score: 0 }];
  for (let t = 0; t < steps; t++) {
    const cand: Hyp[] = [];
    for (const b of beams) {
      const prev = b.tokens.length === 0 ? V : b.tokens[b.tokens.length - 1];
      for (let v = 0; v < V; v++) cand.push({ tokens: [...b.tokens, v], score: b.score + lp[prev][v] });
    }
    cand.sort((a, b) => b.score - a.score);
    beams = cand.slice(0, numBeams);
  }
  return beams;
}

// A 3-token vocabulary {0: a, 1: b, 2: c} with a garden path: the most likely first token (a)
// leads nowhere in particular, the second (b) is followed by a almost surely.
//   start: a 0.5, b 0.4, c 0.1
//   after a: a 0.35, b 0.33, c 0.32
//   after b: a 0.9,  b 0.05, c 0.05
//   after c: a 0.2,  b 0.2,  c 0.6
// Logits are the log-probabilities plus a per-row constant, which logSoftmax removes.
const PROBS = [
  [0.35, 0.33, 0.32],
  [0.9, 0.05, 0.05],
  [0.2, 0.2, 0.6],
  [0.5, 0.4, 0.1],
];
const logitsOf = (probs: number[][]): torch.Tensor =>
  torch.tensor(
    probs.map((row, i) => row.map((p) => Math.log(p) + i * 1.5)),
    { dtype: 'float64' },
  );

function expectHyps(got: Hyp[], want: Hyp[]): void {
  expect(got.map((h) => h.tokens)).to.deep.equal(want.map((h) => h.tokens));
  got.forEach((h, i) => {
    expect(h.score).to.be.closeTo(want[i].score, 1e-12);
  });
}

describe('beam search over torch.topk', () => {
  it('2 steps, 3 beams: b a (p 0.36) beats the greedy a a (p 0.175), as computed by hand', () => {
    const logits = logitsOf(PROBS);
    const best = beamSearch(logits, 3, 2);
    expect(best.map((h) => h.tokens)).to.deep.equal([
      [1, 0], // b a: 0.4 * 0.9 = 0.36
      [0, 0], // a a: 0.5 * 0.35 = 0.175
      [0, 1], // a b: 0.5 * 0.33 = 0.165
    ]);
    expect(Math.exp(best[0].score)).to.be.closeTo(0.36, 1e-12);
    expect(Math.exp(best[1].score)).to.be.closeTo(0.175, 1e-12);
    expect(Math.exp(best[2].score)).to.be.closeTo(0.165, 1e-12);
    // greedy (1 beam) takes the garden path
    expect(beamSearch(logits, 1, 2)[0].tokens).to.deep.equal([0, 0]);
    logits.dispose();
  });

  it('3 beams over 4 steps agree with a plain-JS beam search and find the exhaustive best', () => {
    const logits = logitsOf(PROBS);
    const lp = table(logits);
    const got = beamSearch(logits, 3, 4);
    expectHyps(got, jsBeamSearch(lp, 3, 4));
    const all = exhaustive(lp, 4);
    expect(got[0].tokens).to.deep.equal(all[0].tokens);
    expect(got[0].tokens).to.deep.equal([1, 0, 1, 0]); // b a b a
    expect(Math.exp(got[0].score)).to.be.closeTo(0.4 * 0.9 * 0.33 * 0.9, 1e-12);
    // every returned hypothesis carries its true score
    for (const h of got) expect(h.score).to.be.closeTo(all.find((a) => `${a.tokens}` === `${h.tokens}`)!.score, 1e-12);
    logits.dispose();
  });

  it('with as many beams as prefixes (V^(steps-1)) beam search is exhaustive: the top 3 of all sequences', () => {
    const logits = logitsOf(PROBS);
    const lp = table(logits);
    const got = beamSearch(logits, 9, 3).slice(0, 3);
    expectHyps(got, exhaustive(lp, 3).slice(0, 3));
    logits.dispose();
  });

  it('on random tables (seeded) it matches the plain-JS beam search and never beats the exhaustive best', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let trial = 0; trial < 20; trial++) {
      const V = 2 + (trial % 4);
      const rows = Array.from({ length: V + 1 }, () => Array.from({ length: V }, () => rand() * 6 - 3));
      const logits = torch.tensor(rows, { dtype: 'float64' });
      const lp = table(logits);
      const steps = 2 + (trial % 3);
      const got = beamSearch(logits, 3, steps);
      expectHyps(got, jsBeamSearch(lp, 3, steps));
      const all = exhaustive(lp, steps);
      expect(got[0].score).to.be.at.most(all[0].score + 1e-12);
      // scores are sorted, best first
      for (let i = 1; i < got.length; i++) expect(got[i].score).to.be.at.most(got[i - 1].score);
      logits.dispose();
    }
  });
});
