#!/usr/bin/python3
"""Generate test/fixtures/untested_ops.json: PyTorch's values for public functions that had no
test of their own (test/tensor/untested_ops.test.ts).

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_untested_fixtures.py

Layout (output deterministic, keys sorted):

    {
      "torch": "1.13.0a0",
      "inputs": {name: T},                 inputs, rounded to 4 decimals (or exact) BEFORE PyTorch runs
      "cases": {name: {
          "args": [input name, ...],       the tensors the op takes, in order
          "out": T,                        PyTorch's result
          "gradOut": input name | null,    upstream gradient: loss = sum(out * inputs[gradOut])
          "grads": [T | null, ...]         gradient of each arg (null: not differentiable / not asked)
      }},
      "embedding": {name: {"options", "weight", "indices", "gradOut", "out", "grad" (dense),
                           "afterSgd" (weight after one optim.SGD step, lr 0.1), "repr"}},
      "isTensor": {what: bool}             torch.is_tensor of the analogous values
    }

where T is ``{"shape": [...], "dtype": "float32", "values": [...]}``; float32 inputs are exact
with 7 significant digits, float64 ones are written with 17; results are rounded to 7
significant digits. The JS side names the op of each case (the case name says which).
"""

import os

import torch
import torch.nn as nn

from fixture_util import enc, round_dec, write_json

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'untested_ops.json')

torch.set_num_threads(1)


def uniform(shape, seed, lo, hi, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return round_dec((torch.rand(*shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(dtype))


inputs = {}


def put(name, t):
    inputs[name] = t
    return name


# x: general values, with exact halves (round is half-to-even: -2.5 → -2, 0.5 → 0, 1.5 → 2,
# 2.5 → 2) and values just off a half.
x = uniform((3, 5), 1, -3, 3)
x[1] = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5])
x[2, :4] = torch.tensor([2.5, 3.5, 0.4999, -2.5001])
put('x', x)
put('xPos', uniform((3, 5), 2, 0.1, 3))            # log1p, rsqrt, reciprocal: a positive domain
put('g35', uniform((3, 5), 3, -1, 1))              # upstream gradient of the 3x5 results
put('halves64', torch.tensor([-5.5, -4.5, -3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5,
                              -0.0, 2.0, 0.49999999999999994, 1e300], dtype=torch.float64))
put('special', torch.tensor([1.0, float('inf'), float('-inf'), float('nan'), 0.0, -2.0, 3.4e38]))
put('special64', torch.tensor([float('-inf'), 1e308, float('nan'), float('inf')], dtype=torch.float64))
put('boolA', torch.tensor([True, True, False, False]))
put('boolB', torch.tensor([True, False, True, False]))
put('numA', torch.tensor([0.0, 1.5, 0.0, -2.0, float('nan')]))
put('numB', torch.tensor([0.0, 0.0, 3.0, -1.0, 0.0]))
put('int21', torch.tensor([[0], [7]]))
put('int3', torch.tensor([1, 0, -3]))
put('vecA', uniform((3,), 4, -2, 2))
put('vecB', uniform((4,), 5, -2, 2))
put('vecC', uniform((4,), 6, -2, 2))
put('g34', uniform((3, 4), 7, -1, 1))
put('gScalar', torch.tensor(0.75))
put('int64A', torch.tensor([3, -2, 7, 1]))
put('int64B', torch.tensor([-4, 5, 2, 9]))
put('near1', uniform((2, 3), 8, 0.5, 1.5))
put('withZeros', torch.tensor([[1.5, 0.0, -2.0], [0.0, 0.0, 3.0], [-0.5, 2.0, 1.25]]))
put('g3', uniform((3,), 9, -1, 1))
put('g13', uniform((1, 3), 10, -1, 1))
put('g23', uniform((2, 3), 11, -1, 1))
put('gScalar2', torch.tensor(-1.25))
put('remA', torch.tensor([-7.5, -3.0, -1.0, 0.0, 2.5, 7.0, 5.25, -0.5]))
put('remB', torch.tensor([2.0, -2.0, 3.0, -4.0, 1.5, -2.5, 0.75, 0.25]))
put('g8', uniform((8,), 12, -1, 1))
put('remIntA', torch.tensor([-7, -3, 5, 7, 0, -8]))
put('remIntB', torch.tensor([3, -2, 3, -4, 5, 3]))
put('intMat', torch.tensor([[1, -2, 3], [4, 5, -6]], dtype=torch.int32))
put('boolMat', torch.tensor([[True, False, True], [True, True, False]]))

cases = {}


def case(name, fn, args, grad_out=None, grads=None):
    """`fn(*tensors)`; with `grad_out`, the gradients of the args flagged in `grads` (default: all float args)."""
    ts = [inputs[a].clone() for a in args]
    want = grads if grads is not None else [t.is_floating_point() for t in ts]
    if grad_out is not None:
        for t, w in zip(ts, want):
            if w:
                t.requires_grad_(True)
    out = fn(*ts)
    entry = {'args': args, 'out': enc(out), 'gradOut': grad_out, 'grads': [None] * len(ts)}
    if grad_out is not None:
        (out * inputs[grad_out]).sum().backward()
        entry['grads'] = [enc(t.grad) if w else None for t, w in zip(ts, want)]
    cases[name] = entry


# elementwise (differentiable: gradients too; the rounding ops have a zero gradient)
for op in ['sin', 'cos', 'erf', 'expm1', 'floor', 'ceil', 'round', 'trunc']:
    case(op, getattr(torch, op), ['x'], 'g35')
for op in ['log1p', 'rsqrt', 'reciprocal']:
    case(op, getattr(torch, op), ['xPos'], 'g35')
case('round float64 (half to even)', torch.round, ['halves64'])
case('floor float64', torch.floor, ['halves64'])
case('ceil float64', torch.ceil, ['halves64'])
case('trunc float64', torch.trunc, ['halves64'])
case('sin of non-finite', torch.sin, ['special'])
case('expm1 of non-finite', torch.expm1, ['special'])
case('isinf', torch.isinf, ['special'])
case('isinf float64', torch.isinf, ['special64'])
case('isinf int64', torch.isinf, ['int3'])

# logic
case('logicalXor bool', torch.logical_xor, ['boolA', 'boolB'])
case('logicalXor float (nonzero is true, NaN too)', torch.logical_xor, ['numA', 'numB'])
case('logicalXor int64 broadcast', torch.logical_xor, ['int21', 'int3'])

# products
case('outer', torch.outer, ['vecA', 'vecB'], 'g34')
case('outer int64', torch.outer, ['int3', 'int64A'])
case('dot', torch.dot, ['vecB', 'vecC'], 'gScalar')
case('dot int64', torch.dot, ['int64A', 'int64B'])
case('prod', torch.prod, ['near1'], 'gScalar2')
case('prod dim 1', lambda t: torch.prod(t, 1), ['withZeros'], 'g3')
case('prod dim 0 keepdim', lambda t: torch.prod(t, 0, keepdim=True), ['withZeros'], 'g13')
case('prod of a tensor with zeros', torch.prod, ['withZeros'], 'gScalar')
case('prod int32 (promoted to int64)', torch.prod, ['intMat'])
case('prod bool (int64)', torch.prod, ['boolMat'])

# remainder: Python's modulo (the sign of the divisor)
case('remainder', torch.remainder, ['remA', 'remB'], 'g8')
case('remainder scalar -1.5', lambda t: torch.remainder(t, -1.5), ['remA'], 'g8')
case('remainder scalar 2', lambda t: torch.remainder(t, 2), ['remA'], 'g8')
case('remainder int64', torch.remainder, ['remIntA', 'remIntB'])
case('remainder int64 scalar -3', lambda t: torch.remainder(t, -3), ['remIntA'])

# cumsum
case('cumsum dim 0', lambda t: torch.cumsum(t, 0), ['near1'], 'g23')
case('cumsum dim 1', lambda t: torch.cumsum(t, 1), ['near1'], 'g23')
case('cumsum dim -1', lambda t: torch.cumsum(t, -1), ['withZeros'], 'withZeros')
case('cumsum int32 (promoted to int64)', lambda t: torch.cumsum(t, 1), ['intMat'])
case('cumsum bool (int64)', lambda t: torch.cumsum(t, 0), ['boolMat'])

# nn.Embedding(sparse=True): a sparse gradient (compared dense), and one SGD step with it
embedding = {}
for name, opts, py in [('sparse', {'sparse': True}, {'sparse': True}),
                       ('sparse paddingIdx', {'sparse': True, 'paddingIdx': 2}, {'sparse': True, 'padding_idx': 2})]:
    m = nn.Embedding(5, 3, **py)
    with torch.no_grad():
        m.weight.copy_(uniform((5, 3), 13, -1, 1))
    weight = m.weight.detach().clone()
    idx = torch.tensor([[0, 2, 2], [4, 2, 0]])
    g = uniform((2, 3, 3), 14, -1, 1)
    out = m(idx)
    (out * g).sum().backward()
    assert m.weight.grad.is_sparse
    grad = m.weight.grad.to_dense()
    torch.optim.SGD(m.parameters(), lr=0.1).step()
    embedding[name] = {'options': opts, 'weight': enc(weight), 'indices': enc(idx), 'gradOut': enc(g), 'out': enc(out),
                       'grad': enc(grad), 'afterSgd': enc(m.weight), 'repr': repr(m)}

is_tensor = {'tensor': torch.is_tensor(torch.ones(2)), 'parameter': torch.is_tensor(nn.Parameter(torch.ones(2))),
             'zero-dim tensor': torch.is_tensor(torch.tensor(1.0)), 'list': torch.is_tensor([1.0, 2.0]),
             'number': torch.is_tensor(1.5), 'none': torch.is_tensor(None), 'string': torch.is_tensor('x')}

write_json(OUT, {'torch': torch.__version__, 'inputs': {k: enc(v, digits=17 if v.dtype == torch.float64 else 7) for k, v in inputs.items()}, 'cases': cases,
                 'embedding': embedding, 'isTensor': is_tensor}, sort_keys=True)
