import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import * as torch from '../../lib';

const { DistributedSampler } = torch.utils.data;
interface Case {
  n: number;
  numReplicas: number;
  shuffle: boolean;
  dropLast: boolean;
  seed: number;
  ranks: { len: number; epochs: number[][] }[];
}
const fx = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test/fixtures/distributed_sampler.json'), 'utf8')) as {
  epochs: number[];
  cases: Case[];
};
const range = (n: number) => ({ length: n });

describe('torch.utils.data.DistributedSampler', () => {
  it(`gives every rank the indices PyTorch's gives it (${fx.cases.length} cases × ranks × 3 epochs)`, () => {
    expect(fx.cases.length).to.be.greaterThan(100);
    for (const c of fx.cases) {
      c.ranks.forEach((want, rank) => {
        const s = new DistributedSampler(range(c.n), {
          numReplicas: c.numReplicas,
          rank,
          shuffle: c.shuffle,
          seed: c.seed,
          dropLast: c.dropLast,
        });
        const what = `n=${c.n} replicas=${c.numReplicas} rank=${rank} shuffle=${c.shuffle} dropLast=${c.dropLast} seed=${c.seed}`;
        expect(s.length, what).to.equal(want.len);
        fx.epochs.forEach((epoch, k) => {
          s.setEpoch(epoch);
          expect([...s], `${what} epoch ${epoch}`).to.deep.equal(want.epochs[k]);
        });
      });
    }
  });

  it('the ranks together cover the dataset once per epoch (padding repeats the first indices)', () => {
    const ranks = [0, 1, 2].map((rank) => [...new DistributedSampler(range(10), { numReplicas: 3, rank, seed: 1 })]);
    const all = ranks.flat();
    expect(all).to.have.length(12);
    expect(new Set(all).size).to.equal(10);
  });

  it('drives a DataLoader, and reads WORLD_SIZE and RANK as the launcher sets them', () => {
    const ds = new torch.utils.data.TensorDataset(torch.arange(8));
    const sampler = new DistributedSampler(ds, { numReplicas: 2, rank: 1, shuffle: false });
    const loader = new torch.utils.data.DataLoader(ds, { batchSize: 2, sampler });
    const got = [...loader].map((b) => (b as torch.Tensor[])[0].toArray<number[]>().map(Number));
    expect(got).to.deep.equal([
      [1, 3],
      [5, 7],
    ]);
    const env = { ...process.env };
    try {
      process.env.WORLD_SIZE = '4';
      process.env.RANK = '3';
      const s = new DistributedSampler(range(8), { shuffle: false });
      expect([s.numReplicas, s.rank, [...s]]).to.deep.equal([4, 3, [3, 7]]);
      process.env.RANK = 'x';
      expect(() => new DistributedSampler(range(8))).to.throw(RangeError, /RANK='x'/);
    } finally {
      process.env = env;
    }
  });

  it('refuses bad arguments with PyTorch-like messages', () => {
    expect(() => new DistributedSampler(range(4), { numReplicas: 2, rank: 2 })).to.throw(
      RangeError,
      /invalid rank 2, rank should be in the interval \[0, 1\]/,
    );
    expect(() => new DistributedSampler(range(4), { numReplicas: 0, rank: 0 })).to.throw(RangeError, /numReplicas/);
    expect(() => new DistributedSampler(range(4), { rank: 0, numReplicas: 1, shufle: true } as never)).to.throw(
      TypeError,
      /shufle/,
    );
    expect(() => new DistributedSampler({} as never)).to.throw(TypeError, /dataset/);
    expect(() => new DistributedSampler(range(4), { numReplicas: 1, rank: 0 }).setEpoch(-1)).to.throw(
      RangeError,
      /epoch/,
    );
  });
});
