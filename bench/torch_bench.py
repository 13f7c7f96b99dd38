#!/usr/bin/env python3
"""PyTorch side of `npm run bench` (bench/run.js runs it with /usr/bin/python3).

Usage: torch_bench.py [--threads N] SNIPPET:ITERS:REPS:WARMUP ...

For each argument, runs the named snippet WARMUP times (warm-up, not timed) and then REPS
times, ITERS operations per run, and reports the time per operation (ns) of every timed run.
Prints one JSON object on stdout: {"version", "threads", "numpy", "results": {snippet: [ns, ...]}}.

A snippet is a function `setup() -> run(iters)`: setup builds the inputs once, run does
`iters` operations. Keep the snippets the honest equivalents of the Node benchmarks in
bench/cases.js (same sizes, same dtype, a fresh result per call). New snippets (LSTM,
attention, a training step) are added to SNIPPETS under the name bench/cases.js gives them.
"""
import json
import sys
import time

import numpy as np
import torch

N_BIG = 1_000_000  # elements of the creation/data copy benchmarks (float32: 4 MB)


def add(n):
    def setup():
        a = torch.ones(n)
        b = torch.randn(n)

        def run(iters):
            for _ in range(iters):
                c = a.add(b)  # the previous result is freed here (refcount), like dispose()
            return c
        return run
    return setup


def from_numpy_clone():
    src = np.random.default_rng(0).standard_normal(N_BIG).astype(np.float32)

    def run(iters):
        for _ in range(iters):
            t = torch.from_numpy(src).clone()  # one copy into a new tensor, like torch.tensor(Float32Array)
        return t
    return run


def tensor_from_numpy():
    src = np.random.default_rng(0).standard_normal(N_BIG).astype(np.float32)

    def run(iters):
        for _ in range(iters):
            t = torch.tensor(src)
        return t
    return run


def data_numpy_copy():
    t = torch.randn(N_BIG)

    def run(iters):
        for _ in range(iters):
            out = t.numpy().copy()  # a new array holding a copy, like t.data()
        return out
    return run


SNIPPETS = {
    'add_1': add(1),
    'add_1000': add(1000),
    'create_1m_from_numpy_clone': from_numpy_clone,
    'create_1m_tensor': tensor_from_numpy,
    'data_1m_numpy_copy': data_numpy_copy,
}


def main(argv):
    threads = 1
    specs = []
    i = 0
    while i < len(argv):
        if argv[i] == '--threads':
            threads = int(argv[i + 1])
            i += 2
            continue
        specs.append(argv[i])
        i += 1
    torch.set_num_threads(threads)
    results = {}
    errors = {}
    for spec in specs:
        name, iters, reps, warmup = spec.split(':')
        iters, reps, warmup = int(iters), int(reps), int(warmup)
        if name not in SNIPPETS:
            errors[name] = 'unknown snippet'
            continue
        try:
            run = SNIPPETS[name]()
            for _ in range(warmup):
                run(iters)
            samples = []
            for _ in range(reps):
                t0 = time.perf_counter_ns()
                run(iters)
                samples.append((time.perf_counter_ns() - t0) / iters)
            results[name] = samples
        except Exception as e:  # report and go on with the other snippets
            errors[name] = f'{type(e).__name__}: {e}'
    json.dump({
        'version': torch.__version__,
        'numpy': np.__version__,
        'python': sys.version.split()[0],
        'threads': torch.get_num_threads(),
        'results': results,
        'errors': errors,
    }, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main(sys.argv[1:])
