"""GPU timings of the seed model in Python torch, the reference for bench/gpu.js (same model,
shapes, masks, loss and optimizer; ms per call, synchronised; median of 5 rounds).
    python3 bench/gpu_torch.py [--device cuda|cpu] [--json]
"""
import json
import sys
import time

import torch
import torch.nn as nn


class SeedModel(nn.Module):
    """examples/seed_model.ts: LSTM encoder/decoder, cross-attention with causal + padding masks."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.LSTM(10, 20, 2)
        self.decoder = nn.LSTM(20, 20, 2)
        self.cross = nn.MultiheadAttention(20, 4)
        self.head = nn.Linear(20, 10)

    def forward(self, x, src_padding=None):
        memory, _ = self.encoder(x)
        dec, _ = self.decoder(memory)
        L, S = dec.size(0), memory.size(0)
        mask = torch.triu(torch.ones(L, S, device=x.device), 1).bool()
        ctx, _ = self.cross(dec, memory, memory, attn_mask=mask, key_padding_mask=src_padding,
                            need_weights=False, average_attn_weights=False)
        return self.head(ctx)


def timed(fn, iters, sync):
    for _ in range(3):
        fn()
    sync()
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        rounds.append((time.perf_counter() - t0) * 1e3 / iters)
    return sorted(rounds)[2]


def seed_case(L, N, device, sync):
    torch.manual_seed(0)
    model = SeedModel().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lengths = torch.tensor([L - b % 3 for b in range(N)])
    x = torch.randn(L, N, 10, device=device)
    y = torch.randn(L, N, 10, device=device)
    pad = (torch.arange(L).unsqueeze(0) >= lengths.unsqueeze(1)).to(device)
    w = (~pad).t().unsqueeze(2).float()

    def forward():
        with torch.no_grad():
            model(x, pad)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = ((model(x, pad) - y).square() * w).sum() / (w.sum() * 10)
        loss.backward()
        opt.step()

    model.eval()
    fwd = timed(forward, 10, sync)
    model.train()
    train = timed(step, 10, sync)
    return {'fwd': fwd, 'train': train}


def main(argv):
    device = argv[argv.index('--device') + 1] if '--device' in argv else 'cuda'
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    results = {f'L{L}_N{N}': seed_case(L, N, device, sync) for L, N in [(32, 256), (128, 64)]}
    meta = {'torch': torch.__version__, 'device': device,
            'gpu': torch.cuda.get_device_name() if device.startswith('cuda') else None}
    if '--json' in argv:
        print(json.dumps({'meta': meta, 'results': results}))
    else:
        print(meta, results)


if __name__ == '__main__':
    main(sys.argv[1:])
