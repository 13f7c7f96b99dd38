// The benchmarks `npm run bench` runs. To add one, add an entry to CASES, and the snippets it
// names to bench/torch_bench.py (SNIPPETS), bench/raw_bench.cc (snippets()) and, for a model,
// bench/ort_bench.js (SNIPPETS; its model in bench/onnx_export.py).
//
// A CASES entry:
//   name      unique id; `node bench/run.js --only <name>[,<name>...]` runs just these
//   label     the row's text in the table
//   kind      'op'   — many cheap calls: reported in µs per call
//             'copy' — bulk copies: reported per call and in GB/s (needs `bytes`)
//             'step' — a larger unit of work (a layer, a training step): reported in ms per call
//   bytes     bytes moved per call ('copy' only; GB/s = bytes / time, 1 GB = 1e9 bytes)
//   iters     calls per timed run: { full, quick }
//   node      (torch) => { run(iters), check?(), teardown?() }: builds the inputs once; run makes
//             `iters` calls; check (called once, before the warm-up) returns output checksums on
//             the case's fixed input, which run.js compares with the PyTorch and C++ snippets' own
//             checks (a warning line when they differ by more than 1e-4, relative)
//   python    snippet name(s) in bench/torch_bench.py (an array: the fastest one is reported), or null
//   cpp       snippet name in bench/raw_bench.cc, or null
//   onnx      snippet name in bench/ort_bench.js (the onnxruntime-node column), or absent; the
//             rows with one are the inference models, which `--fast-path both` also runs with
//             torch.backends.fastPath(false)
//   note      optional footnote for the table
//   targets   optional spec targets, checked on the medians and listed under the tables as
//             PASS/FAIL (never in the tests), at every thread count run:
//               { vs: 'python' | 'cpp' | 'onnx', max, text }: torch-napi / other ≤ max
//               { vs: 'abs', maxUs, text }: torch-napi's time per call ≤ maxUs µs
//               { vs: '1 thread', max, text }: at more threads, time / the 1-thread time < max
//                 (checked when `--threads` lists 1 and more)
//
// The model cases (LSTM, MultiheadAttention, the seed model, its training step) take their
// weights and inputs from closed formulas (`fixed`, `fillParams` below), written the same way in
// bench/torch_bench.py and bench/raw_bench.cc, so the three compute the same numbers; each timed
// iteration's temporaries are freed by a torch.tidy, as an application would.
//
// Every Node case must free what it makes the way it says (dispose, tidy, or the GC), so that
// the runs measure the same thing each time.

const N_BIG = 1_000_000;

/** `a.add(b)` on n-element float32 tensors, freeing each result with `free`. */
function addCase(n, free) {
  return (torch) => {
    const a = torch.ones(n);
    const b = torch.randn(n);
    let run;
    if (free === 'dispose') {
      run = (iters) => {
        for (let i = 0; i < iters; i++) a.add(b).dispose();
      };
    } else if (free === 'tidy') {
      run = (iters) => {
        for (let i = 0; i < iters; i += 1000) {
          const m = Math.min(1000, iters - i);
          torch.tidy(() => {
            for (let j = 0; j < m; j++) a.add(b);
          });
        }
      };
    } else {
      // GC only: results are dropped; the garbage collector frees them.
      run = (iters) => {
        let c;
        for (let i = 0; i < iters; i++) c = a.add(b);
        return c;
      };
    }
    return {
      run,
      teardown: () => {
        a.dispose();
        b.dispose();
      },
    };
  };
}

/**
 * One call per iteration on n-element float32 tensors (`call(torch, a, b)`), each result disposed:
 * the hand-written method and the generated path (the schema-driven dispatcher call every op
 * without a hand-written binding takes) of the same op, side by side.
 */
function callCase(n, call, shapeOf = (k) => [k]) {
  return (torch) => {
    const a = torch.ones(...shapeOf(n));
    const b = torch.randn(...shapeOf(n));
    return {
      run: (iters) => {
        for (let i = 0; i < iters; i++) call(torch, a, b).dispose();
      },
      teardown: () => {
        a.dispose();
        b.dispose();
      },
    };
  };
}
const matShape = (n) => [Math.round(Math.sqrt(n)), Math.round(Math.sqrt(n))];

const OP_ITERS = { full: 100_000, quick: 20_000 };
const ADD_VS_PY = { vs: 'python', max: 1.0, text: '`a.add(b)` ≤ 1.0× PyTorch, disposed or in tidy' };
const ADD_GC_VS_PY = { vs: 'python', max: 1.5, text: '`a.add(b)` ≤ 1.5× PyTorch, left to the GC' };
const COPY_ITERS = { full: 200, quick: 40 };

// ---- models -------------------------------------------------------------------------------
// The same formulas as torch_bench.py and raw_bench.cc (fixed, fill_params / fillParams, ...).

/** sin(0.1 * i + k) over the flattened index i, float32, of shape `shape`. */
function fixed(torch, shape, k) {
  const n = shape.reduce((a, b) => a * b, 1);
  return torch.tidy(() => torch.arange(n, { dtype: 'float32' }).mul(0.1).add(k).sin().view(shape));
}

/** Parameter j in sorted-name order := sin(0.37 * i + 1.3 * j) * scale (1/√(last dim) for matrices, 0.1 for vectors). */
function fillParams(torch, module) {
  const named = new Map(module.namedParameters());
  const names = [...named.keys()].sort();
  torch.noGrad(() =>
    torch.tidy(() => {
      names.forEach((name, j) => {
        const p = named.get(name);
        const scale = p.dim() >= 2 ? 1 / Math.sqrt(p.shape[p.dim() - 1]) : 0.1;
        p.copy_(
          torch
            .arange(p.numel(), { dtype: 'float32' })
            .mul(0.37)
            .add(1.3 * j)
            .sin()
            .mul(scale)
            .view(p.shape),
        );
      });
    }),
  );
  return module;
}

/** Sequence b of N has length S - b % 3. */
const lengthsOf = (N, S) => Array.from({ length: N }, (_, b) => S - (b % 3));

/** [sum, Σ x_i·(i % 13 − 6)] of each tensor, in double precision. */
/** [sum, Σ x_i·(i % 13 − 6)] of each array, in double precision (bench/ort_bench.js uses it too). */
function checksumArrays(...arrays) {
  const out = [];
  for (const a of arrays) {
    let s = 0,
      w = 0;
    for (let i = 0; i < a.length; i++) {
      s += a[i];
      w += a[i] * ((i % 13) - 6);
    }
    out.push(s, w);
  }
  return out;
}

function checksum(...tensors) {
  return checksumArrays(...tensors.map((t) => t.data()));
}

/**
 * The corrected seed model of examples/seed_model.ts, line for line (the example compiles against
 * lib/ itself; the benchmark uses the built package, dist/): an LSTM encoder 10→20 and decoder
 * 20→20 (2 layers each), a MultiheadAttention(20, 4) cross-attention with a causal attnMask and a
 * keyPaddingMask, and a Linear(20, 10) head; sequence-first (L, N, 10).
 */
function seedModelClass(torch) {
  const { nn } = torch;
  return class SeedModel extends nn.Module {
    constructor() {
      super();
      this.encoder = new nn.LSTM(10, 20, { numLayers: 2 });
      this.decoder = new nn.LSTM(20, 20, { numLayers: 2 });
      this.cross = new nn.MultiheadAttention(20, 4);
      this.head = new nn.Linear(20, 10);
    }

    forward(x, srcPadding) {
      const [out, w] = this.forwardWithWeights(x, srcPadding, false);
      if (w) w.dispose();
      return out;
    }

    forwardWithWeights(x, srcPadding, needWeights = true) {
      return torch.tidy(() => {
        const [memory] = this.encoder.forward(x);
        const [dec] = this.decoder.forward(memory);
        const L = dec.shape[0],
          S = memory.shape[0];
        const [ctx, weights] = this.cross.forward(dec, memory, memory, {
          attnMask: nn.masks.causal(L, S),
          keyPaddingMask: srcPadding ?? null,
          needWeights,
          averageAttnWeights: false,
        });
        return [this.head.forward(ctx), weights];
      });
    }
  };
}

/** Disposes every parameter (and gradient) of a module. */
function disposeModule(m) {
  for (const p of m.parameters()) {
    if (p.grad) p.grad.dispose();
    p.dispose();
  }
}

/** nn.LSTM(10, 20, 2 layers), eval, no grad: output for x (L, N, 10). */
function lstmCase(L, N) {
  return (torch) => {
    const lstm = fillParams(torch, new torch.nn.LSTM(10, 20, { numLayers: 2 })).eval();
    const x = fixed(torch, [L, N, 10], 0.5);
    return {
      run: (iters) =>
        torch.noGrad(() => {
          for (let i = 0; i < iters; i++)
            torch.tidy(() => {
              lstm.forward(x);
            });
        }),
      check: () => torch.noGrad(() => torch.tidy(() => checksum(lstm.forward(x)[0]))),
      teardown: () => {
        x.dispose();
        disposeModule(lstm);
      },
    };
  };
}

/**
 * nn.MultiheadAttention(E, H), eval, no grad: cross-attention (key is value, query is not) with a
 * causal bool attnMask and a bool keyPaddingMask, as in the seed model; weights averaged over heads
 * (the default) when needWeights.
 */
function mhaCase(L, N, E, H, needWeights) {
  return (torch) => {
    const { nn } = torch;
    const mha = fillParams(torch, new nn.MultiheadAttention(E, H)).eval();
    const q = fixed(torch, [L, N, E], 0.5),
      kv = fixed(torch, [L, N, E], 1.5);
    const attnMask = nn.masks.causal(L, L),
      keyPaddingMask = nn.masks.keyPadding(lengthsOf(N, L), L);
    const opts = { attnMask, keyPaddingMask, needWeights };
    return {
      run: (iters) =>
        torch.noGrad(() => {
          for (let i = 0; i < iters; i++)
            torch.tidy(() => {
              mha.forward(q, kv, kv, opts);
            });
        }),
      check: () =>
        torch.noGrad(() =>
          torch.tidy(() => {
            const [out, w] = mha.forward(q, kv, kv, opts);
            return needWeights ? checksum(out, w) : checksum(out);
          }),
        ),
      teardown: () => {
        torch.dispose([q, kv, attnMask, keyPaddingMask]);
        disposeModule(mha);
      },
    };
  };
}

/** The seed model's forward, eval, no grad, x (L, N, 10) with a key padding mask. */
function seedCase(L, N) {
  return (torch) => {
    const SeedModel = seedModelClass(torch);
    const model = fillParams(torch, new SeedModel()).eval();
    const x = fixed(torch, [L, N, 10], 0.5);
    const pad = torch.nn.masks.keyPadding(lengthsOf(N, L), L);
    return {
      run: (iters) =>
        torch.noGrad(() => {
          for (let i = 0; i < iters; i++)
            torch.tidy(() => {
              model.forward(x, pad);
            });
        }),
      check: () => torch.noGrad(() => torch.tidy(() => checksum(model.forward(x, pad)))),
      teardown: () => {
        torch.dispose([x, pad]);
        disposeModule(model);
      },
    };
  };
}

/**
 * One training step of the seed model: optimizer.zeroGrad() (grads to null, PyTorch 2's default),
 * forward, masked MSE over the valid steps (examples/train.ts's maskedMse), backward, Adam.
 */
function seedTrainCase(L, N) {
  return (torch) => {
    const SeedModel = seedModelClass(torch);
    const model = fillParams(torch, new SeedModel()).train();
    const opt = new torch.optim.Adam(model.parameters(), { lr: 1e-3 });
    const x = fixed(torch, [L, N, 10], 0.5);
    const lengths = lengthsOf(N, L);
    const pad = torch.nn.masks.keyPadding(lengths, L);
    const [w, y] = torch.tidy(() => {
      const valid = torch
        .arange(L)
        .unsqueeze(1)
        .lt(torch.tensor(lengths.map((l) => l - 1)).unsqueeze(0)); // (L, N)
      const wt = valid.unsqueeze(2).to('float32');
      return [wt, fixed(torch, [L, N, 10], 2.5).mul(wt)];
    });
    const step = () => {
      opt.zeroGrad();
      const pred = model.forward(x, pad);
      const loss = pred.sub(y).square().mul(w).sum().div(w.sum().mul(10));
      loss.backward();
      opt.step();
      return loss;
    };
    return {
      run: (iters) => {
        for (let i = 0; i < iters; i++)
          torch.tidy(() => {
            step();
          });
      },
      check: () => {
        const losses = [0, 1, 2].map(() => torch.tidy(() => step().item()));
        const params = [...model.namedParameters()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        return losses.concat(torch.tidy(() => checksum(torch.cat(params.map(([, p]) => p.detach().reshape(-1))))));
      },
      teardown: () => {
        torch.dispose([x, pad, w, y]);
        for (const st of opt.state.values()) torch.dispose(st);
        opt.zeroGrad();
        disposeModule(model);
      },
    };
  };
}

// Per-call costs on this 2-core machine (PyTorch, 1 thread): LSTM 0.25 ms (L10 N1) … 27 ms
// (L128 N64); attention E=256 0.15–0.4 s; the seed forward 0.7 ms (N1) … 70 ms (L128 N64); the
// training step ~7 ms. `iters` keep a timed run near 100 ms (25 ms with --quick); the N = 1 rows
// run more calls (1000: 0.25–0.7 s in PyTorch), so that torch-napi's and onnxruntime's ~50 µs calls
// are timed over runs of tens of milliseconds, not a few.
const VS_CPP = (what) => ({ vs: 'cpp', max: 1.0, text: `${what} forward ≤ 1.0× raw C++ at N ≥ 32` });
const VS_ORT = (what, max = 1.0, where = 'at every size') => ({
  vs: 'onnx',
  max,
  text: `${what} forward ≤ ${max.toFixed(1)}× onnxruntime ${where}`,
});
const MODEL_CASES = [
  {
    name: 'lstm_L10_N1',
    label: 'LSTM 10→20 ×2, L=10, N=1 (eval, no grad)',
    kind: 'step',
    iters: { full: 1000, quick: 100 },
    node: lstmCase(10, 1),
    python: 'lstm_L10_N1',
    cpp: 'lstm_L10_N1',
    onnx: 'lstm_L10_N1',
    targets: [{ vs: 'python', max: 0.9, text: 'LSTM forward ≤ 0.9× PyTorch at N = 1' }, VS_ORT('LSTM')],
  },
  {
    name: 'lstm_L10_N32',
    label: 'LSTM 10→20 ×2, L=10, N=32 (eval, no grad)',
    kind: 'step',
    iters: { full: 200, quick: 50 },
    node: lstmCase(10, 32),
    python: 'lstm_L10_N32',
    cpp: 'lstm_L10_N32',
    onnx: 'lstm_L10_N32',
    targets: [VS_CPP('LSTM'), VS_ORT('LSTM')],
  },
  {
    name: 'lstm_L10_N256',
    label: 'LSTM 10→20 ×2, L=10, N=256 (eval, no grad)',
    kind: 'step',
    iters: { full: 25, quick: 6 },
    node: lstmCase(10, 256),
    python: 'lstm_L10_N256',
    cpp: 'lstm_L10_N256',
    onnx: 'lstm_L10_N256',
    targets: [VS_CPP('LSTM'), VS_ORT('LSTM')],
  },
  {
    name: 'lstm_L128_N64',
    label: 'LSTM 10→20 ×2, L=128, N=64 (eval, no grad)',
    kind: 'step',
    iters: { full: 4, quick: 1 },
    node: lstmCase(128, 64),
    python: 'lstm_L128_N64',
    cpp: 'lstm_L128_N64',
    onnx: 'lstm_L128_N64',
    targets: [VS_CPP('LSTM'), VS_ORT('LSTM')],
  },
  {
    name: 'mha_E256_L128_N64_w',
    label: 'MHA E=256 H=8, L=S=128, N=64, needWeights (eval, no grad)',
    kind: 'step',
    iters: { full: 1, quick: 1 },
    node: mhaCase(128, 64, 256, 8, true),
    python: 'mha_E256_L128_N64_w',
    cpp: 'mha_E256_L128_N64_w',
    onnx: 'mha_E256_L128_N64_w',
    targets: [VS_CPP('MHA'), VS_ORT('MHA')],
  },
  {
    name: 'mha_E256_L128_N64_now',
    label: 'MHA E=256 H=8, L=S=128, N=64, no weights (eval, no grad)',
    kind: 'step',
    iters: { full: 1, quick: 1 },
    node: mhaCase(128, 64, 256, 8, false),
    python: 'mha_E256_L128_N64_now',
    cpp: 'mha_E256_L128_N64_now',
    onnx: 'mha_E256_L128_N64_now',
    targets: [VS_CPP('MHA'), VS_ORT('MHA')],
  },
  {
    name: 'mha_E20_L10_N32_w',
    label: 'MHA E=20 H=4, L=S=10, N=32, needWeights (eval, no grad)',
    kind: 'step',
    iters: { full: 150, quick: 40 },
    node: mhaCase(10, 32, 20, 4, true),
    python: 'mha_E20_L10_N32_w',
    cpp: 'mha_E20_L10_N32_w',
    onnx: 'mha_E20_L10_N32_w',
    targets: [VS_CPP('MHA'), VS_ORT('MHA')],
  },
  {
    name: 'mha_E20_L10_N32_now',
    label: 'MHA E=20 H=4, L=S=10, N=32, no weights (eval, no grad)',
    kind: 'step',
    iters: { full: 150, quick: 40 },
    node: mhaCase(10, 32, 20, 4, false),
    python: 'mha_E20_L10_N32_now',
    cpp: 'mha_E20_L10_N32_now',
    onnx: 'mha_E20_L10_N32_now',
    targets: [VS_CPP('MHA'), VS_ORT('MHA')],
  },
  {
    name: 'seed_L10_N1',
    label: 'seed model forward, L=10, N=1 (eval, no grad)',
    kind: 'step',
    iters: { full: 1000, quick: 100 },
    node: seedCase(10, 1),
    python: 'seed_L10_N1',
    cpp: 'seed_L10_N1',
    onnx: 'seed_L10_N1',
    targets: [{ vs: 'abs', maxUs: 40, text: 'seed forward ≤ 40 µs at N = 1' }, VS_ORT('seed model', 0.5, 'at N = 1')],
  },
  {
    name: 'seed_L10_N32',
    label: 'seed model forward, L=10, N=32 (eval, no grad)',
    kind: 'step',
    iters: { full: 60, quick: 15 },
    node: seedCase(10, 32),
    python: 'seed_L10_N32',
    cpp: 'seed_L10_N32',
    onnx: 'seed_L10_N32',
    targets: [VS_CPP('seed model'), VS_ORT('seed model', 0.8, 'at N = 32')],
  },
  {
    name: 'seed_L10_N256',
    label: 'seed model forward, L=10, N=256 (eval, no grad)',
    kind: 'step',
    iters: { full: 8, quick: 2 },
    node: seedCase(10, 256),
    python: 'seed_L10_N256',
    cpp: 'seed_L10_N256',
    onnx: 'seed_L10_N256',
    targets: [
      VS_CPP('seed model'),
      VS_ORT('seed model', 1.0, 'at N = 256'),
      { vs: '1 thread', max: 1.0, text: 'seed forward at N = 256 faster with more threads than with 1' },
    ],
  },
  {
    name: 'seed_L128_N64',
    label: 'seed model forward, L=128, N=64 (eval, no grad)',
    kind: 'step',
    iters: { full: 2, quick: 1 },
    node: seedCase(128, 64),
    python: 'seed_L128_N64',
    cpp: 'seed_L128_N64',
    onnx: 'seed_L128_N64',
    targets: [VS_CPP('seed model'), VS_ORT('seed model', 1.0, 'at L = 128, N = 64')],
  },
  {
    name: 'seed_train_L10_N32',
    label: 'seed model training step, L=10, N=32 (fwd + masked MSE + bwd + Adam)',
    kind: 'step',
    iters: { full: 15, quick: 4 },
    node: seedTrainCase(10, 32),
    python: 'seed_train_L10_N32',
    cpp: 'seed_train_L10_N32',
    targets: [{ vs: 'python', max: 0.9, text: 'training step ≤ 0.9× PyTorch' }],
  },
];

const CASES = [
  {
    name: 'add_1_dispose',
    label: 'a.add(b), 1 elem, c.dispose()',
    kind: 'op',
    iters: OP_ITERS,
    node: addCase(1, 'dispose'),
    python: 'add_1',
    cpp: 'add_1',
    targets: [ADD_VS_PY],
  },
  {
    name: 'add_1_tidy',
    label: 'a.add(b), 1 elem, tidy per 1000',
    kind: 'op',
    iters: OP_ITERS,
    node: addCase(1, 'tidy'),
    python: 'add_1',
    cpp: 'add_1',
    targets: [ADD_VS_PY],
  },
  {
    name: 'add_1_gc',
    label: 'a.add(b), 1 elem, GC only',
    kind: 'op',
    iters: OP_ITERS,
    node: addCase(1, 'gc'),
    python: 'add_1',
    cpp: 'add_1',
    targets: [ADD_GC_VS_PY],
    gcOnly: true,
  },
  {
    name: 'add_1000_dispose',
    label: 'a.add(b), 1000 elem, c.dispose()',
    kind: 'op',
    iters: OP_ITERS,
    node: addCase(1000, 'dispose'),
    python: 'add_1000',
    cpp: 'add_1000',
    targets: [ADD_VS_PY],
  },
  {
    name: 'add_1000_tidy',
    label: 'a.add(b), 1000 elem, tidy per 1000',
    kind: 'op',
    iters: OP_ITERS,
    node: addCase(1000, 'tidy'),
    python: 'add_1000',
    cpp: 'add_1000',
    targets: [ADD_VS_PY],
  },
  {
    name: 'add_1000_gc',
    label: 'a.add(b), 1000 elem, GC only',
    kind: 'op',
    iters: OP_ITERS,
    node: addCase(1000, 'gc'),
    python: 'add_1000',
    cpp: 'add_1000',
    targets: [ADD_GC_VS_PY],
    gcOnly: true,
  },
  // the generated path next to the hand-written one (`generated` names the row it is compared with)
  {
    name: 'add_1_aten',
    label: 'torch.ops.aten.add(a, b), 1 elem, c.dispose() (generated path)',
    kind: 'op',
    iters: OP_ITERS,
    node: callCase(1, (torch, a, b) => torch.ops.aten.add(a, b)),
    python: 'add_1',
    cpp: 'add_1',
    generated: 'add_1_dispose',
  },
  {
    name: 'add_1000_aten',
    label: 'torch.ops.aten.add(a, b), 1000 elem, c.dispose() (generated path)',
    kind: 'op',
    iters: OP_ITERS,
    node: callCase(1000, (torch, a, b) => torch.ops.aten.add(a, b)),
    python: 'add_1000',
    cpp: 'add_1000',
    generated: 'add_1000_dispose',
  },
  {
    name: 'mul_1_dispose',
    label: 'a.mul(b), 1 elem, c.dispose()',
    kind: 'op',
    iters: OP_ITERS,
    node: callCase(1, (_torch, a, b) => a.mul(b)),
  },
  {
    name: 'mul_1_aten',
    label: 'torch.ops.aten.mul(a, b), 1 elem, c.dispose() (generated path)',
    kind: 'op',
    iters: OP_ITERS,
    node: callCase(1, (torch, a, b) => torch.ops.aten.mul(a, b)),
    generated: 'mul_1_dispose',
  },
  {
    name: 'matmul_16_dispose',
    label: 'a.matmul(b), 4×4, c.dispose()',
    kind: 'op',
    iters: OP_ITERS,
    node: callCase(16, (_torch, a, b) => a.matmul(b), matShape),
  },
  {
    name: 'matmul_16_aten',
    label: 'torch.ops.aten.matmul(a, b), 4×4, c.dispose() (generated path)',
    kind: 'op',
    iters: OP_ITERS,
    node: callCase(16, (torch, a, b) => torch.ops.aten.matmul(a, b), matShape),
    generated: 'matmul_16_dispose',
  },
  {
    name: 'amax_1000_aten',
    label: 'a.amax() (a generated method), 1000 elem, c.dispose()',
    kind: 'op',
    iters: OP_ITERS,
    node: callCase(1000, (_torch, a) => a.amax()),
  },
  {
    name: 'create_1m',
    label: 'torch.tensor(Float32Array(1M))',
    kind: 'copy',
    bytes: 4 * N_BIG,
    iters: COPY_ITERS,
    node: (torch) => {
      const src = new Float32Array(N_BIG);
      for (let i = 0; i < N_BIG; i++) src[i] = Math.random();
      return {
        run: (iters) => {
          for (let i = 0; i < iters; i++) torch.tensor(src).dispose();
        },
      };
    },
    python: ['create_1m_from_numpy_clone', 'create_1m_tensor'],
    cpp: 'create_1m_memcpy',
    note: 'PyTorch: the faster of `torch.from_numpy(a).clone()` and `torch.tensor(a)`; raw C++: `at::empty` + `memcpy`',
  },
  {
    name: 'data_1m',
    label: 't.data(), 1M float32',
    kind: 'copy',
    bytes: 4 * N_BIG,
    iters: COPY_ITERS,
    node: (torch) => {
      const t = torch.randn(N_BIG);
      return {
        run: (iters) => {
          let d;
          for (let i = 0; i < iters; i++) d = t.data();
          return d;
        },
        teardown: () => t.dispose(),
      };
    },
    python: 'data_1m_numpy_copy',
    cpp: 'data_1m_memcpy',
    note: 'PyTorch: `t.numpy().copy()`; raw C++: `new float[n]` + `memcpy`',
  },
  ...MODEL_CASES,
];

// Memory checks, each in its own child process (bench/memory.js) so that its RSS is its own.
//   args      arguments of bench/memory.js
//   target    what run.js checks: 'rss' (growth < 200 MB) or 'tensors' (count back to before)
const MEMORY_CASES = [
  {
    name: 'mem_nodispose_1000',
    label: '1M × a.add(b), 1000 elem, no dispose',
    target: 'rss',
    args: ['--mode', 'nodispose', '--size', '1000', '--iters', '1000000'],
  },
  {
    name: 'mem_tidy_1000',
    label: '1M × a.add(b), 1000 elem, tidy per 1000',
    target: 'tensors',
    args: ['--mode', 'tidy', '--size', '1000', '--iters', '1000000'],
  },
  {
    name: 'mem_nodispose_1',
    label: '1M × a.add(b), 1 elem, no dispose (informational)',
    target: null,
    args: ['--mode', 'nodispose', '--size', '1', '--iters', '1000000'],
  },
];

module.exports = { CASES, MEMORY_CASES, N_BIG, checksumArrays };
