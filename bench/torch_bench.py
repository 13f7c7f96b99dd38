#!/usr/bin/env python3
"""PyTorch side of `npm run bench` (bench/run.js runs it with /usr/bin/python3).

Usage: torch_bench.py [--threads N] SNIPPET:ITERS:REPS:WARMUP ...

For each argument, runs the named snippet WARMUP times (warm-up, not timed) and then REPS
times, ITERS operations per run, and reports the time per operation (ns) of every timed run.
Prints one JSON object on stdout: {"version", "threads", "numpy", "results": {snippet: [ns, ...]},
"checks": {snippet: [numbers]}, "errors"}.

A snippet is a function `setup() -> run(iters)`: setup builds the inputs once, run does
`iters` operations. Keep the snippets the honest equivalents of the Node benchmarks in
bench/cases.js (same sizes, same dtype, a fresh result per call). New snippets are added to
SNIPPETS under the name bench/cases.js gives them.

A `run` may carry `run.check()`: called once after setup, before the warm-up, it returns a list
of numbers (output checksums on the snippet's fixed input and weights) that bench/run.js compares
with torch-napi's and raw C++'s; they are reported under "checks" in the JSON.

The model snippets (LSTM, MultiheadAttention, the seed model, a training step) use weights and
inputs from closed formulas (`fixed`, `fill_params`), written identically in bench/cases.js and
bench/raw_bench.cc, so that all three compute the same numbers.
"""
import json
import math
import sys
import time

import numpy as np
import torch
from torch import nn

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


# ---- models: fixed weights and inputs (the same formulas in bench/cases.js and raw_bench.cc) ----
def fixed(shape, k):
    """sin(0.1 * i + k) over the flattened index i, float32."""
    n = 1
    for d in shape:
        n *= d
    return torch.arange(n, dtype=torch.float32).mul(0.1).add(k).sin().view(*shape)


def fill_params(module):
    """Parameter number j in sorted-name order := sin(0.37 * i + 1.3 * j) * scale, scale =
    1/sqrt(last dim) for matrices and 0.1 for vectors."""
    named = dict(module.named_parameters())
    with torch.no_grad():
        for j, name in enumerate(sorted(named)):
            p = named[name]
            scale = 1.0 / (p.shape[-1] ** 0.5) if p.dim() >= 2 else 0.1
            p.copy_(torch.arange(p.numel(), dtype=torch.float32).mul(0.37).add(1.3 * j).sin().mul(scale).view(p.shape))
    return module


def padding_mask(n, s):
    """(N, S) bool, True = padded: sequence b has length S - b % 3."""
    lengths = s - torch.arange(n) % 3
    return torch.arange(s).unsqueeze(0) >= lengths.unsqueeze(1)


def checksum(*tensors):
    """[sum, sum(x_i * (i % 13 - 6))] of each tensor, in float64."""
    out = []
    for t in tensors:
        a = t.detach().double().contiguous().view(-1).numpy()
        w = (np.arange(a.size) % 13 - 6).astype(np.float64)
        out += [float(a.sum()), float((a * w).sum())]
    return out


class SeedModel(nn.Module):
    """The corrected seed model (examples/seed_model.ts), sequence-first (L, N, 10)."""

    def __init__(self, input_size=10, hidden=20, layers=2, heads=4):
        super().__init__()
        self.encoder = nn.LSTM(input_size, hidden, layers)
        self.decoder = nn.LSTM(hidden, hidden, layers)
        self.cross = nn.MultiheadAttention(hidden, heads)
        self.head = nn.Linear(hidden, input_size)

    def forward(self, x, src_padding=None):
        memory, _ = self.encoder(x)
        dec, _ = self.decoder(memory)
        L, S = dec.size(0), memory.size(0)
        mask = torch.triu(torch.ones(L, S), 1).bool()
        ctx, _ = self.cross(dec, memory, memory, attn_mask=mask, key_padding_mask=src_padding,
                            need_weights=False, average_attn_weights=False)
        return self.head(ctx)


def no_fast_path(fn):
    """Runs fn once with MultiheadAttention's fast path (torch._native_multi_head_attention)
    disabled, so that an unexpected fast path fails loudly instead of being timed."""
    saved = torch._native_multi_head_attention

    def refuse(*a, **k):
        raise RuntimeError('MultiheadAttention took its fast path; the benchmark expects the normal one')
    torch._native_multi_head_attention = refuse
    try:
        return fn()
    finally:
        torch._native_multi_head_attention = saved


def lstm_forward(L, N):
    def setup():
        lstm = fill_params(nn.LSTM(10, 20, 2)).eval()
        x = fixed((L, N, 10), 0.5)

        def run(iters):
            with torch.no_grad():
                for _ in range(iters):
                    out, (h, c) = lstm(x)
            return out

        def check():
            with torch.no_grad():
                return checksum(lstm(x)[0])
        run.check = check
        return run
    return setup


def mha_forward(L, N, E, H, need_weights):
    """Cross-attention (query != key, key is value), causal attn_mask + key_padding_mask, as in
    the seed model; sequence-first, so PyTorch 1.13 takes F.multi_head_attention_forward."""
    def setup():
        mha = fill_params(nn.MultiheadAttention(E, H)).eval()
        q = fixed((L, N, E), 0.5)
        kv = fixed((L, N, E), 1.5)
        mask = torch.triu(torch.ones(L, L), 1).bool()
        pad = padding_mask(N, L)

        def fwd():
            return mha(q, kv, kv, attn_mask=mask, key_padding_mask=pad, need_weights=need_weights)

        def run(iters):
            with torch.no_grad():
                for _ in range(iters):
                    out, w = fwd()
            return out

        def check():
            with torch.no_grad():
                out, w = no_fast_path(fwd)
                return checksum(out, w) if need_weights else checksum(out)
        run.check = check
        return run
    return setup


def seed_forward(L, N):
    def setup():
        model = fill_params(SeedModel()).eval()
        x = fixed((L, N, 10), 0.5)
        pad = padding_mask(N, L)

        def run(iters):
            with torch.no_grad():
                for _ in range(iters):
                    out = model(x, pad)
            return out

        def check():
            with torch.no_grad():
                return checksum(no_fast_path(lambda: model(x, pad)))
        run.check = check
        return run
    return setup


def seed_train(L, N):
    """One training step: zero_grad (set to None, PyTorch 2's default and torch-napi's), forward,
    masked MSE over the valid steps, backward, Adam."""
    def setup():
        model = fill_params(SeedModel()).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = fixed((L, N, 10), 0.5)
        pad = padding_mask(N, L)
        lengths = L - torch.arange(N) % 3
        valid = torch.arange(L).unsqueeze(1) < (lengths - 1).unsqueeze(0)   # (L, N): t + 1 < length
        w = valid.unsqueeze(2).float()
        y = fixed((L, N, 10), 2.5).mul(w)

        def step():
            opt.zero_grad(set_to_none=True)
            pred = model(x, pad)
            loss = pred.sub(y).square().mul(w).sum().div(w.sum().mul(10))
            loss.backward()
            opt.step()
            return loss

        def run(iters):
            for _ in range(iters):
                loss = step()
            return loss

        def check():
            losses = [float(step().item()) for _ in range(3)]
            params = [p.detach().reshape(-1) for _, p in sorted(model.named_parameters())]
            return losses + checksum(torch.cat(params))
        run.check = check
        return run
    return setup


SNIPPETS = {
    'add_1': add(1),
    'add_1000': add(1000),
    'create_1m_from_numpy_clone': from_numpy_clone,
    'create_1m_tensor': tensor_from_numpy,
    'data_1m_numpy_copy': data_numpy_copy,
    'lstm_L10_N1': lstm_forward(10, 1),
    'lstm_L10_N32': lstm_forward(10, 32),
    'lstm_L10_N256': lstm_forward(10, 256),
    'lstm_L128_N64': lstm_forward(128, 64),
    'mha_E256_L128_N64_w': mha_forward(128, 64, 256, 8, True),
    'mha_E256_L128_N64_now': mha_forward(128, 64, 256, 8, False),
    'mha_E20_L10_N32_w': mha_forward(10, 32, 20, 4, True),
    'mha_E20_L10_N32_now': mha_forward(10, 32, 20, 4, False),
    'seed_L10_N1': seed_forward(10, 1),
    'seed_L10_N32': seed_forward(10, 32),
    'seed_L10_N256': seed_forward(10, 256),
    'seed_L128_N64': seed_forward(128, 64),
    'seed_train_L10_N32': seed_train(10, 32),
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
    checks = {}
    for spec in specs:
        name, iters, reps, warmup = spec.split(':')
        iters, reps, warmup = int(iters), int(reps), int(warmup)
        if name not in SNIPPETS:
            errors[name] = 'unknown snippet'
            continue
        try:
            run = SNIPPETS[name]()
            if hasattr(run, 'check'):
                checks[name] = [x if math.isfinite(x) else None for x in run.check()]
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
        'checks': checks,
    }, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main(sys.argv[1:])
