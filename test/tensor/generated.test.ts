// The generated surface (lib/aten.ts + lib/generated/): calling conventions, overload
// resolution, results, gradFn names, errors, and torch.ops. The numbers of every op are checked
// against PyTorch by the OpInfo replay (test/opinfo); this file checks what that replay cannot.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';

const F = torch.nn.functional;

describe('generated ops', () => {
  describe('one calling convention', () => {
    const x = torch.tensor([
      [1, 5, 3],
      [4, 2, 6],
    ]);
    it('dim/keepdim by position, in the options object, or mixed, give one result', () => {
      for (const [name, f] of [
        ['sum', (...a: unknown[]) => (x.sum as (...b: unknown[]) => torch.Tensor)(...a)],
        ['amax', (...a: unknown[]) => (x.amax as (...b: unknown[]) => torch.Tensor)(...a)],
        ['argmax', (...a: unknown[]) => (x.argmax as (...b: unknown[]) => torch.Tensor)(...a)],
        ['logsumexp', (...a: unknown[]) => (x.logsumexp as (...b: unknown[]) => torch.Tensor)(...a)],
      ] as const) {
        const ref = f(1, true).toArray();
        expect(f({ dim: 1, keepdim: true }).toArray(), name).to.deep.equal(ref);
        expect(f(1, { keepdim: true }).toArray(), name).to.deep.equal(ref);
      }
    });
    it('named results are arrays that also carry PyTorch field names', () => {
      const r = torch.topk(x, 2, { dim: -1 });
      const [v, i] = r;
      expect(r.values).to.equal(v);
      expect(r.indices).to.equal(i);
      expect(v.toArray()).to.deep.equal([
        [5, 3],
        [6, 4],
      ]);
      expect(i.toArray()).to.deep.equal([
        [1, 2],
        [2, 0],
      ]);
      const m = x.max(1);
      expect(m.values.toArray()).to.deep.equal([5, 6]);
      expect(m.indices.toArray()).to.deep.equal([1, 2]);
    });
    it('out= returns (and fills) the tensors given, named results included', () => {
      const out = torch.zeros(2, 3);
      expect(torch.add(x, x, { alpha: 2, out })).to.equal(out);
      expect(out.toArray()).to.deep.equal([
        [3, 15, 9],
        [12, 6, 18],
      ]);
      const values = torch.zeros(2, 1);
      const indices = torch.zeros([2, 1], { dtype: 'int64' });
      const r = torch.topk(x, 1, { values, indices });
      expect(r.values).to.equal(values);
      expect(r.indices).to.equal(indices);
      expect(values.toArray()).to.deep.equal([[5], [6]]);
    });
    it('in-place methods return the tensor they wrote', () => {
      const y = torch.zeros(2, 3);
      const idx = torch.tensor(
        [
          [0n, 1n, 0n],
          [1n, 0n, 1n],
        ],
        { dtype: 'int64' },
      );
      expect(y.scatterAdd_(1, idx, x)).to.equal(y);
      expect(y.toArray()).to.deep.equal([
        [4, 5, 0],
        [2, 10, 0],
      ]);
    });
    it('varargs sizes, a single int for int[N], plain arrays for lists', () => {
      expect(x.view(3, 2).shape).to.deep.equal([3, 2]);
      expect(x.permute(1, 0).shape).to.deep.equal([3, 2]);
      expect(x.flip(0).toArray()).to.deep.equal([
        [4, 2, 6],
        [1, 5, 3],
      ]);
      expect(F.avgPool1d(torch.ones(1, 1, 4), 2).shape).to.deep.equal([1, 1, 2]);
      expect(x.index([0, 1], [2, 0]).toArray()).to.deep.equal([3, 4]);
    });
    it('numbers go to add/sub/mul/div as wrapped numbers (int tensors stay int)', () => {
      const n = torch.tensor([1n, 2n], { dtype: 'int64' });
      expect((torch.ops.aten.add(n, 1) as torch.Tensor).dtype).to.equal('int64');
      expect((torch.ops.aten.mul(x, 2) as torch.Tensor).toArray()).to.deep.equal(x.mul(2).toArray());
    });
    it('overloads resolve as in Python: x.max(t) with a 0-dim int tensor is the elementwise max', () => {
      const a = torch.tensor([1n, 9n, 3n], { dtype: 'int64' });
      expect(torch.max(a, torch.tensor(5n, { dtype: 'int64' })).toArray()).to.deep.equal([5, 9, 5]);
      expect(a.max(0).values.item()).to.equal(9);
    });
  });

  describe('autograd', () => {
    // PyTorch 1.13's grad_fn names for the same calls
    const cases: [string, (x: torch.Tensor) => torch.Tensor, string][] = [
      ['topk', (x) => x.topk(2).values, 'TopkBackward0'],
      ['sort', (x) => x.sort().values, 'SortBackward0'],
      ['cumprod', (x) => x.cumprod(1), 'CumprodBackward0'],
      ['einsum', (x) => torch.einsum('ij->j', x), 'SumBackward1'],
      ['amax', (x) => x.amax(1), 'AmaxBackward0'],
      ['logsumexp', (x) => x.logsumexp(1), 'LogsumexpBackward0'],
      ['max(dim)', (x) => x.max(1).values, 'MaxBackward0'],
      ['sum()', (x) => x.sum(), 'SumBackward0'],
      ['sum(dim)', (x) => x.sum(1), 'SumBackward1'],
      ['std()', (x) => x.std(), 'StdBackward0'],
      ['torch.ops.aten.sub(x, 1)', (x) => torch.ops.aten.sub(x, 1) as torch.Tensor, 'SubBackward0'],
    ];
    for (const [name, f, want] of cases) {
      it(`${name} → ${want}`, () => {
        const x = torch.randn(3, 4, { requiresGrad: true });
        expect(f(x).gradFn).to.equal(want);
      });
    }
    it('gradients flow through generated ops (d/dx sum(topk) hits the top entries)', () => {
      const x = torch.tensor([[1, 5, 3]], { requiresGrad: true });
      x.topk(2).values.sum().backward();
      expect(x.grad?.toArray()).to.deep.equal([[0, 1, 1]]);
    });
  });

  describe('errors name the function, the argument, what was expected and what was got', () => {
    const x = torch.ones(2, 3);
    it('one overload: the argument', () => {
      expect(() => torch.topk(x, 'a' as unknown as number)).to.throw(
        TypeError,
        /^torch\.topk: argument 'k' \(position 2\) must be an integer, got a string \("a"\)$/,
      );
    });
    it('several overloads: each with its reason', () => {
      expect(() => (x.max as (...a: unknown[]) => unknown)('a')).to.throw(
        TypeError,
        /Tensor\.max: no overload matches/,
      );
    });
    it('a keyword no overload knows, with a did-you-mean', () => {
      expect(() => x.sum(1, { keep_dim: true } as never)).to.throw(
        TypeError,
        /Tensor\.sum: unknown option 'keep_dim', did you mean 'keepdim'\?/,
      );
    });
    it('a fractional number for an int is a RangeError', () => {
      expect(() => x.argmax(0.5)).to.throw(RangeError, /Tensor\.argmax: .*'dim'/);
    });
    it("libtorch's errors keep libtorch's message under the JS name", () => {
      expect(() => torch.topk(x, 7)).to.throw(torch.TorchError, /^torch\.topk: selected index k out of range/);
      expect(() => x.amax(5)).to.throw(RangeError, /^Tensor\.amax: Dimension out of range/);
    });
    it('an op with no kernel for this tensor says where it runs, not the dispatcher essay', () => {
      expect(() => x.intRepr()).to.throw(
        torch.TorchError,
        /aten::int_repr has no kernel for CPU tensors.*QuantizedCPU/,
      );
    });
    it('a disposed tensor is named', () => {
      const d = torch.ones(2);
      d.dispose();
      expect(() => torch.amax(d)).to.throw(Error, /disposed/);
      expect(() => d.amax()).to.throw(Error, /Tensor\.amax: this tensor is disposed/);
    });
  });

  describe('torch.ops', () => {
    it('reaches every operator by PyTorch name, resolved or by overload', () => {
      const a = torch.ones(2);
      expect((torch.ops.aten.add.Tensor(a, a, { alpha: 2 }) as torch.Tensor).toArray()).to.deep.equal([3, 3]);
      expect(torch.ops.aten.add.overloads()).to.include.members(['Tensor', 'Scalar']);
      expect(torch.ops.aten.add.Tensor.schema).to.match(/^aten::add\.Tensor\(Tensor self, Tensor other/);
      expect(torch.ops.names().length).to.be.greaterThan(1000);
      expect('topk' in torch.ops.aten).to.equal(true);
      expect('no_such_op' in torch.ops.aten).to.equal(false);
    });
    it('an unknown op or a library that does not load is a clear error', () => {
      expect(() => torch.ops.aten.no_such_op).to.throw(TypeError, /no operator aten::no_such_op/);
      expect(() => torch.ops.loadLibrary('/nonexistent/lib.so')).to.throw(
        Error,
        /torch\.ops\.loadLibrary: .*nonexistent/,
      );
    });
  });

  describe('the generated files', () => {
    it('every generated torch.* export is reachable (no name is lost to a clash between star exports)', () => {
      const src = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'lib', 'generated', 'torch.ts'), 'utf8');
      const names = [...src.matchAll(/^export const (\w+)/gm)].map((m) => m[1]);
      expect(names.length).to.be.greaterThan(400);
      const lib = torch as unknown as Record<string, unknown>;
      const lost = names.filter((n) => lib[n] === undefined && lib[n.replace(/_$/, '')] === undefined);
      expect(lost).to.deep.equal([]);
    });
    it('scripts/gen_ops.py reproduces lib/generated/ byte for byte (where python3-torch is installed)', function () {
      this.timeout(120000);
      const py = '/usr/bin/python3';
      const v = spawnSync(py, ['-c', 'import torch, torchgen, yaml; print(torch.__version__.split("+")[0])'], {
        encoding: 'utf8',
      });
      const root = path.join(__dirname, '..', '..', '..');
      const header = fs.readFileSync(path.join(root, 'lib', 'generated', 'torch.ts'), 'utf8').split('\n')[0];
      // the files are generated from one torch version's native_functions.yaml (named in their header)
      if (v.status !== 0 || !header.includes(`(torch ${v.stdout.trim()})`)) this.skip();
      const dir = path.join(root, 'lib', 'generated');
      const before = Object.fromEntries(
        fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]),
      );
      const r = spawnSync(py, [path.join(root, 'scripts', 'gen_ops.py'), '--check'], { encoding: 'utf8', cwd: root });
      expect(r.status, r.stderr).to.equal(0);
      const after = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
      expect(after).to.deep.equal(before);
    });
  });
});
