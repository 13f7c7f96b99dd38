"""Helpers shared by the fixture generators scripts/gen_*.py (not a generator itself).

The generators run as ``/usr/bin/python3 scripts/gen_x.py`` (Debian's python3-torch 1.13), so
the script's directory is on ``sys.path`` and ``import fixture_util`` finds this file.

A tensor T is encoded as ``{"shape": [...], "dtype": "float32", "values": [flat row-major]}``
(the layout test/helpers.ts reads), non-finite floats as the strings "nan", "inf", "-inf".
Every helper here must keep the generators' output byte-identical: change one only together
with regenerating (and reviewing) all fixtures.
"""

import json
import math
import os

import torch

# Largest integer a JS number holds exactly (Number.MAX_SAFE_INTEGER).
SAFE = 2 ** 53 - 1

DTYPE_NAMES = {
    torch.float32: 'float32',
    torch.float64: 'float64',
    torch.float16: 'float16',
    torch.bfloat16: 'bfloat16',
    torch.int64: 'int64',
    torch.int32: 'int32',
    torch.int16: 'int16',
    torch.int8: 'int8',
    torch.uint8: 'uint8',
    torch.bool: 'bool',
}
FROM_NAME = {v: k for k, v in DTYPE_NAMES.items()}


def num(v, digits=7, integral_as_int=True):
    """A float for JSON: NaN / +-inf as 'nan' / 'inf' / '-inf'; otherwise rounded to `digits`
    significant digits (digits=None: unrounded) and, when `integral_as_int`, an integral value
    below 1e15 as an int (so JSON holds ``2``, not ``2.0``)."""
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    if digits is None:
        return v
    r = float('%.*g' % (digits, v))
    return int(r) if integral_as_int and r.is_integer() and abs(r) < 1e15 else r


def enc(t, dtype=None, digits=7, integral_as_int=True):
    """T of tensor `t` (first converted to `dtype` if given): float values through
    num(v, digits, integral_as_int), ints and bools as they are."""
    t = t.detach()
    if dtype is not None:
        t = t.to(dtype)
    vals = t.reshape(-1).tolist()
    if t.dtype.is_floating_point:
        vals = [num(v, digits, integral_as_int) for v in vals]
    return {'shape': list(t.shape), 'dtype': DTYPE_NAMES[t.dtype], 'values': vals}


def dec(e):
    """The tensor of T `e` (the inverse of the generators' encoders)."""
    vals = [float(v) if isinstance(v, str) else v for v in e['values']]
    return torch.tensor(vals, dtype=FROM_NAME[e['dtype']]).reshape(e['shape'])


def round_sig(t, digits=7):
    """`t` with its values rounded to `digits` significant digits (what the JS side rebuilds
    exactly from the JSON)."""
    t = t.detach()
    return torch.tensor([float('%.*g' % (digits, v)) for v in t.reshape(-1).tolist()],
                        dtype=t.dtype).reshape(t.shape)


def round_dec(t, decimals=4):
    """`t` with its values rounded to `decimals` decimals (what the JSON holds, exactly)."""
    t = t.detach()
    return torch.tensor([round(v, decimals) for v in t.reshape(-1).tolist()], dtype=t.dtype).reshape(t.shape)


def rnd(*shape, seed, scale=1.0, dtype=torch.float32):
    """Normal(0, scale) values from a generator seeded with `seed`, drawn in float64, converted
    to `dtype` and rounded to 7 significant digits."""
    g = torch.Generator().manual_seed(seed)
    return round_sig(torch.randn(*shape, generator=g, dtype=torch.float64).mul(scale).to(dtype))


def write_json(path, data, sort_keys=False, allow_nan=True):
    """Writes `data` as compact JSON (no spaces) plus a final newline."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, sort_keys=sort_keys, separators=(',', ':'), allow_nan=allow_nan)
        f.write('\n')
