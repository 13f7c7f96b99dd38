#!/usr/bin/python3
"""Generate test/fixtures/format.json: reference output of PyTorch's tensor repr.

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_format_fixtures.py

Each case is ``{name, shape, dtype, values, requiresGrad, gradFn, expected}``
plus optional ``device`` and ``prefix``.  ``values`` is the flat row-major
contents: floats as JSON numbers (the exact double; for float32/16/bf16 this
is the value widened to double), the strings "nan", "inf", "-inf" for
non-finite floats, ints as JSON numbers (as decimal strings when outside the
IEEE-754 safe-integer range, so they can be read as BigInt), bools as
true/false.  The output is deterministic (fixed seeds, sorted keys).
"""

import json
import os
import sys

import torch
from torch import _tensor_str as ts

from fixture_util import DTYPE_NAMES, SAFE, num

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'format.json')

cases = []
names = set()


def flat_values(t):
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    vals = t.reshape(-1).tolist()
    out = []
    for v in vals:
        if isinstance(v, bool):
            out.append(v)
        elif isinstance(v, int):
            out.append(v if -SAFE <= v <= SAFE else str(v))
        else:
            out.append(num(v, None))
    return out


def grad_fn_name(t):
    if t.grad_fn is None:
        return None
    name = type(t.grad_fn).__name__
    if name == 'CppFunction':
        name = t.grad_fn.name().rsplit('::', 1)[-1]
    return name


def add(name, t, device=None, prefix=None):
    """Record ``repr(t)``; for a fake device or prefix, rebuild the repr with
    PyTorch's own helpers (``_tensor_str`` and ``_add_suffixes``) the same way
    ``_str_intern`` does, because this machine has no CUDA device."""
    assert name not in names, name
    names.add(name)
    if device is None and prefix is None:
        expected = repr(t)
    else:
        pre = prefix if prefix is not None else 'tensor('
        indent = len(pre)
        suffixes = []
        if device is not None:
            suffixes.append("device='" + device + "'")
        if t.numel() == 0:
            if t.dim() != 1:
                suffixes.append('size=' + str(tuple(t.shape)))
            if t.dtype != torch.get_default_dtype():
                suffixes.append('dtype=' + str(t.dtype))
            body = '[]'
        else:
            if t.dtype not in (torch.get_default_dtype(), torch.int64, torch.bool):
                suffixes.append('dtype=' + str(t.dtype))
            with torch.no_grad():
                body = ts._tensor_str(t.detach(), indent)
        gf = grad_fn_name(t)
        if gf is not None:
            suffixes.append('grad_fn=<{}>'.format(gf))
        elif t.requires_grad:
            suffixes.append('requires_grad=True')
        expected = ts._add_suffixes(pre + body, suffixes, indent, False)
    case = {
        'name': name,
        'shape': list(t.shape),
        'dtype': DTYPE_NAMES[t.dtype],
        'values': flat_values(t),
        'requiresGrad': bool(t.requires_grad),
        'gradFn': grad_fn_name(t),
        'expected': expected,
    }
    if device is not None:
        case['device'] = device
    if prefix is not None:
        case['prefix'] = prefix
    cases.append(case)


def dyadic(shape, seed, lo=-4000, hi=4000, denom=32, dtype=torch.float32):
    """Short-to-serialise random floats k/denom (also exercises exact ties)."""
    g = torch.Generator().manual_seed(seed)
    if isinstance(shape, int):
        shape = (shape,)
    return (torch.randint(lo, hi, shape, generator=g).to(torch.float64) / denom).to(dtype)


def randn(shape, seed, dtype=torch.float32, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def main():
    nan, inf = float('nan'), float('inf')
    T = torch.tensor

    # ---- 0-dim -------------------------------------------------------------
    add('scalar float integral', T(3.))
    add('scalar float fraction', T(3.14159))
    add('scalar float negative', T(-2.5))
    add('scalar int64', T(5))
    add('scalar int64 negative', T(-42))
    add('scalar bool', T(True))
    add('scalar bool false', T(False))
    add('scalar float64', T(2.5, dtype=torch.float64))
    add('scalar int32', T(7, dtype=torch.int32))
    add('scalar sci large', T(1e10))
    add('scalar sci small', T(1.5e-7))
    add('scalar nan', T(nan))
    add('scalar inf', T(inf))
    add('scalar -inf', T(-inf))
    add('scalar zero', T(0.))
    add('scalar negative zero', T(-0.))
    add('scalar float16', T(0.1, dtype=torch.float16))
    add('scalar requires_grad', T(1.5, requires_grad=True))
    a = T([1., 2., 3.], requires_grad=True)
    add('scalar sum grad_fn', a.sum())
    add('scalar mean grad_fn', (a * 1.5).mean())

    # ---- empty -------------------------------------------------------------
    add('empty float', torch.empty(0))
    add('empty 0x3', torch.empty(0, 3))
    add('empty 2x0x3', torch.empty(2, 0, 3))
    add('empty int64', torch.empty(0, dtype=torch.int64))
    add('empty float64', torch.empty(0, dtype=torch.float64))
    add('empty bool 3x0', torch.empty(3, 0, dtype=torch.bool))
    add('empty requires_grad', torch.empty(0, requires_grad=True))

    # ---- 1-D floats --------------------------------------------------------
    add('1d randn 5', randn(5, 1))
    add('1d randn scaled 8', randn(8, 2, scale=100.))
    add('1d all integral floats', torch.arange(10, dtype=torch.float32))
    add('1d integral negative floats', T([-3., 0., 12., -100.]))
    add('1d mixed integral and fraction', T([1., 2.5, -3.]))
    add('1d negative zero', T([-0., 0., 1.]))
    add('1d negative zero fraction', T([-0., 1.5]))
    add('1d all zeros', torch.zeros(4))
    add('1d tiny rounding to zero', T([-0.00001, 0.5]) * 1)
    add('1d rounding boundary', T([9.99995, 0.99995, 0.12345]))
    add('1d exact ties half-even', T([1 / 32, 3 / 32, 5 / 32, 7 / 32, 2.5]))
    add('1d float64 ties', T([0.03125, 0.09375, 1.15625], dtype=torch.float64))
    add('1d float64 precision', T([1.123456789, -2.987654321, 1 / 3], dtype=torch.float64))
    add('1d nan inf mixed', T([1., nan, inf, -inf]))
    add('1d nan inf fraction', T([1.5, nan, -inf, 0.25]))
    add('1d all nonfinite', T([nan, inf, -inf]))
    add('1d nan with zeros', T([nan, 0., -0.]))
    add('1d float16', randn(6, 3, dtype=torch.float16))
    add('1d bfloat16', randn(6, 4, dtype=torch.bfloat16))
    add('1d float16 integral', T([1., 20., -7.], dtype=torch.float16))
    add('1d float16 integral sci', T([1., 2048., -7.], dtype=torch.float16))
    add('1d bfloat16 large', T([3e38, 1., -2.], dtype=torch.bfloat16))

    # ---- sci mode ----------------------------------------------------------
    add('sci tiny min', T([1e-5, 1.]))
    add('sci float32 1e-4 boundary', T([1e-4, 1.]))
    add('sci float64 1e-4 boundary', T([1e-4, 1.], dtype=torch.float64))
    add('sci ratio > 1000', T([1., 2000.5]))
    add('sci max > 1e8', T([1.5e8, 2.25]))
    add('sci int mode ratio', T([1., 10000.]))
    add('sci int mode large', T([1e9, 2e9]))
    add('no sci int mode 1e8', T([1e8, 5e7]))
    add('no sci ratio exactly 1000', T([1., 1000.]))
    add('sci with nan inf', T([1e-8, nan, inf, 3.]))
    add('sci negative', T([-1e10, 1e-3, -0.]))
    add('sci exact tie', T([100005., 1.]))
    add('sci exact tie fraction', T([1.03125, 1e-5]))
    add('sci rounding carry', T([9.99996, 1e-6], dtype=torch.float64))
    add('sci huge float64', T([1e300, -1e-300, 1.], dtype=torch.float64))
    add('sci subnormal float64', T([5e-324, 1.], dtype=torch.float64))
    add('sci three-digit exponent', T([1.5e200, 2.], dtype=torch.float64))
    add('sci randn mixed magnitudes', randn(7, 5) * T([1e-6, 1, 1e3, 1e6, 1, 1, 1e-2]))

    # ---- ints / bool -------------------------------------------------------
    add('1d int64 arange', torch.arange(10))
    add('1d int64 negative', T([-5, 3, -100, 0]))
    add('1d int64 large', T([123456789, -987654321, 2 ** 40]))
    add('1d int64 extreme', T([2 ** 63 - 1, -2 ** 63, 0]))
    add('1d int32', T([1, -2, 300], dtype=torch.int32))
    add('1d int16', T([-32768, 32767, 5], dtype=torch.int16))
    add('1d int8', T([-128, 127, 0, 9], dtype=torch.int8))
    add('1d uint8', T([0, 255, 17], dtype=torch.uint8))
    add('1d bool', T([True, False, True]))
    add('2d bool', T([[True, False], [False, False]]))
    add('1d bool all true', torch.ones(3, dtype=torch.bool))

    # ---- wrapping at linewidth 80 -------------------------------------------
    add('1d randn 30 wraps', randn(30, 5))
    add('1d int arange 100 wraps', torch.arange(100))
    add('1d int large wraps', torch.arange(40) * 123456789)
    add('2d 3x20 wraps', randn((3, 20), 6))
    add('3d 2x2x30 wraps', dyadic((2, 2, 30), 7))
    add('1d float64 wrap with dtype suffix', randn(14, 8, dtype=torch.float64))
    add('1d float64 suffix on new line', randn(8, 9, dtype=torch.float64))
    add('1d suffix just fits', dyadic(9, 10, denom=16, dtype=torch.float64))
    add('1d requires_grad suffix wraps', randn(9, 11).requires_grad_())
    add('1d sci wraps', randn(20, 12) * 1e-6)

    # ---- nested dims -------------------------------------------------------
    add('2d randn 3x4', randn((3, 4), 13))
    add('2d int 2x3', T([[1, 2, 3], [4, 5, 6]]))
    add('3d 2x3x4', randn((2, 3, 4), 14))
    add('4d 2x2x2x3', dyadic((2, 2, 2, 3), 15))
    add('4d int 2x1x2x2', torch.arange(8).reshape(2, 1, 2, 2))
    add('2d float64', randn((2, 3), 16, dtype=torch.float64))
    add('2d uint8', torch.arange(12, dtype=torch.uint8).reshape(3, 4))
    add('3d 1x1x1', T([[[7.5]]]))
    add('2d 1x0 inside 3d is empty', torch.empty(2, 1, 0))

    # ---- summarization (> 1000 elements) -----------------------------------
    add('summary 1d 1100 floats', dyadic(1100, 20))
    add('summary 1d 1001 ints', torch.arange(1001))
    add('summary 1d 1000 ints not summarized', torch.arange(1000) - 7)
    add('summary 2d 32x32 randn', randn((32, 32), 21))
    add('summary 3d 8x8x16', dyadic((8, 8, 16), 22))
    add('summary 4d 3x4x5x17', dyadic((3, 4, 5, 17), 23, denom=4))
    add('summary 2d 2x600 short rows', dyadic((2, 600), 24, denom=2))
    add('summary int64 2d 30x40', torch.arange(1200).reshape(30, 40) - 600)
    add('summary bool', (torch.arange(1100) % 3 == 0))
    add('summary float64', dyadic((1100,), 25, dtype=torch.float64))
    # Values outside the edges are extreme: the formatter only sees the edges.
    s = torch.ones(1500)
    s[500] = 1e20
    s[700] = 1e-20
    add('summary hidden extremes', s)
    s2 = torch.arange(1200, dtype=torch.float32)
    s2[600] = 0.5
    add('summary hidden fraction', s2)

    # ---- autograd suffixes -------------------------------------------------
    a = randn(4, 30).requires_grad_()
    b = randn(4, 31).requires_grad_()
    add('requires_grad leaf', a)
    add('grad_fn mul', a * 2)
    add('grad_fn add', a + b)
    add('grad_fn sum', a.sum())
    add('grad_fn float64', randn(3, 32, dtype=torch.float64).requires_grad_() * 3)
    add('requires_grad float64 leaf', T([1., 2.], dtype=torch.float64, requires_grad=True))
    add('grad_fn view', randn((2, 3), 33).requires_grad_().view(3, 2))

    # ---- device / prefix (rebuilt with _tensor_str/_add_suffixes) ----------
    add('device cuda', randn(3, 40), device='cuda:0')
    add('device cuda int32 empty', torch.empty(0, 2, dtype=torch.int32), device='cuda:0')
    add('device cuda grad', randn(3, 41).requires_grad_(), device='cuda:1')
    add('device cuda float64 wrap', randn(7, 42, dtype=torch.float64), device='cuda:0')
    add('prefix custom', randn((2, 3), 43), prefix='Parameter(')
    add('prefix nested wrap', randn((2, 15), 44), prefix='Foo(')

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    # One case per line keeps the file compact yet diffable.
    text = '[\n' + ',\n'.join(
        json.dumps(c, sort_keys=True, allow_nan=False, separators=(',', ':')) for c in cases
    ) + '\n]\n'
    with open(OUT, 'w') as f:
        f.write(text)
    print('wrote {} cases, {} bytes to {}'.format(len(cases), len(text), os.path.normpath(OUT)),
          file=sys.stderr)


if __name__ == '__main__':
    main()
