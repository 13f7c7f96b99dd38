#!/usr/bin/python3
"""Generate test/fixtures/transformer.json: PyTorch's results for the Transformer layers' tests.

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_transformer_fixtures.py

Every forward runs on PyTorch's *slow* path (the one we port): modules in eval() mode, under
torch.enable_grad() with inputs that require grad, which disables the 1.13 encoder fast path
(torch._transformer_encoder_layer_fwd) and the nested-tensor path of nn.TransformerEncoder.

Layout (JSON objects keep insertion order; state dicts are in PyTorch's order):

    {
      "torch": "1.13.0a0",
      "cases": [ {                                   one forward + backward each
          "name": "...",
          "module": "TransformerEncoderLayer" | "TransformerDecoderLayer" | "TransformerEncoder"
                    | "TransformerDecoder" | "Transformer",
          "options": {dModel, nhead, dimFeedforward, dropout, activation ('relu' | 'gelu' | 'tanh',
                      the last meaning the callable torch.tanh), layerNormEps, batchFirst, normFirst,
                      numLayers (stacks), numEncoderLayers / numDecoderLayers (Transformer)},
          "state": {PyTorch state_dict key: T},      random, loaded before the run
          "inputs": {"src" | "tgt" | "memory": T},   requires grad
          "masks": {camelCase forward option: T},    e.g. srcMask, srcKeyPaddingMask, tgtMask, ...
          "lossWeights": T,                          loss = sum(output * lossWeights)
          "output": T,
          "grads": {"src" | "tgt" | "memory" | <param name>: T}
      } ],
      "seeded": [ {"seed", "module", "options", "state"} ],  torch.manual_seed(seed) then construction
      "seededDigest": [ {"seed", "module", "options", "after": T,                 torch.rand(4) after it
                          "params": {name: {"shape", "head": first 6 values, "sum", "sumsq"}}} ],
      "dropout": [ {"case": name of a case whose state, inputs and masks it uses, "options" (dropout 0.3),
                     "seed", "train": T (train mode after torch.manual_seed(seed)), "eval": T} ],
      "stateKeys": {module: [keys]},
      "repr": {name: str},
      "squareSubsequentMask": T                      Transformer.generate_square_subsequent_mask(4)
    }

where T is ``{"shape": [...], "dtype": "float32" | "bool", "values": [...]}``; non-finite floats
are the strings "inf", "-inf", "nan". Parameters and inputs are rounded to 3 decimals, masks to 4,
loss weights to 2, *before* PyTorch runs, so both sides compute with the same float32 values; results are
rounded to 7 significant digits, seeded weights to 9 (exact float32).
"""

import os

import torch
import torch.nn as nn

import fixture_util
from fixture_util import dec, num, round_dec, write_json

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'transformer.json')

torch.set_num_threads(1)
E, H, FF = 8, 2, 16


def enc(t, digits=7):
    """T of `t`, floats with `digits` significant digits (integral ones stay floats: 1.0)."""
    return fixture_util.enc(t, digits=digits, integral_as_int=False)


gen = torch.Generator().manual_seed(20240513)


def randn(*shape, scale=1.0, decimals=4):
    return round_dec(torch.randn(*shape, generator=gen) * scale, decimals)


ACT = {'relu': 'relu', 'gelu': 'gelu', 'tanh': torch.tanh}


def py_kwargs(o):
    kw = dict(dim_feedforward=o.get('dimFeedforward', FF), dropout=o.get('dropout', 0.1),
              activation=ACT[o.get('activation', 'relu')], layer_norm_eps=o.get('layerNormEps', 1e-5),
              batch_first=o.get('batchFirst', False), norm_first=o.get('normFirst', False))
    return kw


def make(module, o):
    d, h = o.get('dModel', E), o.get('nhead', H)
    if module == 'TransformerEncoderLayer':
        return nn.TransformerEncoderLayer(d, h, **py_kwargs(o))
    if module == 'TransformerDecoderLayer':
        return nn.TransformerDecoderLayer(d, h, **py_kwargs(o))
    if module == 'TransformerEncoder':
        layer = nn.TransformerEncoderLayer(d, h, **py_kwargs(o))
        norm = nn.LayerNorm(d, eps=o.get('layerNormEps', 1e-5)) if o.get('norm', True) else None
        return nn.TransformerEncoder(layer, o['numLayers'], norm)
    if module == 'TransformerDecoder':
        layer = nn.TransformerDecoderLayer(d, h, **py_kwargs(o))
        norm = nn.LayerNorm(d, eps=o.get('layerNormEps', 1e-5)) if o.get('norm', True) else None
        return nn.TransformerDecoder(layer, o['numLayers'], norm)
    if module == 'Transformer':
        kw = py_kwargs(o)
        return nn.Transformer(d_model=d, nhead=h, num_encoder_layers=o['numEncoderLayers'],
                              num_decoder_layers=o['numDecoderLayers'], **kw)
    raise ValueError(module)


def randomize(m):
    """Random parameters (every layer different, so that a stack that reuses one layer's weights fails)."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith('norm1.weight') or name.endswith('norm2.weight') or name.endswith('norm3.weight') \
                    or name.endswith('norm.weight'):
                p.copy_(round_dec(1 + torch.randn(p.shape, generator=gen) * 0.2, 3))
            else:
                p.copy_(randn(*p.shape, scale=0.4, decimals=3))


def seq(L, N, batch_first, unbatched=False):
    if unbatched:
        return randn(L, E, decimals=3)
    return randn(N, L, E, decimals=3) if batch_first else randn(L, N, E, decimals=3)


def causal_bool(L, S=None):
    return torch.triu(torch.ones(L, S or L), diagonal=1).bool()


def float_mask(L, S):
    m = randn(L, S, scale=0.5)
    # block a few pairs, never a whole row
    for i in range(L):
        if (i + 1) % 2 == 0 and S > 1:
            m[i, (i + 1) % S] = float('-inf')
    return m


def kpm_bool(N, S, lengths):
    return torch.arange(S).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)


def run(module, o, inputs, masks, py_masks):
    m = make(module, o)
    randomize(m)
    m.eval()
    state = {k: enc(v) for k, v in m.state_dict().items()}
    ins = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    with torch.enable_grad():
        if module in ('TransformerEncoderLayer', 'TransformerEncoder'):
            out = m(ins['src'], **py_masks)
        elif module in ('TransformerDecoderLayer', 'TransformerDecoder'):
            out = m(ins['tgt'], ins['memory'], **py_masks)
        else:
            out = m(ins['src'], ins['tgt'], **py_masks)
        w = randn(*out.shape, decimals=2)
        (out * w).sum().backward()
    assert torch.isfinite(out).all(), 'a fully masked row slipped in'
    grads = {k: enc(v.grad) for k, v in ins.items()}
    for n, p in m.named_parameters():
        grads[n] = enc(p.grad)
    return {
        'state': state,
        'inputs': {k: enc(v) for k, v in inputs.items()},
        'masks': {k: enc(v) for k, v in masks.items()},
        'lossWeights': enc(w),
        'output': enc(out),
        'grads': grads,
    }


PY_NAME = {
    'srcMask': 'src_mask', 'srcKeyPaddingMask': 'src_key_padding_mask', 'mask': 'mask',
    'tgtMask': 'tgt_mask', 'memoryMask': 'memory_mask', 'tgtKeyPaddingMask': 'tgt_key_padding_mask',
    'memoryKeyPaddingMask': 'memory_key_padding_mask',
}


def case(name, module, options, inputs, masks):
    r = run(module, options, inputs, masks, {PY_NAME[k]: v for k, v in masks.items()})
    return {'name': name, 'module': module, 'options': options, **r}


cases = []

# ---- TransformerEncoderLayer ------------------------------------------------------------------
L, N = 5, 2
cases.append(case('EncoderLayer post relu seq-first, bool causal srcMask + bool kpm', 'TransformerEncoderLayer',
                  {'activation': 'relu'},
                  {'src': seq(L, N, False)},
                  {'srcMask': causal_bool(L), 'srcKeyPaddingMask': kpm_bool(N, L, [5, 3])}))
cases.append(case('EncoderLayer post gelu batch-first, float srcMask', 'TransformerEncoderLayer',
                  {'activation': 'gelu', 'batchFirst': True},
                  {'src': seq(4, N, True)},
                  {'srcMask': float_mask(4, 4)}))
cases.append(case('EncoderLayer normFirst gelu seq-first, float srcMask + bool kpm, eps 1e-6', 'TransformerEncoderLayer',
                  {'activation': 'gelu', 'normFirst': True, 'layerNormEps': 1e-6},
                  {'src': seq(L, N, False)},
                  {'srcMask': float_mask(L, L), 'srcKeyPaddingMask': kpm_bool(N, L, [4, 5])}))
cases.append(case('EncoderLayer post callable tanh batch-first, float kpm only', 'TransformerEncoderLayer',
                  {'activation': 'tanh', 'batchFirst': True},
                  {'src': seq(3, N, True)},
                  {'srcKeyPaddingMask': torch.tensor([[0.0, -0.5, float('-inf')], [0.0, 0.0, 0.25]])}))
cases.append(case('EncoderLayer post relu unbatched, bool causal srcMask + 1-D kpm', 'TransformerEncoderLayer',
                  {'activation': 'relu'},
                  {'src': seq(4, 1, False, unbatched=True)},
                  {'srcMask': causal_bool(4), 'srcKeyPaddingMask': torch.tensor([False, False, False, True])}))

# ---- TransformerDecoderLayer ------------------------------------------------------------------
T, S = 4, 5
mem_mask_bool = torch.zeros(T, S, dtype=torch.bool)
mem_mask_bool[0, 3] = mem_mask_bool[2, 0] = mem_mask_bool[3, 4] = True
cases.append(case('DecoderLayer post relu seq-first, all four masks (bool)', 'TransformerDecoderLayer',
                  {'activation': 'relu'},
                  {'tgt': seq(T, N, False), 'memory': seq(S, N, False)},
                  {'tgtMask': causal_bool(T), 'memoryMask': mem_mask_bool,
                   'tgtKeyPaddingMask': kpm_bool(N, T, [4, 3]), 'memoryKeyPaddingMask': kpm_bool(N, S, [5, 3])}))
cases.append(case('DecoderLayer normFirst gelu batch-first, float tgt/memory masks + bool kpms', 'TransformerDecoderLayer',
                  {'activation': 'gelu', 'normFirst': True, 'batchFirst': True},
                  {'tgt': seq(T, N, True), 'memory': seq(S, N, True)},
                  {'tgtMask': float_mask(T, T), 'memoryMask': float_mask(T, S),
                   'tgtKeyPaddingMask': kpm_bool(N, T, [3, 4]), 'memoryKeyPaddingMask': kpm_bool(N, S, [4, 5])}))

# ---- stacks --------------------------------------------------------------------------------
cases.append(case('TransformerEncoder 2 layers + norm, post relu seq-first, causal mask + kpm', 'TransformerEncoder',
                  {'activation': 'relu', 'numLayers': 2},
                  {'src': seq(L, N, False)},
                  {'mask': causal_bool(L), 'srcKeyPaddingMask': kpm_bool(N, L, [5, 4])}))
cases.append(case('TransformerDecoder 2 layers + norm, normFirst gelu batch-first, all four masks', 'TransformerDecoder',
                  {'activation': 'gelu', 'normFirst': True, 'batchFirst': True, 'numLayers': 2},
                  {'tgt': seq(3, N, True), 'memory': seq(4, N, True)},
                  {'tgtMask': causal_bool(3), 'memoryMask': float_mask(3, 4),
                   'tgtKeyPaddingMask': kpm_bool(N, 3, [3, 2]), 'memoryKeyPaddingMask': kpm_bool(N, 4, [3, 4])}))

# ---- nn.Transformer ------------------------------------------------------------------------
cases.append(case('Transformer 1+1 layers seq-first relu, all six masks', 'Transformer',
                  {'numEncoderLayers': 1, 'numDecoderLayers': 1},
                  {'src': seq(S, N, False), 'tgt': seq(T, N, False)},
                  {'srcMask': causal_bool(S), 'tgtMask': nn.Transformer.generate_square_subsequent_mask(T),
                   'memoryMask': mem_mask_bool,
                   'srcKeyPaddingMask': kpm_bool(N, S, [5, 4]), 'tgtKeyPaddingMask': kpm_bool(N, T, [4, 3]),
                   'memoryKeyPaddingMask': kpm_bool(N, S, [5, 4])}))

# ---- seeded construction -------------------------------------------------------------------
seeded = []
for seed, module in [(0, 'TransformerEncoderLayer')]:
    torch.manual_seed(seed)
    m = make(module, {})
    seeded.append({'seed': seed, 'module': module, 'options': {'dimFeedforward': FF},
                   'state': {k: enc(v, 9) for k, v in m.state_dict().items()}})


def digest(m):
    out = {}
    for k, v in m.state_dict().items():
        flat = v.reshape(-1).double()
        head = [num(x, 9, integral_as_int=False) for x in v.reshape(-1)[:6].tolist()]
        out[k] = {'shape': list(v.shape), 'head': head,
                  'sum': float(flat.sum()), 'sumsq': float((flat * flat).sum())}
    return out


seeded_digest = []
for seed, module, options in [(7, 'TransformerDecoderLayer', {}), (3, 'TransformerEncoder', {'numLayers': 2}),
                              (5, 'Transformer', {'numEncoderLayers': 2, 'numDecoderLayers': 1})]:
    torch.manual_seed(seed)
    m = make(module, options)
    after = torch.rand(4)
    seeded_digest.append({'seed': seed, 'module': module, 'options': {**options, 'dimFeedforward': FF},
                          'after': enc(after, 9), 'params': digest(m)})

# ---- dropout in training mode --------------------------------------------------------------
# The module of an existing case (its state, inputs and masks), with dropout p=0.3: the output in
# train mode after torch.manual_seed(11), and in eval mode.
dropout = []
for case_name in ['EncoderLayer post relu seq-first, bool causal srcMask + bool kpm',
                  'DecoderLayer normFirst gelu batch-first, float tgt/memory masks + bool kpms']:
    c = next(c for c in cases if c['name'] == case_name)
    options = {**c['options'], 'dropout': 0.3}
    m = make(c['module'], options)
    with torch.no_grad():
        m.load_state_dict({k: dec(v) for k, v in c['state'].items()})
    py = {PY_NAME[k]: dec(v) for k, v in c['masks'].items()}
    args = [dec(c['inputs']['src'])] if 'src' in c['inputs'] else [dec(c['inputs']['tgt']), dec(c['inputs']['memory'])]
    m.train()
    torch.manual_seed(11)
    with torch.no_grad():
        train = m(*args, **py)
    m.eval()
    with torch.enable_grad():
        ev = m(*[a.clone().requires_grad_(True) for a in args], **py)
    assert torch.equal(ev, dec(c['output'])) or torch.allclose(ev, dec(c['output']), atol=1e-6)
    dropout.append({'case': case_name, 'options': options, 'seed': 11, 'train': enc(train), 'eval': enc(ev)})

# ---- state_dict keys and reprs -------------------------------------------------------------
state_keys = {
    'TransformerEncoderLayer': list(make('TransformerEncoderLayer', {}).state_dict().keys()),
    'TransformerDecoderLayer': list(make('TransformerDecoderLayer', {}).state_dict().keys()),
    'TransformerEncoder': list(make('TransformerEncoder', {'numLayers': 2}).state_dict().keys()),
    'TransformerDecoder': list(make('TransformerDecoder', {'numLayers': 2}).state_dict().keys()),
    'Transformer': list(make('Transformer', {'numEncoderLayers': 2, 'numDecoderLayers': 1}).state_dict().keys()),
}
reprs = {
    'TransformerEncoderLayer': repr(make('TransformerEncoderLayer', {'activation': 'gelu'})),
    'TransformerEncoderLayer gelu module p=0.2 eps=1e-6': repr(nn.TransformerEncoderLayer(
        E, H, dim_feedforward=FF, dropout=0.2, activation=nn.GELU(), layer_norm_eps=1e-6)),
    'TransformerDecoderLayer': repr(make('TransformerDecoderLayer', {})),
    'TransformerEncoder no norm': repr(make('TransformerEncoder', {'numLayers': 2, 'norm': False})),
    'Transformer': repr(make('Transformer', {'numEncoderLayers': 2, 'numDecoderLayers': 1})),
}
fixture = {
    'torch': torch.__version__,
    'cases': cases,
    'seeded': seeded,
    'seededDigest': seeded_digest,
    'dropout': dropout,
    'stateKeys': state_keys,
    'repr': reprs,
    'squareSubsequentMask': enc(nn.Transformer.generate_square_subsequent_mask(4)),
}

write_json(OUT, fixture)
print('wrote %s (%d bytes)' % (os.path.relpath(OUT), os.path.getsize(OUT)))
