// The schema-driven path (torch.ops.aten.*, the generated torch.* / Tensor methods / F.*) reaches
// every registered operator, and many of those only expect other kernels as callers. Each call
// here crashed the process (SIGSEGV, SIGFPE) before native/aten_guards.cc closed its class; each
// must now throw a JS error and leave the process usable. Plus the generic path's ownership rules:
// tensors held by an async call, and torch.tidy scopes.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError } from '../helpers';

/** torch.ops.aten, typed loosely: each operator and overload is called as returning a Tensor here. */
interface Op {
  (...args: unknown[]): torch.Tensor;
  readonly [overload: string]: Op;
}
const aten = torch.ops.aten as unknown as Record<string, Op>;
/** Whether this libtorch has `name` (or `name.overload`): 1.13 and 2.x register different internals. */
function has(name: string): boolean {
  const [op, overload] = name.split('.');
  if (!(op in aten)) return false;
  return overload === undefined || torch.ops.aten[op].overloads().includes(overload);
}
const i64 = (v: number[]) => torch.tensor(v, { dtype: 'int64' });

describe('generic operator calls: crash classes are refused with JS errors', () => {
  describe('fixed-size lists (int[N], bool[N]) must have N elements', () => {
    it('an empty padding (reflection_pad1d)', () => {
      expectError(
        () => aten.reflection_pad1d(torch.randn(1, 2, 5), []),
        RangeError,
        /padding.*2 integers.*got a list of 0/,
      );
      expectError(
        () => aten.reflection_pad1d_backward(torch.randn(1, 2, 5), torch.randn(1, 2, 5), []),
        RangeError,
        /padding/,
      );
      const out = torch.empty([0]);
      expectError(() => aten.reflection_pad1d.out(torch.randn(1, 2, 5), [], { out }), RangeError, /padding/);
    });

    it('a list of the wrong length (slow_conv3d_forward, _slow_conv2d_forward, fractional_max_pool3d_backward)', () => {
      const x = torch.randn(1, 1, 3, 3, 3);
      expectError(
        () => aten.slow_conv3d_forward(x, torch.randn(1, 1, 2, 2, 2), [2, 2], null, [], [0]),
        RangeError,
        /kernel_size.*3 integers/,
      );
      expectError(
        () => aten._slow_conv2d_forward(torch.randn(4), torch.randn(3, 4), [2], null, [], [2 ** 31, 2 ** 31, 4]),
        RangeError,
        /must be one integer or a list of 2/,
      );
      expectError(
        () => aten.fractional_max_pool3d_backward(x, x, [2, 2], [], i64([0])),
        RangeError,
        /kernel_size|output_size/,
      );
      if (has('to_sparse_bsc.out'))
        expectError(
          () => aten.to_sparse_bsc.out(torch.randn(2, 3), [], { out: torch.empty([0]) }),
          RangeError,
          /blocksize/,
        );
    });

    it('one element stands for all N (as PyTorch repeats a single int)', () => {
      const x = torch.randn(1, 2, 5);
      expect(aten.reflection_pad1d(x, [1]).shape).to.deep.equal([1, 2, 7]);
      expect(aten.max_pool2d(torch.randn(1, 1, 4, 4), [2]).shape).to.deep.equal([1, 1, 2, 2]);
      // `stride=[]` is the schema's own "default" marker
      expect(aten.max_pool2d(torch.randn(1, 1, 4, 4), [2, 2], []).shape).to.deep.equal([1, 1, 2, 2]);
    });
  });

  it('divisor arguments (groups, upscale_factor) must be positive: native_channel_shuffle(x, 0) was SIGFPE', () => {
    expectError(() => aten.native_channel_shuffle(torch.randn(1, 4, 2, 2), 0), RangeError, /'groups' must be positive/);
    expectError(() => aten.native_channel_shuffle(torch.randn(2, 2), -(2 ** 53)), RangeError, /groups/);
    const x = torch.randn(2, 4, 4, 4);
    expectError(() => aten._transform_bias_rescale_qkv(x, x, 0), RangeError, /'num_heads' must be positive/);
    expect(
      aten
        .native_channel_shuffle(torch.arange(4).reshape([1, 4, 1, 1]), 2)
        .flatten()
        .toArray(),
    ).to.deep.equal([0, 2, 1, 3]);
  });

  it('results outside their storage are refused: _reshape_alias, _efficientzerotensor', () => {
    expectError(() => aten._reshape_alias(torch.zeros(3), [2 ** 28], [4]), torch.TorchError, /outside its storage/);
    expectError(() => aten._reshape_alias(torch.zeros(3), [100], [1]), torch.TorchError, /outside its storage/);
    expectError(() => aten._efficientzerotensor([2, 3]), torch.TorchError, /zero tensor, which has no storage/);
    // in bounds: a view as any other
    expect(aten._reshape_alias(torch.arange(6), [2, 3], [3, 1]).toArray()).to.deep.equal([
      [0, 1, 2],
      [3, 4, 5],
    ]);
  });

  it('vmap wrappers are refused (_add_batch_dim, _remove_batch_dim)', () => {
    expectError(() => aten._remove_batch_dim(torch.randn(3), 100, -(2 ** 31), -2), torch.TorchError, /vmap internal/);
    expectError(() => aten._add_batch_dim(torch.randn(3), 0, 1), torch.TorchError, /vmap internal/);
  });

  it('internal helpers that trust their callers are refused, naming the public operator', () => {
    const cases: [string, () => unknown, RegExp][] = [
      ['_stack', () => aten._stack([]), /use torch.stack/],
      ['_symeig_helper', () => aten._symeig_helper(torch.tensor(1.5), false, true), /torch.linalg.eigh/],
      ['_compute_linear_combination', () => aten._compute_linear_combination(torch.tensor(1.5), i64([])), /matrix_exp/],
      [
        '_convert_indices_from_csr_to_coo',
        () => aten._convert_indices_from_csr_to_coo(i64([-5, 3]), i64([1])),
        /sparse/,
      ],
      ['align_to.ellipsis_idx', () => aten.align_to.ellipsis_idx(torch.randn(2), [], 2 ** 31), /align_to/],
      ['matrix_exp_backward', () => aten.matrix_exp_backward(torch.tensor(1), torch.randn(2, 3)), /autograd/],
      ['_histogramdd_bin_edges', () => aten._histogramdd_bin_edges(torch.randn(2, 3), []), /histogramdd/],
      ['_fft_c2r', () => aten._fft_c2r(torch.randn(3), [2 ** 40], 0, 2), /torch.fft/],
      [
        'embedding_dense_backward',
        () => aten.embedding_dense_backward(torch.randn(2, 3), i64([7, -9]), 4, 1, true),
        /autograd/,
      ],
      [
        '_thnn_differentiable_lstm_cell_backward',
        () => {
          const a = torch.randn(3, 3);
          return aten._thnn_differentiable_lstm_cell_backward(a, a, a, a, a, null, a, a);
        },
        /RNN cells/,
      ],
      ['unfold_backward', () => aten.unfold_backward(torch.randn(2, 4), [2, 2], -1, 2, 2), /autograd/],
      ['_sobol_engine_initialize_state_', () => aten._sobol_engine_initialize_state_(i64([1]), 0), /SobolEngine/],
      [
        'quantized::embedding_bag_4bit_prepack',
        () => torch.ops.quantized.embedding_bag_4bit_prepack(torch.randn(2)),
        /packed-weight/,
      ],
      ['choose_qparams_optimized', () => aten.choose_qparams_optimized(torch.randn(4, 4), -1, 2, 1, 2), /quantization/],
      [
        '_batch_norm_impl_index_backward',
        () => {
          const x = torch.randn(2, 4, 4, 4);
          return aten._batch_norm_impl_index_backward(
            0,
            x,
            x,
            null,
            null,
            null,
            null,
            null,
            false,
            1,
            [true, true, true],
            x,
          );
        },
        /autograd/,
      ],
    ];
    for (const [name, f, re] of cases) {
      if (!has(name)) continue; // libtorch versions differ (2.x has no _symeig_helper)
      const e = expectError(f, torch.TorchError, /refused from JS/);
      expect(e.message, name).to.match(re);
    }
  });

  it("int64's minimum as an int argument is refused: linalg_matrix_power(x, -2^63) looped forever", () => {
    const x = torch.randn(4, 4);
    expectError(() => aten.linalg_matrix_power(x, -(2n ** 63n)), RangeError, /'n' may not be int64's minimum/);
    expect(aten.linalg_matrix_power(torch.eye(2), -3).toArray()).to.deep.equal([
      [1, 0],
      [0, 1],
    ]);
    // random_'s `from` spans int64
    const r = torch.empty([3], { dtype: 'int64' });
    aten.random_.from(r, -(2n ** 63n), null);
  });

  it('polynomial degrees above 2^20 are refused: special_shifted_chebyshev_polynomial_t(-1, 2^62) never ended', () => {
    expectError(
      () => aten.special_shifted_chebyshev_polynomial_t(-1, torch.tensor([2 ** 62])),
      RangeError,
      /'n' \(the degree\) must be at most 2\^20/,
    );
    expectError(() => aten.special_hermite_polynomial_h(torch.ones(2), 2 ** 40), RangeError, /degree/);
    expectError(() => aten.special_hermite_polynomial_h(torch.ones(2), NaN), RangeError, /degree/);
    expect(aten.special_hermite_polynomial_h(torch.ones(2), 2).toArray()).to.deep.equal([2, 2]);
  });

  it('histograms of more than 2^31 cells are refused: histogramdd(x, 2^31) on 3-D points ran until killed', () => {
    const x = torch.tensor([
      [-0.75, 1.5, 1.5],
      [-3.25, 0, 0],
    ]);
    expectError(() => torch.histogramdd(x, 2 ** 31), RangeError, /'bins' asks for more than 2\^31 histogram cells/);
    expectError(() => torch.histogramdd(x, [2 ** 11, 2 ** 11, 2 ** 11]), RangeError, /more than 2\^31/);
    expectError(() => torch.histogram(x.reshape([-1]), 2 ** 32), RangeError, /more than 2\^31/);
    expectError(() => torch.histc(x, { bins: 0 }), RangeError, /'bins' must be positive, got 0/);
    // ordinary histograms are untouched
    expect(torch.histc(x, { bins: 5 }).shape).to.deep.equal([5]);
    expect(torch.histogramdd(x, [4, 4, 4])[0].shape).to.deep.equal([4, 4, 4]);
  });

  it('batch-norm kernels of an empty input (SIGFPE) are refused; torch.ops.aten.batch_norm handles it', () => {
    const e = torch.empty([2, 0]);
    expectError(() => aten.native_batch_norm(e, null, null, null, null, true, 0.1, 0), RangeError, /empty input/);
    expectError(() => aten.batch_norm_update_stats(torch.empty([0, 3]), null, null, 0.5), RangeError, /empty input/);
    expectError(
      () => aten.native_batch_norm_backward(e, e, null, null, null, null, null, false, 0, [true, true, true]),
      RangeError,
      /empty input/,
    );
    expect(aten.batch_norm(e, null, null, null, null, true, 0.1, 0, false).shape).to.deep.equal([2, 0]);
  });

  it('scale factors whose square overflows int64 are refused: pixel_shuffle(x, 2^40) was SIGFPE', () => {
    const x = torch.ones(1, 4, 2, 2);
    expectError(
      () => torch.nn.functional.pixelShuffle(x, 2 ** 40),
      RangeError,
      /'upscale_factor' must be at most 3037000499 \(its square must fit in int64\), got 1099511627776/,
    );
    expectError(() => torch.nn.functional.pixelUnshuffle(x, 2 ** 40), RangeError, /'downscale_factor' must be at most/);
    expectError(() => aten.pixel_shuffle(x, 3037000500), RangeError, /at most 3037000499/);
    // the largest factor allowed reaches the kernel, whose own check refuses it for these channels
    expectError(() => aten.pixel_shuffle(x, 3037000499), Error, /upscale_factor/);
    expect(torch.nn.functional.pixelShuffle(x, 2).shape).to.deep.equal([1, 1, 4, 4]);
    expect(torch.nn.functional.pixelUnshuffle(torch.ones(1, 1, 4, 4), 2).shape).to.deep.equal([1, 4, 2, 2]);
  });

  it('align_tensors of no tensors (was SIGSEGV) needs one', () => {
    expectError(() => torch.alignTensors([]), RangeError, /'tensors' must hold at least one tensor/);
    expect(torch.alignTensors([torch.ones(2)]).length).to.equal(1);
  });

  it('every operator whose first argument is a tensor list survives an empty list (a child process calls them all)', function () {
    this.timeout(60000);
    // Each overload whose other arguments all have defaults is called with [] for the list; a
    // kernel that reads element 0 unchecked would kill the child (align_tensors did).
    const code = `const torch = require(${JSON.stringify(path.join(process.cwd(), 'dist-test/lib'))});
      const { native } = require(${JSON.stringify(path.join(process.cwd(), 'dist-test/lib/native'))});
      let called = 0;
      for (const q of native.atenNames()) {
        for (const [id, s] of native.atenSchemas(q.replace(/\\..*/, ''))) {
          const m = s.match(/^[^(]+\\((.*)\\) ->/);
          if (!m) continue;
          const args = m[1].split(/, (?![^\\[]*\\])/).filter((a) => a && a !== '*');
          if (!args.length || !/^Tensor(\\(\\w!?\\))?\\??\\[\\] /.test(args[0])) continue;
          if (!args.slice(1).every((a) => a.includes('='))) continue;
          try { native.atenCall(id, 0, []); } catch {}
          called++;
        }
      }
      console.log(called);`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 55000 });
    expect(r.status, `child exited with ${r.status} (signal ${r.signal}):\n${r.stderr}`).to.equal(0);
    expect(Number(r.stdout.trim()), 'overloads called').to.be.above(40);
  });

  it('_local_scalar_dense of an empty tensor (was SIGSEGV) needs one element', () => {
    expectError(() => aten._local_scalar_dense(torch.empty([0])), RangeError, /one element, got 0/);
    expect(aten._local_scalar_dense(torch.tensor(2.5))).to.equal(2.5);
  });

  it("a kernel missing for a backend says so in a line, not the dispatcher's kernel registry", () => {
    const e = expectError(
      () => aten.q_scale(torch.randn(2)),
      torch.TorchError,
      /aten::q_scale has no kernel for CPU tensors of this layout \(it runs on: .*QuantizedCPU/,
    );
    expect(e.message).to.not.match(/This could be because|registered at/);
    expect(e.message.length).to.be.lessThan(2000);
  });

  it('the process is still usable after all of them', () => {
    expect(torch.ones(2).add(1).toArray()).to.deep.equal([2, 2]);
  });
});

describe('generic operator calls keep the async-in-flight rules', () => {
  it('a tensor pending in torch.runAsync is not modified by generated in-place ops or out=', async () => {
    const a = torch.randn(64, 64),
      b = torch.randn(64, 64);
    const before = a.clone();
    const p = torch.runAsync('matmul', a, b);
    const IN_USE = /in use by an async operation/;
    expectError(() => (a as unknown as { add_(x: number): unknown }).add_(1), Error, IN_USE);
    expectError(() => aten.add_.Tensor(a, b), Error, IN_USE);
    expectError(() => aten.mul.out(b, b, { out: a }), Error, IN_USE);
    expectError(() => aten.zero_(a), Error, IN_USE);
    // Tensor(a!)[]: each element of a written list gets the same check
    expectError(() => aten._foreach_add_.Scalar([b.clone(), a], 1), Error, IN_USE);
    const r = await p;
    expect(r.shape).to.deep.equal([64, 64]);
    expect(a.equal(before)).to.equal(true);
    // settled: allowed again
    aten.add_.Tensor(a, b);
    expect(a.equal(before)).to.equal(false);
  });
});

describe('generic operator results are owned by torch.tidy', () => {
  it('frees what generated ops and torch.ops return inside a scope', () => {
    const x = torch.randn(8, 8);
    const base = torch.memory().tensors;
    const kept = torch.tidy(() => {
      aten.topk(x, 2);
      aten.sort(x);
      aten.add.Tensor(x, x);
      aten._foreach_mul.Scalar([x, x], 2);
      (x as unknown as { addmm(a: torch.Tensor, b: torch.Tensor): torch.Tensor }).addmm(x, x);
      return aten.mul.Tensor(x, 2);
    });
    expect(torch.memory().tensors).to.equal(base + 1);
    kept.dispose();
    expect(torch.memory().tensors).to.equal(base);
    // refused calls allocate nothing that outlives the scope
    torch.tidy(() => {
      expect(() => aten._reshape_alias(x, [2 ** 28], [4])).to.throw();
      expect(() => aten.reflection_pad1d(x.unsqueeze(0), [])).to.throw();
    });
    expect(torch.memory().tensors).to.equal(base);
    x.dispose();
  });
});
