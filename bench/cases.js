// The benchmarks `npm run bench` runs. To add one (an LSTM step, attention, a training step),
// add an entry to CASES, and the snippets it names to bench/torch_bench.py (SNIPPETS) and
// bench/raw_bench.cc (snippets()).
//
// A CASES entry:
//   name      unique id; `node bench/run.js --only <name>[,<name>...]` runs just these
//   label     the row's text in the table
//   kind      'op'   — many cheap calls: reported in µs per call
//             'copy' — bulk copies: reported per call and in GB/s (needs `bytes`)
//             'step' — a larger unit of work (a layer, a training step): reported in ms per call
//   bytes     bytes moved per call ('copy' only; GB/s = bytes / time, 1 GB = 1e9 bytes)
//   iters     calls per timed run: { full, quick }
//   node      (torch) => { run(iters), teardown?() }: builds the inputs once; run makes `iters` calls
//   python    snippet name(s) in bench/torch_bench.py (an array: the fastest one is reported), or null
//   cpp       snippet name in bench/raw_bench.cc, or null
//   note      optional footnote for the table
//
// Every Node case must free what it makes the way it says (dispose, tidy, or the GC), so that
// the runs measure the same thing each time.
'use strict';

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
    return { run, teardown: () => { a.dispose(); b.dispose(); } };
  };
}

const OP_ITERS = { full: 100_000, quick: 20_000 };
const COPY_ITERS = { full: 200, quick: 40 };

const CASES = [
  { name: 'add_1_dispose', label: 'a.add(b), 1 elem, c.dispose()', kind: 'op', iters: OP_ITERS,
    node: addCase(1, 'dispose'), python: 'add_1', cpp: 'add_1' },
  { name: 'add_1_tidy', label: 'a.add(b), 1 elem, tidy per 1000', kind: 'op', iters: OP_ITERS,
    node: addCase(1, 'tidy'), python: 'add_1', cpp: 'add_1' },
  { name: 'add_1_gc', label: 'a.add(b), 1 elem, GC only', kind: 'op', iters: OP_ITERS,
    node: addCase(1, 'gc'), python: 'add_1', cpp: 'add_1', gcOnly: true },
  { name: 'add_1000_dispose', label: 'a.add(b), 1000 elem, c.dispose()', kind: 'op', iters: OP_ITERS,
    node: addCase(1000, 'dispose'), python: 'add_1000', cpp: 'add_1000' },
  { name: 'add_1000_tidy', label: 'a.add(b), 1000 elem, tidy per 1000', kind: 'op', iters: OP_ITERS,
    node: addCase(1000, 'tidy'), python: 'add_1000', cpp: 'add_1000' },
  { name: 'add_1000_gc', label: 'a.add(b), 1000 elem, GC only', kind: 'op', iters: OP_ITERS,
    node: addCase(1000, 'gc'), python: 'add_1000', cpp: 'add_1000', gcOnly: true },
  {
    name: 'create_1m', label: 'torch.tensor(Float32Array(1M))', kind: 'copy', bytes: 4 * N_BIG, iters: COPY_ITERS,
    node: (torch) => {
      const src = new Float32Array(N_BIG);
      for (let i = 0; i < N_BIG; i++) src[i] = Math.random();
      return { run: (iters) => { for (let i = 0; i < iters; i++) torch.tensor(src).dispose(); } };
    },
    python: ['create_1m_from_numpy_clone', 'create_1m_tensor'], cpp: 'create_1m_memcpy',
    note: 'PyTorch: the faster of `torch.from_numpy(a).clone()` and `torch.tensor(a)`; raw C++: `at::empty` + `memcpy`',
  },
  {
    name: 'data_1m', label: 't.data(), 1M float32', kind: 'copy', bytes: 4 * N_BIG, iters: COPY_ITERS,
    node: (torch) => {
      const t = torch.randn(N_BIG);
      return { run: (iters) => { let d; for (let i = 0; i < iters; i++) d = t.data(); return d; }, teardown: () => t.dispose() };
    },
    python: 'data_1m_numpy_copy', cpp: 'data_1m_memcpy',
    note: 'PyTorch: `t.numpy().copy()`; raw C++: `new float[n]` + `memcpy`',
  },
];

// Memory checks, each in its own child process (bench/memory.js) so that its RSS is its own.
//   args      arguments of bench/memory.js
//   target    what run.js checks: 'rss' (growth < 200 MB) or 'tensors' (count back to before)
const MEMORY_CASES = [
  { name: 'mem_nodispose_1000', label: '1M × a.add(b), 1000 elem, no dispose', target: 'rss',
    args: ['--mode', 'nodispose', '--size', '1000', '--iters', '1000000'] },
  { name: 'mem_tidy_1000', label: '1M × a.add(b), 1000 elem, tidy per 1000', target: 'tensors',
    args: ['--mode', 'tidy', '--size', '1000', '--iters', '1000000'] },
  { name: 'mem_nodispose_1', label: '1M × a.add(b), 1 elem, no dispose (informational)', target: null,
    args: ['--mode', 'nodispose', '--size', '1', '--iters', '1000000'] },
];

module.exports = { CASES, MEMORY_CASES, N_BIG };
