#!/usr/bin/python3
"""Generate test/fixtures/rnn.json: PyTorch's results for the recurrent layers' tests.

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_rnn_fixtures.py

Layout (state_dict keys in PyTorch's order; output deterministic):

    {
      "torch": "1.13.0a0",
      "cases": [ {                       nn.LSTM / nn.GRU / nn.RNN, one forward + backward each
          "name": "LSTM#3 L2 bi bf proj hx packed",
          "module": "LSTM" | "GRU" | "RNN",
          "options": {inputSize, hiddenSize, numLayers, bias, batchFirst, bidirectional,
                      projSize (LSTM), nonlinearity (RNN)},     camelCase, as the JS constructor takes them
          "kind": "batched" | "unbatched" | "packed",
          "lengths": [..] (packed only; unsorted, packed with enforce_sorted=False and padded back
                           with total_length=T),
          "state": {PyTorch state_dict key: T},
          "input": T, "hx": [T] | [T, T] | null,
          "lossWeights": {"output": T, "h": T, "c": T},        loss = sum(output*w_o) + sum(hN*w_h) (+ sum(cN*w_c))
          "output": T, "h": T, "c": T,                         output padded back for packed input
          "grads": {"input": T, "h0": T, "c0": T, "<param name>": T, ...}
      } ],
      "cells": [ {"name", "module": "LSTMCell" | "GRUCell" | "RNNCell", "options", "state", "input",
                  "hx", "lossWeights", "output" (h1), "c" (LSTMCell), "grads"} ],
      "seeded": [ {"seed", "module", "options", "state"} ],   torch.manual_seed(seed) then construction
      "dropout": {"options", "state", "input", "seed", "train": T, "eval": T}
    }

where T is ``{"shape": [...], "dtype": "float32", "values": [...]}``. Inputs, parameters, states
and loss weights are rounded to 4 decimals *before* PyTorch runs, so both sides compute with the
same float32 values; results are rounded to 7 significant digits, seeded weights to 9 (exact).

Coverage: for each of LSTM, GRU, RNN(tanh) and RNN(relu), a greedy pairwise covering array over
numLayers {1,2} x bidirectional {F,T} x batchFirst {F,T} x bias {T,F} x hx {none, given} x
kind {batched, unbatched, packed with unsorted lengths} (x projSize {0,2} for LSTM): every pair of
option values appears in at least one case of each mode.
"""

import itertools
import os

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import fixture_util
from fixture_util import round_dec, write_json

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'rnn.json')

torch.set_num_threads(1)
IN, HID, PROJ, T, NB, T_UNB = 3, 4, 2, 5, 3, 4
LENGTHS = [[3, 5, 2], [2, 4, 3], [4, 1, 5], [1, 3, 2]]


def enc(t, digits=7):
    """T of `t`, floats with `digits` significant digits (integral ones stay floats: 1.0)."""
    return fixture_util.enc(t, digits=digits, integral_as_int=False)


gen = torch.Generator().manual_seed(1234)


def randn(*shape, scale=1.0):
    return round_dec(torch.randn(*shape, generator=gen) * scale)


def pairwise(factors):
    """Greedy pairwise covering array over dict name -> values; deterministic."""
    names = list(factors)
    rows = [dict(zip(names, combo)) for combo in itertools.product(*(factors[n] for n in names))]
    need = set()
    for a, b in itertools.combinations(names, 2):
        for va in factors[a]:
            for vb in factors[b]:
                need.add((a, va, b, vb))

    def covers(row):
        return {(a, row[a], b, row[b]) for a, b in itertools.combinations(names, 2)} & need

    chosen = []
    while need:
        best = max(rows, key=lambda r: len(covers(r)))
        need -= covers(best)
        chosen.append(best)
    return chosen


def make_module(mode, o):
    kw = dict(num_layers=o['numLayers'], bias=o['bias'], batch_first=o['batchFirst'],
              bidirectional=o['bidirectional'])
    if mode == 'LSTM':
        return nn.LSTM(IN, HID, proj_size=o.get('projSize', 0), **kw)
    if mode == 'GRU':
        return nn.GRU(IN, HID, **kw)
    return nn.RNN(IN, HID, nonlinearity=o['nonlinearity'], **kw)


def round_params(m):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(round_dec(p))


def rnn_case(idx, mode, row, dtype=torch.float32):
    name_mode = mode if mode != 'RNN' else 'RNN_' + row['nonlinearity']
    o = {'inputSize': IN, 'hiddenSize': HID, 'numLayers': row['numLayers'], 'bias': row['bias'],
         'batchFirst': row['batchFirst'], 'bidirectional': row['bidirectional']}
    if mode == 'LSTM':
        o['projSize'] = row['projSize']
    if mode == 'RNN':
        o['nonlinearity'] = row['nonlinearity']
    m = make_module(mode, {**o, **row})
    round_params(m)
    m.to(dtype)
    kind, bf = row['kind'], row['batchFirst']
    D = 2 if row['bidirectional'] else 1
    hout = row.get('projSize', 0) or HID
    lead = D * row['numLayers']
    if kind == 'unbatched':
        x = randn(T_UNB, IN).to(dtype)
        hshape, cshape = (lead, hout), (lead, HID)
    else:
        x = randn(NB, T, IN).to(dtype) if bf else randn(T, NB, IN).to(dtype)
        hshape, cshape = (lead, NB, hout), (lead, NB, HID)
    x.requires_grad_(True)
    hx = None
    if row['hx']:
        h0 = randn(*hshape, scale=0.5).to(dtype).requires_grad_(True)
        if mode == 'LSTM':
            c0 = randn(*cshape, scale=0.5).to(dtype).requires_grad_(True)
            hx = (h0, c0)
        else:
            hx = h0
    lengths = None
    if kind == 'packed':
        lengths = LENGTHS[idx % len(LENGTHS)]
        packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
        pout, hidden = m(packed, hx)
        out, lens = pad_packed_sequence(pout, batch_first=bf, total_length=T)
        assert lens.tolist() == lengths
    else:
        out, hidden = m(x, hx)
    if mode == 'LSTM':
        h, c = hidden
    else:
        h, c = hidden, None
    w = {'output': randn(*out.shape).to(dtype), 'h': randn(*h.shape).to(dtype)}
    loss = (out * w['output']).sum() + (h * w['h']).sum()
    if c is not None:
        w['c'] = randn(*c.shape).to(dtype)
        loss = loss + (c * w['c']).sum()
    loss.backward()
    grads = {'input': enc(x.grad)}
    if hx is not None:
        if mode == 'LSTM':
            grads['h0'], grads['c0'] = enc(hx[0].grad), enc(hx[1].grad)
        else:
            grads['h0'] = enc(hx.grad)
    for n, p in m.named_parameters():
        grads[n] = enc(p.grad)
    flags = [f"L{row['numLayers']}", 'bi' if row['bidirectional'] else 'uni', 'bf' if bf else 'sf',
             'bias' if row['bias'] else 'nobias', 'hx' if row['hx'] else 'nohx', kind]
    if mode == 'LSTM':
        flags.append(f"proj{row['projSize']}")
    if dtype != torch.float32:
        flags.append(str(dtype).replace('torch.', ''))
    case = {
        'name': f"{name_mode}#{idx} " + ' '.join(flags),
        'module': mode, 'options': o, 'kind': kind,
        'state': {k: enc(v) for k, v in m.state_dict().items()},
        'input': enc(x), 'hx': None if hx is None else [enc(t) for t in (hx if mode == 'LSTM' else [hx])],
        'lossWeights': {k: enc(v) for k, v in w.items()},
        'output': enc(out), 'h': enc(h), 'grads': grads,
    }
    if c is not None:
        case['c'] = enc(c)
    if lengths is not None:
        case['lengths'] = lengths
    return case


def cell_case(name, cls, o, batched, with_hx):
    kw = {'bias': o.get('bias', True)}
    if cls is nn.RNNCell:
        kw['nonlinearity'] = o.get('nonlinearity', 'tanh')
    m = cls(IN, HID, **kw)
    round_params(m)
    x = (randn(NB, IN) if batched else randn(IN)).requires_grad_(True)
    hshape = (NB, HID) if batched else (HID,)
    hx = None
    if with_hx:
        hx = [randn(*hshape, scale=0.5).requires_grad_(True) for _ in range(2 if cls is nn.LSTMCell else 1)]
    if cls is nn.LSTMCell:
        h, c = m(x, None if hx is None else tuple(hx))
    else:
        h, c = m(x, None if hx is None else hx[0]), None
    w = {'output': randn(*h.shape)}
    loss = (h * w['output']).sum()
    if c is not None:
        w['c'] = randn(*c.shape)
        loss = loss + (c * w['c']).sum()
    loss.backward()
    grads = {'input': enc(x.grad)}
    if hx is not None:
        grads['h0'] = enc(hx[0].grad)
        if len(hx) == 2:
            grads['c0'] = enc(hx[1].grad)
    for n, p in m.named_parameters():
        grads[n] = enc(p.grad)
    case = {'name': name, 'module': cls.__name__, 'options': {'inputSize': IN, 'hiddenSize': HID, **o},
            'state': {k: enc(v) for k, v in m.state_dict().items()}, 'input': enc(x),
            'hx': None if hx is None else [enc(t) for t in hx], 'lossWeights': {k: enc(v) for k, v in w.items()},
            'output': enc(h), 'grads': grads}
    if c is not None:
        case['c'] = enc(c)
    return case


def main():
    torch.manual_seed(0)  # module initialisation (then rounded), so the output is reproducible
    cases = []
    base = {'numLayers': [1, 2], 'bidirectional': [False, True], 'batchFirst': [False, True],
            'bias': [True, False], 'hx': [False, True], 'kind': ['batched', 'unbatched', 'packed']}
    plans = [('LSTM', pairwise({**base, 'projSize': [0, PROJ]})),
             ('GRU', pairwise(base)),
             ('RNN', [{**r, 'nonlinearity': 'tanh'} for r in pairwise(base)]),
             ('RNN', [{**r, 'nonlinearity': 'relu'} for r in pairwise(base)])]
    idx = 0
    for mode, rows in plans:
        for row in rows:
            cases.append(rnn_case(idx, mode, row))
            idx += 1
    # one float64 run (Module.to('float64') on the JS side)
    cases.append(rnn_case(idx, 'LSTM', {'numLayers': 2, 'bidirectional': True, 'batchFirst': False, 'bias': True,
                                        'hx': True, 'kind': 'packed', 'projSize': PROJ}, dtype=torch.float64))

    cells = [
        cell_case('LSTMCell batched hx', nn.LSTMCell, {}, True, True),
        cell_case('LSTMCell unbatched nohx', nn.LSTMCell, {}, False, False),
        cell_case('LSTMCell unbatched hx nobias', nn.LSTMCell, {'bias': False}, False, True),
        cell_case('GRUCell batched hx nobias', nn.GRUCell, {'bias': False}, True, True),
        cell_case('GRUCell unbatched hx', nn.GRUCell, {}, False, True),
        cell_case('RNNCell tanh batched hx', nn.RNNCell, {}, True, True),
        cell_case('RNNCell relu unbatched hx', nn.RNNCell, {'nonlinearity': 'relu'}, False, True),
        cell_case('RNNCell relu batched nohx nobias', nn.RNNCell, {'nonlinearity': 'relu', 'bias': False}, True, False),
    ]

    seeded = []
    for seed, module, o, make in [
        (7, 'LSTM', {'numLayers': 2}, lambda: nn.LSTM(IN, HID, num_layers=2)),
        (8, 'GRU', {'bidirectional': True}, lambda: nn.GRU(IN, HID, bidirectional=True)),
        (9, 'RNN', {'nonlinearity': 'relu', 'bias': False}, lambda: nn.RNN(IN, HID, nonlinearity='relu', bias=False)),
        (10, 'LSTM', {'projSize': PROJ}, lambda: nn.LSTM(IN, HID, proj_size=PROJ)),
        (11, 'LSTMCell', {}, lambda: nn.LSTMCell(IN, HID)),
    ]:
        torch.manual_seed(seed)
        m = make()
        seeded.append({'seed': seed, 'module': module, 'options': {'inputSize': IN, 'hiddenSize': HID, **o},
                       'state': {k: enc(v, 9) for k, v in m.state_dict().items()}})

    # Inter-layer dropout in training mode draws from the default generator: same seed, same mask.
    m = nn.LSTM(IN, HID, num_layers=2, dropout=0.5)
    round_params(m)
    x = randn(T, NB, IN)
    m.train()
    torch.manual_seed(5)
    train_out, _ = m(x)
    m.eval()
    eval_out, _ = m(x)
    dropout = {'options': {'inputSize': IN, 'hiddenSize': HID, 'numLayers': 2, 'dropout': 0.5},
               'state': {k: enc(v) for k, v in m.state_dict().items()}, 'input': enc(x), 'seed': 5,
               'train': enc(train_out), 'eval': enc(eval_out)}

    doc = {'torch': torch.__version__, 'cases': cases, 'cells': cells, 'seeded': seeded, 'dropout': dropout}
    write_json(OUT, doc)
    print(f'wrote {OUT}: {len(cases)} cases, {len(cells)} cells, {len(seeded)} seeded, '
          f'{os.path.getsize(OUT)} bytes')


if __name__ == '__main__':
    main()
