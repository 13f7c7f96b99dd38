// Recurrent layers against a float64 reference computed in the test (rnn_reference.ts), on whatever
// libtorch this build uses, plus which kernel ran (libtorch's op recorder): libtorch 2.x's oneDNN
// LSTM is wrong on some AVX-512 CPUs, and a fixture made by PyTorch 1.13 cannot see that.

import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError, prng } from '../helpers';
import { type Mode, maxAbsDiff, referenceRnn } from './rnn_reference';

const { nn } = torch;
const TOL = 1e-5;
type Rnn = torch.nn.LSTM | torch.nn.GRU | torch.nn.RNN;

interface Config {
  name: string;
  mode: Mode;
  options: Record<string, unknown> & { inputSize: number; hiddenSize: number };
  T: number;
  N: number;
  hx?: boolean;
}

// Hidden sizes from both groups that oneDNN 3.7's AVX-512 kernel got wrong (1-16, 33, 48) and right
// (17-32, 64) on the machine where the bug was found.
const CONFIGS: Config[] = [];
for (const mode of ['LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'] as Mode[]) {
  CONFIGS.push(
    { name: `${mode} H=6`, mode, options: { inputSize: 6, hiddenSize: 6 }, T: 5, N: 3 },
    { name: `${mode} H=20 2 layers`, mode, options: { inputSize: 10, hiddenSize: 20, numLayers: 2 }, T: 10, N: 4 },
    {
      name: `${mode} H=8 bidirectional`,
      mode,
      options: { inputSize: 5, hiddenSize: 8, bidirectional: true },
      T: 7,
      N: 4,
    },
    {
      name: `${mode} H=33 batchFirst, h0 given`,
      mode,
      options: { inputSize: 4, hiddenSize: 33, batchFirst: true },
      T: 3,
      N: 2,
      hx: true,
    },
    { name: `${mode} H=1 no bias`, mode, options: { inputSize: 3, hiddenSize: 1, bias: false }, T: 4, N: 5 },
  );
}
CONFIGS.push({
  name: 'LSTM H=16 projSize=5 2 layers bidirectional',
  mode: 'LSTM',
  options: { inputSize: 6, hiddenSize: 16, projSize: 5, numLayers: 2, bidirectional: true },
  T: 4,
  N: 3,
  hx: true,
});

function make(c: Config): Rnn {
  const o = { ...c.options };
  if (c.mode === 'LSTM') return new nn.LSTM(o);
  if (c.mode === 'GRU') return new nn.GRU(o);
  return new nn.RNN({ ...o, nonlinearity: c.mode === 'RNN_RELU' ? 'relu' : 'tanh' });
}

function states(m: Rnn, c: Config, rand: () => number): torch.Tensor[] {
  const D = m.bidirectional ? 2 : 1;
  const P = c.mode === 'LSTM' && (m as torch.nn.LSTM).projSize > 0 ? (m as torch.nn.LSTM).projSize : m.hiddenSize;
  const fill = (shape: number[]) =>
    torch.tensor(Array.from({ length: shape.reduce((a, b) => a * b) }, () => rand() * 2 - 1)).reshape(shape);
  const h = fill([D * m.numLayers, c.N, P]);
  return c.mode === 'LSTM' ? [h, fill([D * m.numLayers, c.N, m.hiddenSize])] : [h];
}

// Runs the module (time-major x; batchFirst handled here) and returns [output (T, N, ·), h, c?].
async function run(
  m: Rnn,
  x: torch.Tensor,
  hx: torch.Tensor[] | undefined,
  how: 'sync' | 'async',
): Promise<torch.Tensor[]> {
  const input = m.batchFirst ? x.transpose(0, 1) : x;
  const state = hx === undefined ? undefined : m instanceof nn.LSTM ? [hx[0], hx[1]] : hx[0];
  const call =
    how === 'sync'
      ? (m as unknown as { forward(a: unknown, b: unknown): unknown }).forward(input, state)
      : await (m as unknown as { forwardAsync(a: unknown, b: unknown): Promise<unknown> }).forwardAsync(input, state);
  const [out, hN] = call as [torch.Tensor, torch.Tensor | [torch.Tensor, torch.Tensor]];
  const o = m.batchFirst ? out.transpose(0, 1) : out;
  return Array.isArray(hN) ? [o, hN[0], hN[1]] : [o, hN];
}

function expectMatches(got: torch.Tensor[], want: ReturnType<typeof referenceRnn>, what: string): void {
  expect(maxAbsDiff(got[0], want.output), `${what}: output`).to.be.at.most(TOL);
  expect(maxAbsDiff(got[1], want.h), `${what}: hN`).to.be.at.most(TOL);
  if (want.c) expect(maxAbsDiff(got[2], want.c), `${what}: cN`).to.be.at.most(TOL);
}

describe('recurrent layers vs a float64 reference (every libtorch, every CPU)', () => {
  const check = torch.backends.rnn.selfCheck();
  after(() => torch.backends.rnn.setLstmKernel('auto'));

  it(`runs on libtorch ${torch.libtorchVersion}, CPU capability ${torch.backends.cpu.getCpuCapability()}`, () => {
    expect(torch.backends.cpu.getCpuCapability()).to.be.a('string').and.not.equal('unknown');
    expect(torch.backends.mkldnn.isAvailable()).to.be.a('boolean');
  });

  for (const kernel of ['auto', 'composed'] as const) {
    describe(`LSTM kernel '${kernel}'`, () => {
      before(() => torch.backends.rnn.setLstmKernel(kernel));
      for (const c of CONFIGS) {
        for (const how of ['sync', 'async'] as const) {
          for (const grad of [true, false]) {
            if (kernel === 'composed' && c.mode !== 'LSTM') continue;
            it(`${c.name}, ${how}, ${grad ? 'with' : 'without'} grad`, async () => {
              torch.manualSeed(7);
              const rand = prng(11);
              const m = make(c);
              const x = torch.randn(c.T, c.N, c.options.inputSize, { requiresGrad: grad });
              const hx = c.hx ? states(m, c, rand) : undefined;
              const want = referenceRnn(m, c.mode, x, hx?.[0], hx?.[1]);
              const got = grad ? await run(m, x, hx, how) : await torch.noGrad(() => run(m, x, hx, how));
              expectMatches(got, want, c.name);
              if (grad) expect(got[0].requiresGrad).to.equal(true);
            });
          }
        }
      }

      it('packed sequences: uneven lengths and one full batch (which libtorch may route to oneDNN)', () => {
        torch.manualSeed(3);
        const m = new nn.LSTM(6, 8, { numLayers: 2, bidirectional: true });
        for (const lengths of [
          [5, 3, 2],
          [4, 4, 4],
        ]) {
          const x = torch.randn(5, 3, 6);
          const packed = nn.utils.rnn.packPaddedSequence(x, lengths);
          const [out, [h, cN]] = m.forward(packed);
          const [padded] = nn.utils.rnn.padPackedSequence(out, { totalLength: 5 });
          lengths.forEach((len, n) => {
            const xn = x.narrow(0, 0, len).narrow(1, n, 1);
            const want = referenceRnn(m, 'LSTM', xn);
            expect(maxAbsDiff(padded.narrow(0, 0, len).narrow(1, n, 1), want.output), `row ${n} output`).to.be.at.most(
              TOL,
            );
            expect(maxAbsDiff(h.narrow(1, n, 1), want.h), `row ${n} hN`).to.be.at.most(TOL);
            expect(maxAbsDiff(cN.narrow(1, n, 1), want.c!), `row ${n} cN`).to.be.at.most(TOL);
          });
        }
      });

      it('gradients equal a float64 copy of the module (libtorch native kernel in float64)', () => {
        torch.manualSeed(5);
        const m = new nn.LSTM(6, 6, { numLayers: 2, bidirectional: true });
        const m64 = new nn.LSTM(6, 6, { numLayers: 2, bidirectional: true, dtype: torch.float64 });
        m64.loadStateDict(Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, v.to(torch.float64)])));
        const x = torch.randn(5, 3, 6, { requiresGrad: true });
        const x64 = x.detach().to(torch.float64).requiresGrad_();
        const w = torch.randn(5, 3, 12);
        const [o] = m.forward(x);
        const [o64] = m64.forward(x64);
        o.mul(w).sum().backward();
        o64.mul(w.to(torch.float64)).sum().backward();
        expect(maxAbsDiff(x.grad!, Float64Array.from(x64.grad!.data() as Float64Array)), 'input grad').to.be.at.most(
          TOL,
        );
        const p64 = new Map(m64.namedParameters());
        for (const [name, p] of m.namedParameters()) {
          expect(
            maxAbsDiff(p.grad!, Float64Array.from(p64.get(name)!.grad!.data() as Float64Array)),
            `${name}.grad`,
          ).to.be.at.most(TOL);
        }
      });
    });
  }

  describe('which kernel ran (libtorch op names)', () => {
    beforeEach(() => torch.backends.rnn.setLstmKernel('auto'));
    afterEach(() => torch.backends.rnn.setLstmKernel('auto'));
    // A forward that records a graph: with the fast path on, the fused training kernel
    // (native/fast_rnn_train.cc) would take it, so the reference path's kernel is chosen with it off.
    const lstm = (fastPath = false): string[] => {
      torch.manualSeed(1);
      const m = new nn.LSTM(6, 6);
      const x = torch.randn(5, 3, 6);
      const was = torch.backends.fastPath();
      torch.backends.fastPath(fastPath);
      try {
        return torch.profiler.recordOps(() => m.forward(x)).ops;
      } finally {
        torch.backends.fastPath(was);
      }
    };

    it("'auto' never runs oneDNN's LSTM unless the self-check found it right on this CPU", () => {
      const ops = lstm();
      const kernel = torch.backends.rnn.lstmKernel();
      if (ops.includes('aten::mkldnn_rnn_layer')) {
        expect(check.ok, 'oneDNN ran although the self-check failed').to.equal(true);
        expect(kernel).to.equal('libtorch');
      }
      if (check.oneDnnPossible && !check.ok) {
        expect(kernel).to.equal('composed');
        expect(ops).to.not.include('aten::mkldnn_rnn_layer');
      }
      if (!check.oneDnnPossible) expect(kernel).to.equal('libtorch');
    });

    it("'composed' runs no aten::lstm and no oneDNN; 'libtorch' runs aten::lstm", () => {
      torch.backends.rnn.setLstmKernel('composed');
      const composed = lstm();
      expect(composed).to.not.include('aten::lstm');
      expect(composed).to.not.include('aten::mkldnn_rnn_layer');
      expect(composed).to.include('aten::linear');
      torch.backends.rnn.setLstmKernel('libtorch', { force: true });
      expect(lstm()).to.include('aten::lstm');
    });

    it('the fused training kernel (fast path on) runs neither aten::lstm nor oneDNN, whatever the setting', () => {
      for (const k of ['composed', 'libtorch'] as const) {
        torch.backends.rnn.setLstmKernel(k, { force: true });
        const ops = lstm(true);
        expect(ops, k).to.not.include('aten::lstm');
        expect(ops, k).to.not.include('aten::mkldnn_rnn_layer');
      }
    });

    it('GRU and RNN never reach oneDNN (libtorch has no oneDNN kernel for them)', () => {
      const x = torch.randn(5, 3, 6);
      for (const m of [new nn.GRU(6, 6), new nn.RNN(6, 6)]) {
        const { ops } = torch.profiler.recordOps(() => m.forward(x));
        expect(
          ops.some((o) => /^aten::(gru|rnn_tanh)$/.test(o)),
          ops.slice(0, 5).join(','),
        ).to.equal(true);
        expect(ops).to.not.include('aten::mkldnn_rnn_layer');
      }
    });
  });

  describe('the self-check', () => {
    it('the composed LSTM agrees with float64 on every case; the verdict is consistent', () => {
      expect(check.cases).to.be.at.least(9);
      expect(check.composedMaxAbsDiff).to.be.at.most(TOL);
      expect(check.tolerance).to.equal(TOL);
      expect(check.ok).to.equal(check.libtorchMaxAbsDiff <= TOL && check.composedMaxAbsDiff <= TOL);
      expect(check.libtorchVersion).to.equal(torch.libtorchVersion);
      if (check.oneDnnRan) expect(check.oneDnnPossible).to.equal(true);
      // libtorch 1.13 has no oneDNN LSTM: its own kernel must be right everywhere.
      if (torch.libtorchVersion.startsWith('1.')) {
        expect(check.oneDnnPossible).to.equal(false);
        expect(check.libtorchMaxAbsDiff).to.be.at.most(TOL);
      }
    });

    it("warns once, at the first LSTM, exactly when libtorch's kernel is wrong here (fresh process)", () => {
      const script = `
        const torch = require(${JSON.stringify(path.join(process.cwd(), 'dist-test', 'lib'))});
        const warnings = [];
        process.on('warning', (w) => warnings.push(w.code));
        const m = new torch.nn.LSTM(6, 6);
        m.forward(torch.randn(5, 3, 6)); m.forward(torch.randn(5, 3, 6));
        setImmediate(() => console.log(JSON.stringify({ warnings, kernel: torch.backends.rnn.lstmKernel(),
          check: torch.backends.rnn.selfCheck() })));`;
      const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
      const broken = out.check.oneDnnPossible && !out.check.ok;
      expect(out.warnings.filter((w: string) => w === 'TORCH_NAPI_ONEDNN_LSTM')).to.have.length(broken ? 1 : 0);
      expect(out.kernel).to.equal(
        out.check.oneDnnPossible && out.check.ok ? 'libtorch' : out.check.oneDnnPossible ? 'composed' : 'libtorch',
      );
    });

    it("refuses 'libtorch' where the check failed, unless forced; checks its arguments", () => {
      const c = torch.backends.rnn.selfCheck();
      if (c.oneDnnPossible && !c.ok) {
        expectError(
          () => torch.backends.rnn.setLstmKernel('libtorch'),
          Error,
          /wrong results on this CPU.*force: true/,
        );
        expect(torch.backends.rnn.lstmKernel()).to.not.equal('libtorch');
      } else {
        torch.backends.rnn.setLstmKernel('libtorch');
        expect(torch.backends.rnn.lstmKernel()).to.equal('libtorch');
      }
      torch.backends.rnn.setLstmKernel('auto');
      expectError(
        () => torch.backends.rnn.setLstmKernel('onednn' as never),
        TypeError,
        /expected 'auto', 'libtorch' or 'composed', got 'onednn'/,
      );
      expectError(
        () => torch.backends.rnn.setLstmKernel('composed', { forse: true } as never),
        TypeError,
        /unknown option 'forse'/,
      );
      expectError(() => torch.profiler.recordOps(42 as never), TypeError, /expected a function, got number/);
    });

    it('TORCH_NAPI_LSTM_KERNEL chooses the kernel at load, and an unknown value fails the import', () => {
      const lib = JSON.stringify(path.join(process.cwd(), 'dist-test', 'lib'));
      const kernel = (v: string) =>
        execFileSync(process.execPath, ['-e', `console.log(require(${lib}).backends.rnn.lstmKernel())`], {
          encoding: 'utf8',
          env: { ...process.env, TORCH_NAPI_LSTM_KERNEL: v },
          stdio: ['ignore', 'pipe', 'pipe'],
        }).trim();
      expect(kernel('composed')).to.equal('composed');
      expect(kernel('libtorch')).to.equal('libtorch');
      expect(() => kernel('fast')).to.throw(
        /TORCH_NAPI_LSTM_KERNEL: expected 'auto', 'libtorch' or 'composed', got 'fast'/,
      );
    });
  });
});
