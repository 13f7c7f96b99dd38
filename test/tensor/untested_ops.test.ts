// Public functions that had no test of their own, against PyTorch 1.13's values and gradients
// (test/fixtures/untested_ops.json, written by test/fixtures/gen/gen_untested_fixtures.py), and the few
// that have no PyTorch value to compare with (getNumThreads, version, viz.writeSvg).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

interface OpCase {
  args: string[];
  out: Encoded;
  gradOut: string | null;
  grads: (Encoded | null)[];
}
interface EmbeddingCase {
  options: { sparse: boolean; paddingIdx?: number };
  weight: Encoded;
  indices: Encoded;
  gradOut: Encoded;
  out: Encoded;
  grad: Encoded;
  afterSgd: Encoded;
  repr: string;
}
interface Fixture {
  torch: string;
  inputs: Record<string, Encoded>;
  cases: Record<string, OpCase>;
  embedding: Record<string, EmbeddingCase>;
  isTensor: Record<string, boolean>;
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'untested_ops.json'), 'utf8'),
) as Fixture;
const TOL = { rtol: 1e-5, atol: 1e-6 };

/** The JavaScript call of each fixture case (the case name says which PyTorch call made it). */
const OPS: Record<string, (...t: Tensor[]) => Tensor> = {
  sin: (x) => x.sin(),
  cos: (x) => x.cos(),
  erf: (x) => x.erf(),
  expm1: (x) => x.expm1(),
  floor: (x) => x.floor(),
  ceil: (x) => x.ceil(),
  round: (x) => x.round(),
  trunc: (x) => x.trunc(),
  log1p: (x) => x.log1p(),
  rsqrt: (x) => x.rsqrt(),
  reciprocal: (x) => x.reciprocal(),
  'round float64 (half to even)': (x) => x.round(),
  'floor float64': (x) => x.floor(),
  'ceil float64': (x) => x.ceil(),
  'trunc float64': (x) => x.trunc(),
  'sin of non-finite': (x) => x.sin(),
  'expm1 of non-finite': (x) => x.expm1(),
  isinf: (x) => x.isinf(),
  'isinf float64': (x) => x.isinf(),
  'isinf int64': (x) => x.isinf(),
  'logicalXor bool': (a, b) => a.logicalXor(b),
  'logicalXor float (nonzero is true, NaN too)': (a, b) => a.logicalXor(b),
  'logicalXor int64 broadcast': (a, b) => a.logicalXor(b),
  outer: (a, b) => a.outer(b),
  'outer int64': (a, b) => a.outer(b),
  dot: (a, b) => a.dot(b),
  'dot int64': (a, b) => a.dot(b),
  prod: (x) => x.prod(),
  'prod dim 1': (x) => x.prod(1),
  'prod dim 0 keepdim': (x) => x.prod(0, true),
  'prod of a tensor with zeros': (x) => x.prod(),
  'prod int32 (promoted to int64)': (x) => x.prod(),
  'prod bool (int64)': (x) => x.prod(),
  remainder: (a, b) => a.remainder(b),
  'remainder scalar -1.5': (a) => a.remainder(-1.5),
  'remainder scalar 2': (a) => a.remainder(2),
  'remainder int64': (a, b) => a.remainder(b),
  'remainder int64 scalar -3': (a) => a.remainder(-3),
  'cumsum dim 0': (x) => x.cumsum(0),
  'cumsum dim 1': (x) => x.cumsum(1),
  'cumsum dim -1': (x) => x.cumsum(-1),
  'cumsum int32 (promoted to int64)': (x) => x.cumsum(1),
  'cumsum bool (int64)': (x) => x.cumsum(0),
};

describe("untested public functions: values and gradients equal PyTorch's", () => {
  it('the fixture has all 43 op cases, 2 embedding cases, and a JavaScript call for each', () => {
    expect(Object.keys(fx.cases), 'cases').to.have.length(43);
    expect(Object.keys(fx.embedding), 'embedding cases').to.have.length(2);
    expect(Object.keys(OPS).sort()).to.deep.equal(Object.keys(fx.cases).sort());
  });

  for (const [name, c] of Object.entries(fx.cases)) {
    const grads = c.gradOut !== null ? ' and gradients' : '';
    it(`${name}: value${grads}`, () =>
      torch.tidy(() => {
        const args = c.args.map((a, i) =>
          fromEncoded(fx.inputs[a], { requiresGrad: c.gradOut !== null && c.grads[i] !== null }),
        );
        const out = OPS[name](...args);
        expectClose(out, c.out, TOL, `${name} output`);
        if (c.gradOut === null) return;
        out.mul(fromEncoded(fx.inputs[c.gradOut])).sum().backward();
        c.grads.forEach((g, i) => {
          if (g === null) return;
          expect(args[i].grad, `${name}: grad of argument ${i}`).to.not.equal(null);
          expectClose(args[i].grad!, g, TOL, `${name}: grad of argument ${i}`);
        });
      }));
  }

  it("round is half-to-even (banker's rounding), not JavaScript's Math.round", () => {
    const t = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5]);
    expect(t.round().toArray()).to.deep.equal([-2, -2, -0, 0, 2, 2, 4]);
    expect(Object.is((t.round().toArray() as number[])[2], -0), 'round(-0.5) is -0').to.equal(true);
    expect([-2.5, 0.5, 2.5].map(Math.round)).to.deep.equal([-2, 1, 3]); // what it must not do
  });
});

describe("nn.Embedding with sparse: true equals PyTorch's (sparse gradient compared dense, one SGD step)", () => {
  for (const [name, c] of Object.entries(fx.embedding)) {
    it(`${name} (${c.repr})`, () => {
      const m = new nn.Embedding(5, 3, c.options);
      expect(m.sparse).to.equal(true);
      expect(String(m)).to.equal(c.repr);
      torch.noGrad(() => m.weight.copy_(fromEncoded(c.weight)));
      const out = m.forward(fromEncoded(c.indices));
      expectClose(out, c.out, TOL, 'output');
      out.mul(fromEncoded(c.gradOut)).sum().backward();
      const g = m.weight.grad!;
      expect(g, 'a gradient').to.not.equal(null);
      expect([...g.shape]).to.deep.equal([5, 3]);
      // The sparse (COO) gradient has no strided storage to read; dense + sparse is dense.
      expectClose(torch.zeros([5, 3]).add(g), c.grad, TOL, 'gradient (dense)');
      new torch.optim.SGD(m.parameters(), { lr: 0.1 }).step();
      expectClose(m.weight, c.afterSgd, TOL, 'weight after SGD');
    });
  }

  it('F.embedding with sparse: true gives the same sparse gradient', () => {
    const c = fx.embedding.sparse;
    const w = fromEncoded(c.weight, { requiresGrad: true });
    const out = nn.functional.embedding(fromEncoded(c.indices), w, { sparse: true });
    expectClose(out, c.out, TOL, 'output');
    out.mul(fromEncoded(c.gradOut)).sum().backward();
    expectClose(torch.zeros([5, 3]).add(w.grad!), c.grad, TOL, 'gradient (dense)');
  });
});

describe('torch.isTensor, torch.getNumThreads, torch.version', () => {
  it('isTensor answers as torch.is_tensor', () => {
    const values: Record<string, unknown> = {
      tensor: torch.ones(2),
      parameter: new nn.Parameter(torch.ones(2)),
      'zero-dim tensor': torch.tensor(1),
      list: [1, 2],
      number: 1.5,
      none: null,
      string: 'x',
    };
    expect(Object.keys(values).sort()).to.deep.equal(Object.keys(fx.isTensor).sort());
    for (const [k, v] of Object.entries(values)) expect(torch.isTensor(v), k).to.equal(fx.isTensor[k]);
    // and what Python has no analogue of
    for (const v of [undefined, {}, new Float32Array(2), { shape: [2], dtype: 'float32' }])
      expect(torch.isTensor(v), String(v)).to.equal(false);
    const gone = torch.ones(1);
    gone.dispose();
    expect(torch.isTensor(gone), 'a disposed tensor is still a Tensor').to.equal(true);
  });

  it('getNumThreads: a positive integer, and what setNumThreads set', () => {
    const n0 = torch.getNumThreads();
    expect(Number.isSafeInteger(n0) && n0 >= 1, `getNumThreads() = ${n0}`).to.equal(true);
    try {
      for (const n of [1, 2, 3]) {
        torch.setNumThreads(n);
        expect(torch.getNumThreads()).to.equal(n);
      }
    } finally {
      torch.setNumThreads(n0);
    }
    expect(torch.getNumThreads()).to.equal(n0);
  });

  it('setNumThreads sizes OpenBLAS too: at one thread a large matrix product runs on one core', () => {
    const n0 = torch.getNumThreads();
    const b0 = torch.config().blasNumThreads;
    try {
      for (const n of [2, 1, 3]) {
        torch.setNumThreads(n);
        if (b0 !== null) expect(torch.config().blasNumThreads, `after setNumThreads(${n})`).to.equal(n);
      }
    } finally {
      torch.setNumThreads(n0);
    }
    // CPU time over wall time in a fresh process (no garbage for V8's GC threads to collect): ~2 on
    // two cores when OpenBLAS keeps its own thread per core (as libtorch's set_num_threads alone
    // leaves it), at most ~1 on one thread.
    const script = `
      const torch = require(${JSON.stringify(path.join(process.cwd(), 'dist-test', 'lib'))});
      torch.setNumThreads(2);
      torch.setNumThreads(1);
      const a = torch.rand([768, 768]), out = torch.empty([768, 768]);
      torch.mm(a, a, { out });
      const cpu0 = process.cpuUsage(), t0 = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) torch.mm(a, a, { out });
      const wall = Number(process.hrtime.bigint() - t0) / 1e3, cpu = process.cpuUsage(cpu0);
      console.log(JSON.stringify({ wall, ratio: (cpu.user + cpu.system) / wall }));`;
    const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as {
      wall: number;
      ratio: number;
    };
    expect(r.ratio, `CPU time / wall time of 20 products 768x768 at one thread (${r.wall.toFixed(0)} us)`).to.be.below(
      1.3,
    );
  });

  it("version is package.json's version (semver)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    expect(torch.version).to.equal(pkg.version);
    expect(torch.version).to.match(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });
});

describe('torch.viz.writeSvg', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tnapi-viz-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the SVG (creating the directory) and returns the absolute path', () => {
    const svg = torch.viz.lineChart([{ name: 'loss', values: [3, 2, 1.5] }]);
    const file = path.join(dir, 'a', 'b', 'loss.svg');
    const ret = torch.viz.writeSvg(file, svg);
    expect(ret).to.equal(path.resolve(file));
    expect(fs.readFileSync(file, 'utf8')).to.equal(svg);
    // overwrites
    torch.viz.writeSvg(file, '<svg/>');
    expect(fs.readFileSync(file, 'utf8')).to.equal('<svg/>');
  });

  it('a relative path resolves against the working directory', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const ret = torch.viz.writeSvg('rel.svg', '<svg/>');
      expect(ret).to.equal(path.join(process.cwd(), 'rel.svg'));
      expect(path.isAbsolute(ret)).to.equal(true);
      expect(fs.readFileSync(path.join(dir, 'rel.svg'), 'utf8')).to.equal('<svg/>');
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a non-string file or svg with a TypeError naming torch.viz.writeSvg, writing nothing', () => {
    const before = fs.readdirSync(dir).length;
    expectError(() => torch.viz.writeSvg(5 as never, '<svg/>'), TypeError, 'torch.viz.writeSvg');
    expectError(() => torch.viz.writeSvg(path.join(dir, 'x.svg'), null as never), TypeError, 'torch.viz.writeSvg');
    expect(fs.readdirSync(dir).length).to.equal(before);
  });
});
