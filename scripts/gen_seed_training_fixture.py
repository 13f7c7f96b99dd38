#!/usr/bin/env python3
"""Golden fixture for a short training run of the corrected seed model (examples/seed_model.ts).

Run with Debian's python3-torch 1.13: /usr/bin/python3 scripts/gen_seed_training_fixture.py
Everything random is drawn from the seeded generator (torch.manual_seed(0)), which torch-napi
shares with PyTorch: the test rebuilds the same initial weights and the same 10 batches from the
seed, trains 10 steps of Adam (lr 1e-2) with clip_grad_norm_(1.0) on the masked MSE, and compares
with test/fixtures/seed_training.json: the per-parameter sums of the initial weights, the loss of
every step and the final state_dict.
"""
import json
import os

import torch
from torch import nn

import fixture_util

L, N, C, H = 8, 4, 10, 20


class SeedModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.LSTM(C, H, num_layers=2)
        self.decoder = nn.LSTM(H, H, num_layers=2)
        self.cross = nn.MultiheadAttention(H, 4)
        self.head = nn.Linear(H, C)

    def forward(self, x, pad):
        memory, _ = self.encoder(x)
        dec, _ = self.decoder(memory)
        causal = torch.triu(torch.ones(x.shape[0], x.shape[0]), 1).bool()
        ctx, _ = self.cross(dec, memory, memory, attn_mask=causal, key_padding_mask=pad, need_weights=False)
        return self.head(ctx)


def enc(t):
    """T of `t`, floats with 7 significant digits (integral ones stay floats: 1.0)."""
    return fixture_util.enc(t, integral_as_int=False)


def main():
    torch.manual_seed(0)
    model = SeedModel()
    init = {k: float(v.double().sum()) for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(10):
        x = torch.randn(L, N, C)
        lengths = torch.randint(3, L + 1, (N,))
        pad = torch.arange(L)[None, :] >= lengths[:, None]
        x = x * (~pad).t().unsqueeze(2)
        valid = torch.arange(L)[:, None] < (lengths - 1)[None, :]
        y = torch.randn(L, N, C) * valid.unsqueeze(2)
        opt.zero_grad()
        w = valid.unsqueeze(2).float()
        loss = ((model(x, pad) - y) ** 2 * w).sum() / (w.sum() * C)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    out = {"initSums": init, "losses": losses,
           "final": {k: enc(v) for k, v in model.state_dict().items()}}
    path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "seed_training.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {path}: final loss {losses[-1]:.6f}")


if __name__ == "__main__":
    main()
