#!/usr/bin/env python3
"""ONNX side of `npm run bench` (bench/run.js runs it with /usr/bin/python3 before the
onnxruntime column): exports the benchmark models with torch.onnx.export, with the same fixed
weights as bench/torch_bench.py (fill_params), so that onnxruntime-node computes the same numbers.

Usage: onnx_export.py OUT_DIR

Writes into OUT_DIR:
  seed.onnx      the seed model (torch_bench.SeedModel's weights and computation), inputs
                 x (L, N, 10) float32, attn_mask (L, L) bool (True = masked; the causal mask),
                 key_padding_mask (N, L) bool (True = padded); output y (L, N, 10); L and N dynamic
  lstm.onnx      nn.LSTM(10, 20, 2 layers): input x (L, N, 10); output y (L, N, 20); L, N dynamic
  mha_E{E}_H{H}_{w|now}.onnx
                 nn.MultiheadAttention(E, H) cross-attention (key is value): inputs query, kv
                 (L, N, E) float32, attn_mask (L, L) bool, key_padding_mask (N, L) bool; outputs
                 y (L, N, E) and, for _w, weights (N, L, L) averaged over the heads; L, N dynamic
  manifest.json  {"torch": version, "opset": n, "models": {name: file}}

bench/run.js keeps OUT_DIR per hash of this script and the torch version, so the models are
exported again only when either changes.
"""
import json
import os
import sys
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import SeedModel, fill_params  # noqa: E402  (the same class and weights)

OPSET = 14
# the MHA sizes of the mha_* benchmarks (bench/cases.js)
MHA_SIZES = [(256, 8), (20, 4)]


class SeedWithMasks(SeedModel):
    """SeedModel with the causal mask as an input instead of built inside (the same parameters,
    hence the same names and the same fill_params weights)."""

    def forward(self, x, attn_mask, key_padding_mask):
        memory, _ = self.encoder(x)
        dec, _ = self.decoder(memory)
        ctx, _ = self.cross(dec, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                            need_weights=False, average_attn_weights=False)
        return self.head(ctx)


class LstmOut(nn.Module):
    """The LSTM's output sequence only (the final states are not read by the benchmark)."""

    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def forward(self, x):
        return self.lstm(x)[0]


class Mha(nn.Module):
    def __init__(self, mha, need_weights):
        super().__init__()
        self.mha = mha
        self.need_weights = need_weights

    def forward(self, query, kv, attn_mask, key_padding_mask):
        out, w = self.mha(query, kv, kv, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                          need_weights=self.need_weights)
        return (out, w) if self.need_weights else out


def causal(L):
    return torch.triu(torch.ones(L, L), 1).bool()


def padding(n, s):
    lengths = s - torch.arange(n) % 3
    return torch.arange(s).unsqueeze(0) >= lengths.unsqueeze(1)


def export(model, args, path, input_names, output_names, dynamic_axes):
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model.eval(), args, path, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    models = {}
    L, N = 7, 3  # example sizes for the trace; L and N are dynamic in the graphs
    seq = {0: 'L', 1: 'N'}
    masks = {'attn_mask': {0: 'L', 1: 'L'}, 'key_padding_mask': {0: 'N', 1: 'L'}}

    seed = fill_params(SeedWithMasks())
    x = torch.randn(L, N, 10)
    export(seed, (x, causal(L), padding(N, L)), os.path.join(out_dir, 'seed.onnx'),
           ['x', 'attn_mask', 'key_padding_mask'], ['y'], {'x': seq, **masks, 'y': seq})
    models['seed'] = 'seed.onnx'

    lstm = LstmOut(fill_params(nn.LSTM(10, 20, 2)))
    export(lstm, (x,), os.path.join(out_dir, 'lstm.onnx'), ['x'], ['y'], {'x': seq, 'y': seq})
    models['lstm'] = 'lstm.onnx'

    for E, H in MHA_SIZES:
        for need_weights in (True, False):
            name = f'mha_E{E}_H{H}_{"w" if need_weights else "now"}'
            mha = Mha(fill_params(nn.MultiheadAttention(E, H)), need_weights)
            q, kv = torch.randn(L, N, E), torch.randn(L, N, E)
            outputs = ['y', 'weights'] if need_weights else ['y']
            axes = {'query': seq, 'kv': seq, **masks, 'y': seq}
            if need_weights:
                axes['weights'] = {0: 'N', 1: 'L', 2: 'L'}
            export(mha, (q, kv, causal(L), padding(N, L)), os.path.join(out_dir, f'{name}.onnx'),
                   ['query', 'kv', 'attn_mask', 'key_padding_mask'], outputs, axes)
            models[name] = f'{name}.onnx'

    with open(os.path.join(out_dir, 'manifest.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'opset': OPSET, 'models': models}, f, indent=2)
        f.write('\n')


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: onnx_export.py OUT_DIR')
    main(sys.argv[1])
