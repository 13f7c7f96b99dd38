// The benchmark's bookkeeping (bench/cases.js, bench/ort_bench.js), not its timings: every
// onnxruntime snippet a case names exists, and onnxruntime's inputs are the numbers torch-napi's
// cases feed the other implementations.
import * as path from 'node:path';
import { expect } from 'chai';
import * as torch from '../../lib';

// dist-test/test/bench/ -> the repository root
const bench = path.join(__dirname, '..', '..', '..', 'bench');
const { CASES } = require(path.join(bench, 'cases.js')) as { CASES: { name: string; onnx?: string; cpp?: string }[] };
const ort = require(path.join(bench, 'ort_bench.js')) as {
  SNIPPETS: Record<string, unknown>;
  fixed: (shape: number[], k: number) => Float32Array;
  causal: (L: number) => Uint8Array;
  keyPadding: (N: number, S: number) => Uint8Array;
};

describe('bench: the onnxruntime column', () => {
  it('names only snippets bench/ort_bench.js has, on inference model rows', () => {
    const named = CASES.filter((c) => c.onnx);
    expect(named.length).to.be.greaterThan(0);
    for (const c of named) {
      expect(ort.SNIPPETS, c.name).to.have.property(c.onnx as string);
      expect(c.name).to.match(/^(seed_L|lstm_|mha_)/);
    }
  });

  it("feeds the same inputs as torch-napi's cases (fixed, causal and key padding masks)", () => {
    const shape = [7, 3, 5];
    const want = torch.tidy(() =>
      torch.arange(105, { dtype: 'float32' }).mul(0.1).add(1.5).sin().data(),
    ) as Float32Array;
    const got = ort.fixed(shape, 1.5);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `i=${i}`).to.be.below(1e-6);
    torch.tidy(() => {
      expect([...ort.causal(4)]).to.deep.equal([...torch.nn.masks.causal(4, 4).to('uint8').data()]);
      const lengths = [5, 4, 3, 5];
      expect([...ort.keyPadding(4, 5)]).to.deep.equal([...torch.nn.masks.keyPadding(lengths, 5).to('uint8').data()]);
    });
  });
});
