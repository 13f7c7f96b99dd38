#!/usr/bin/python3
"""Generate test/fixtures/tensor_ops.json: PyTorch's results for the tensor integration tests.

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_tensor_fixtures.py

Layout of the JSON file (all keys sorted, output deterministic):

    {
      "inputs":  { name: T },            inputs shared by the tests; the JS tests rebuild them
                                         with torch.tensor(values, {dtype}).reshape(shape)
      "outputs": { name: T | [T, ...] }, results of ops on those inputs ("math.add", ...)
      "index":   [ {"input": name, "spec": [item, ...], "out": T}, ... ]
      "gradfn":  { name: "AddBackward0", ... }
    }

where T is ``{"shape": [...], "dtype": "float32", "values": [flat row-major values]}``.
Float values are JSON numbers (float32 results with 9 significant digits, float64 with 17) or
the strings "nan", "inf", "-inf"; integers are JSON numbers; bools are true/false.

Index items in ``spec``: an integer, a slice string (':', '1:3', '::2'), '...', null (None),
or ``{"tensor": T}`` (an int64 or bool index tensor).

Inputs are multiples of 1/64 (exact in float32 and short in JSON), so the JS side builds
bit-identical tensors.
"""

import os

import torch

from fixture_util import DTYPE_NAMES, SAFE, dec, num, write_json

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'tensor_ops.json')

inputs = {}
outputs = {}
index_cases = []
gradfn = {}


def enc(t):
    t = t.detach()
    dtype = DTYPE_NAMES[t.dtype]
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    vals = t.reshape(-1).tolist()
    digits = 17 if dtype == 'float64' else 9
    out = []
    for v in vals:
        if isinstance(v, bool):
            out.append(v)
        elif isinstance(v, int):
            assert -SAFE <= v <= SAFE
            out.append(v)
        else:
            out.append(num(v, digits))
    return {'shape': list(t.shape), 'dtype': dtype, 'values': out}


def put_input(name, t):
    assert name not in inputs, name
    inputs[name] = enc(t)
    # round trip: what the JS side builds is exactly this tensor
    back = dec(inputs[name])
    assert torch.equal(back, t.detach()), name
    return back


def put(name, value):
    assert name not in outputs, name
    if isinstance(value, (tuple, list)):
        outputs[name] = [enc(v) for v in value]
    else:
        outputs[name] = enc(value)


def dyadic(name, shape, seed, lo=-4.0, hi=4.0, positive=False):
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(int(lo * 64), int(hi * 64), shape, generator=g)
    if positive:
        k = k.abs() + 16  # >= 0.25
    return put_input(name, k.to(torch.float64).div(64).to(torch.float32))


def distinct(name, shape, seed):
    """Values without ties (so max/min gradients and indices are unambiguous)."""
    g = torch.Generator().manual_seed(seed)
    n = 1
    for s in shape:
        n *= s
    p = torch.randperm(n, generator=g).reshape(shape)
    return put_input(name, (p.to(torch.float32) - n / 2) / 4)


# ---------------------------------------------------------------------------------------------
# inputs
a = dyadic('a', (3, 4), 1)
b = dyadic('b', (3, 4), 2)
c = dyadic('c', (4,), 3)
col = dyadic('col', (3, 1), 4)
row = dyadic('row', (1, 4), 5)
pos = dyadic('pos', (3, 4), 6, positive=True)
m1 = dyadic('m1', (2, 3), 7, -2, 2)
m2 = dyadic('m2', (3, 4), 8, -2, 2)
v3 = dyadic('v3', (3,), 9, -2, 2)
w = dyadic('w', (4, 2), 10, -2, 2)
b1 = dyadic('b1', (2, 2, 3), 11, -2, 2)
b2 = dyadic('b2', (2, 3, 2), 12, -2, 2)
x3 = dyadic('x3', (2, 3, 4), 13)
d = distinct('d', (3, 4), 14)
g34 = dyadic('g34', (3, 4), 15, -2, 2)
ia = put_input('ia', torch.tensor([[-5, -3, -1, 0], [1, 2, 3, 4], [7, -7, 9, -9]], dtype=torch.int64))
ib = put_input('ib', torch.tensor([[2, 2, 2, 3], [-2, 3, 2, -3], [2, 2, -4, 4]], dtype=torch.int64))
mask = put_input('mask', torch.tensor([[True, False, False, True], [False, True, True, False],
                                       [True, True, False, False]]))
mask2 = put_input('mask2', torch.tensor([[True, True, False, False], [False, True, False, True],
                                         [True, False, True, False]]))
maskrow = put_input('maskrow', torch.tensor([False, True, False, True]))

# ---------------------------------------------------------------------------------------------
# creation: seeded random numbers, linspace/arange values, dtype rounding
torch.manual_seed(1234)
put('seed.randn_2x3', torch.randn(2, 3))
put('seed.rand_4', torch.rand(4))
put('seed.randint_0_10_5', torch.randint(0, 10, (5,)))
put('seed.randn_20', torch.randn(20))
put('seed.randperm_6', torch.randperm(6))
torch.manual_seed(7)
put('seed7.randn_3_f64', torch.randn(3, dtype=torch.float64))
put('seed7.rand_2x2_f64', torch.rand(2, 2, dtype=torch.float64))
torch.manual_seed(99)
put('seed99.randn_2x2', torch.randn(2, 2))

put('create.linspace_0_1_7', torch.linspace(0, 1, 7))
put('create.linspace_m2_3_5', torch.linspace(-2, 3, 5))
put('create.arange_0_1_0.1', torch.arange(0, 1, 0.1))
put('create.arange_1_2.5_0.5', torch.arange(1, 2.5, 0.5))
put('create.arange_m3_3', torch.arange(-3, 3))
put('create.arange_10_0_m3', torch.arange(10, 0, -3))
rounding = put_input('rounding', torch.tensor([0.1, 1 / 3, -2.5, 1000.5, 65504.0, 70000.0, 1e-8, 3.14159265],
                                              dtype=torch.float64))
put('create.to_float16', rounding.to(torch.float16))
put('create.to_bfloat16', rounding.to(torch.bfloat16))
put('create.to_float32', rounding.to(torch.float32))
put('create.triu', a.triu())
put('create.triu_1', a.triu(1))
put('create.tril_m1', a.tril(-1))

# ---------------------------------------------------------------------------------------------
# math
put('math.add', a + b)
put('math.add_scalar_int', a + 2)
put('math.add_scalar_float', a + 0.5)
put('math.add_alpha', a.add(b, alpha=2))
put('math.sub_alpha', a.sub(b, alpha=0.5))
put('math.add_bcast_row', a + c)
put('math.add_bcast_outer', col + row)
put('math.sub', a - b)
put('math.sub_scalar', a - 1.25)
put('math.mul', a * b)
put('math.mul_scalar', a * 3)
put('math.div', a / pos)
put('math.div_scalar', a / 4)
put('math.div_int_int', ia / ib)
put('math.div_floor', ia.div(ib, rounding_mode='floor'))
put('math.div_trunc', ia.div(ib, rounding_mode='trunc'))
put('math.div_float_floor', a.div(pos, rounding_mode='floor'))
put('math.pow', pos ** b)
put('math.pow_2', a ** 2)
put('math.pow_half', pos ** 0.5)
put('math.pow_int', ia ** 2)
put('math.neg', a.neg())
put('math.abs', a.abs())
put('math.exp', a.exp())
put('math.log', pos.log())
put('math.log_neg', a.log())
put('math.sqrt', pos.sqrt())
put('math.tanh', a.tanh())
put('math.sigmoid', a.sigmoid())
put('math.relu', a.relu())
put('math.gelu', torch.nn.functional.gelu(a))
put('math.gelu_tanh', torch.nn.functional.gelu(a, approximate='tanh'))
put('math.softmax_0', a.softmax(0))
put('math.softmax_1', a.softmax(1))
put('math.softmax_x3_m1', x3.softmax(-1))
put('math.log_softmax_1', a.log_softmax(1))
put('math.log_softmax_0_f64', a.log_softmax(0, dtype=torch.float64))
put('math.matmul', m1 @ m2)
put('math.matmul_mv', m1 @ v3)
put('math.matmul_vm', v3 @ m2)
put('math.matmul_batched', b1 @ b2)
put('math.matmul_bcast', b1 @ m2)
put('math.bmm', b1.bmm(b2))
put('math.clamp', a.clamp(-1, 1))
put('math.clamp_min', a.clamp(min=0))
put('math.clamp_max', a.clamp(max=0.5))
put('math.clamp_tensor', a.clamp(min=b))
put('math.clamp_tensors', a.clamp(min=col, max=row))
put('math.maximum', torch.maximum(a, b))
put('math.minimum', torch.minimum(a, b))
put('math.eq', a.eq(b))
put('math.ne', a.ne(b))
put('math.lt', a.lt(b))
put('math.le', a.le(b))
put('math.gt', a.gt(b))
put('math.ge', a.ge(b))
put('math.lt_scalar', a.lt(0.5))
put('math.ge_scalar', a.ge(-1))
put('math.eq_int_scalar', ia.eq(2))
put('math.gt_bcast', a.gt(c))
put('math.logical_and', mask.logical_and(mask2))
put('math.logical_or', mask.logical_or(mask2))
put('math.logical_not', mask.logical_not())
put('math.masked_fill', a.masked_fill(mask, -1.5))
put('math.masked_fill_row', a.masked_fill(maskrow, 0))
put('math.masked_fill_tensor', a.masked_fill(mask, torch.tensor(9.0)))
put('math.where', torch.where(mask, a, b))
put('math.where_scalar_other', torch.where(mask, a, 0.0))
put('math.where_scalar_input', torch.where(mask, 1.5, b))
put('math.where_method', a.where(mask, b))
# type promotion
put('math.promote_int_float', ia + a)
put('math.promote_int_scalar_float', ia + 0.5)
put('math.promote_int_scalar_int', ia * 2)
put('math.promote_int32_int64', ia.to(torch.int32) + ia)
put('math.promote_f64_f32', a.double() + a)
put('math.promote_bool_int', mask + 1)
put('math.promote_int_div_scalar', ia / 2)
# reductions
put('math.sum', a.sum())
put('math.sum_0', a.sum(0))
put('math.sum_1_keepdim', a.sum(1, keepdim=True))
put('math.sum_x3_02', x3.sum((0, 2)))
put('math.sum_int', ia.sum())
put('math.sum_f64', a.sum(dtype=torch.float64))
put('math.mean', a.mean())
put('math.mean_m1', a.mean(-1))
put('math.mean_0_keepdim', a.mean(0, keepdim=True))
put('math.mean_x3_01', x3.mean((0, 1)))
put('math.max', d.max())
put('math.min', d.min())
put('math.max_1', list(d.max(1)))
put('math.min_0_keepdim', list(d.min(0, keepdim=True)))
put('math.argmax', d.argmax())
put('math.argmax_1', d.argmax(1))
put('math.argmin_0_keepdim', d.argmin(0, keepdim=True))
put('math.var', a.var())
put('math.var_1', a.var(1))
put('math.var_biased', a.var(unbiased=False))
put('math.var_x3_02', x3.var((0, 2)))
put('math.std', a.std())
put('math.std_0_keepdim', a.std(0, keepdim=True))
put('math.std_1_biased', a.std(1, unbiased=False))
put('math.inplace_chain', a.clone().add_(b).mul_(2).sub_(c, alpha=2).div_(pos).clamp_(-1, 1))

# ---------------------------------------------------------------------------------------------
# shape
X = put_input('X', torch.arange(24, dtype=torch.float32).reshape(2, 3, 4))
Y = put_input('Y', torch.arange(6, dtype=torch.float32).reshape(1, 3, 1, 2))
gidx = put_input('gidx', torch.tensor([[[3, 0], [1, 1], [2, 0]], [[0, 0], [3, 2], [1, 3]]], dtype=torch.int64))
put('shape.reshape_4_m1', X.reshape(4, -1))
put('shape.view_6_4', X.view(6, 4))
put('shape.flatten', X.flatten())
put('shape.flatten_1', X.flatten(1))
put('shape.flatten_0_1', X.flatten(0, 1))
put('shape.squeeze', Y.squeeze())
put('shape.squeeze_2', Y.squeeze(2))
put('shape.squeeze_1_noop', Y.squeeze(1))
put('shape.unsqueeze_0', X.unsqueeze(0))
put('shape.unsqueeze_m1', X.unsqueeze(-1))
put('shape.permute_2_0_1', X.permute(2, 0, 1))
put('shape.transpose_0_2', X.transpose(0, 2))
put('shape.t', a.t())
put('shape.expand_col', col.expand(3, 4))
put('shape.expand_m1', Y.expand(2, -1, 3, -1))
put('shape.narrow_2_1_2', X.narrow(2, 1, 2))
put('shape.select_1_m1', X.select(1, -1))
put('shape.index_select_2', X.index_select(2, torch.tensor([3, 0, 3])))
put('shape.gather_2', X.gather(2, gidx))
put('shape.chunk_3_2', list(X.chunk(3, 2)))
put('shape.chunk_2_1', list(X.chunk(2, 1)))
put('shape.split_2_2', list(X.split(2, 2)))
put('shape.split_1_2_d1', list(X.split([1, 2], 1)))
put('shape.cat_0', torch.cat([X, X * 10], 0))
put('shape.cat_m1', torch.cat([a, b, a], -1))
put('shape.stack_0', torch.stack([a, b], 0))
put('shape.stack_2', torch.stack([a, b, c.expand(3, 4)], 2))


def spec_item(it):
    if it is None or isinstance(it, int):
        return it
    if isinstance(it, str):
        if it == '...':
            return Ellipsis
        parts = [int(p) if p.strip() else None for p in it.split(':')]
        return slice(*parts)
    return dec(it['tensor'])


def add_index(inp, spec):
    t = {'X': X, 'a': a}[inp]
    enc_spec = [{'tensor': enc(s)} if isinstance(s, torch.Tensor) else s for s in spec]
    result = t[tuple(spec_item(s) for s in enc_spec)]
    index_cases.append({'input': inp, 'spec': enc_spec, 'out': enc(result)})


L = lambda *v: torch.tensor(v, dtype=torch.int64)
for spec in [
    [0], [-1], [0, 1], [0, 1, 2], [-1, -2, -3], [':'], [':', -1], ['...', -1], ['...', None], [None],
    [None, 0, None], ['1:'], [':', '::2'], [':', ':', '1:3'], [':', ':', '-3:-1'], [':', '1:', '::3'],
    ['...', '1:3'], [0, '...', 2], [':', '5:10'], ['...'], [1, None, '...', None],
    [X[:, :, 0] > 5], [X > 10], [':', torch.tensor([True, False, True])], [L(1, 0)], [':', L(2, 0, 2)],
    [':', ':', torch.tensor([[0, 1], [2, 3]])], [L(0, 1), ':', L(1, 2)], [0, ':', L(0, 1)],
    [L(0, 1), L(1, 2)], ['...', L(3)], [None, L(1)], [L(1, 0), None], [':', L(2, 0), '1:3'],
    [L(1, 1, 0), L(2, 0, 1), L(3, 2, 1)], [torch.tensor([True, False]), 0, '1:'],
    [torch.tensor(1)], [':', torch.tensor(2)], [torch.tensor(True)], [0, torch.tensor(False)],
]:
    add_index('X', spec)
add_index('a', [mask])
add_index('a', [':', maskrow])
add_index('a', [a > 0])

# ---------------------------------------------------------------------------------------------
# autograd: for each case, the value and the gradient of every input


def grad_case(name, names, fn, gradient=None):
    ts = [torch.tensor(inputs_t[n].tolist(), dtype=torch.float32, requires_grad=True) for n in names]
    out = fn(*ts)
    if gradient is None:
        out.backward()
    else:
        out.backward(gradient)
    outputs['grad.' + name] = {'out': enc(out), 'grads': {n: enc(t.grad) for n, t in zip(names, ts)}}


inputs_t = {'a': a, 'b': b, 'c': c, 'col': col, 'row': row, 'pos': pos, 'm1': m1, 'm2': m2, 'w': w,
            'b1': b1, 'b2': b2, 'd': d, 'x3': x3, 'v3': v3}
F = torch.nn.functional
grad_case('mul_exp', ['a', 'b'], lambda x, y: (x * y + x.exp()).sum())
grad_case('softmax_log_mean', ['a'], lambda x: x.softmax(1).log().mean())
grad_case('log_softmax_mul', ['a', 'b'], lambda x, y: x.log_softmax(0).mul(y).mean())
grad_case('matmul_chain', ['m1', 'm2', 'w'], lambda p, q, r: (p @ q).tanh().matmul(r).pow(2).sum())
grad_case('bmm', ['b1', 'b2'], lambda p, q: p.bmm(q).sigmoid().sum())
grad_case('activations', ['a'], lambda x: (x.tanh() * x.sigmoid() + F.gelu(x) - x.relu() * 3).sum())
grad_case('gelu_tanh', ['a'], lambda x: F.gelu(x, approximate='tanh').sum())
grad_case('pow', ['pos', 'b'], lambda p, q: (p ** q).sum() + (q ** 3).sum())
grad_case('div', ['a', 'pos'], lambda x, p: (x / p).sum() + (x / 4).sum())
grad_case('bcast_add', ['col', 'row'], lambda p, q: (p + q).pow(2).sum())
grad_case('unary_chain', ['pos', 'a'], lambda p, x: (p.sqrt().log() + x.abs().exp().neg()).sum())
grad_case('max_min', ['d'], lambda x: x.max() + x.min() * 2 + x.max(1)[0].sum() + x.min(0, keepdim=True)[0].sum() * 3)
grad_case('var_std', ['a'], lambda x: x.var() + x.std(1).sum() + x.var(0, unbiased=False).sum())
grad_case('masked_fill', ['a', 'b'], lambda x, y: x.masked_fill(mask, 0).mul(y).sum())
grad_case('where', ['a', 'b'], lambda x, y: torch.where(mask, x * 2, y * 3).sum())
grad_case('clamp', ['a'], lambda x: x.clamp(-1, 1).mul(x).sum())
grad_case('clamp_tensor', ['a', 'b'], lambda x, y: x.clamp(min=y).sum())
grad_case('maximum', ['a', 'b'], lambda x, y: torch.maximum(x, y).mul(x).sum())
grad_case('mean_sum_keepdim', ['x3'], lambda x: x.sum(1, keepdim=True).mul(x).mean((0, 2)).sum())
grad_case('shape_ops', ['x3'], lambda x: x.permute(2, 0, 1).reshape(4, 6)[1:3].t().mul(torch.arange(12.).reshape(6, 2)).sum())
grad_case('cat_stack', ['a', 'b'], lambda x, y: torch.cat([x, y * 2], 1).sum(0).mul(torch.stack([x, y]).sum((0, 1)).repeat(2)).sum())
grad_case('nonscalar', ['a', 'b'], lambda x, y: x * 2 + y * x, gradient=g34)

# grad_fn names, as PyTorch prints them
x_ = a.clone().requires_grad_()
y_ = b.clone().requires_grad_()
for name, t in [
    ('add', x_ + y_), ('add_scalar', x_ + 1), ('sub', x_ - y_), ('sub_scalar', x_ - 1), ('mul', x_ * y_),
    ('mul_scalar', x_ * 2), ('div', x_ / y_), ('div_scalar', x_ / 2), ('pow_scalar', x_ ** 2), ('pow_tensor', x_ ** y_), ('neg', -x_), ('exp', x_.exp()),
    ('tanh', x_.tanh()), ('sigmoid', x_.sigmoid()), ('relu', x_.relu()), ('softmax', x_.softmax(1)),
    ('log_softmax', x_.log_softmax(1)), ('matmul', x_ @ y_.t()), ('t', x_.t()), ('sum', x_.sum()),
    ('sum_dim', x_.sum(1)), ('mean', x_.mean()), ('max', x_.max()), ('max_dim', x_.max(1)[0]),
    ('reshape', x_.reshape(12)), ('view', x_.view(4, 3)), ('unsqueeze', x_.unsqueeze(0)),
    ('permute', x_.permute(1, 0)), ('select', x_.select(0, 1)), ('clamp', x_.clamp(-1, 1)),
    ('masked_fill', x_.masked_fill(mask, 0)), ('where', torch.where(mask, x_, y_)), ('var', x_.var()),
    ('std', x_.std()), ('gelu', F.gelu(x_)), ('cat', torch.cat([x_, y_])), ('stack', torch.stack([x_, y_])),
    ('index_select', x_.index_select(0, L(0))), ('expand', x_[:1].expand(3, 4)), ('slice', x_[1:]),
]:
    gradfn[name] = t.grad_fn.name().rsplit('::', 1)[-1]

data = {'inputs': inputs, 'outputs': outputs, 'index': index_cases, 'gradfn': gradfn}
write_json(OUT, data, sort_keys=True)
print('wrote %s (%d bytes, %d inputs, %d outputs, %d index cases)' % (
    os.path.relpath(OUT), os.path.getsize(OUT), len(inputs), len(outputs), len(index_cases)))
