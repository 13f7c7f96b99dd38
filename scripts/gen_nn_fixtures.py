#!/usr/bin/python3
"""Generate test/fixtures/nn_{module,layers,init}.json: PyTorch's results for the nn core tests.

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_nn_fixtures.py

A tensor T is stored as ``{"shape": [...], "dtype": "float32", "values": [flat row-major]}``
(the layout test/helpers.ts reads). Floats are rounded to 7 significant digits. Every tensor
the JS side feeds in (inputs, weights, upstream gradients) is rounded *before* PyTorch uses it,
so both sides compute from bit-identical float32 values.

The Python classes below carry the same names as the JS classes in test/nn/*.test.ts, so that
``repr(module)`` and the JS ``toString()`` can be compared character for character.

    nn_module.json  {"net": {...}, "tied": {...}, "sharedModule": {...}, "repr": {name: str}}
    nn_layers.json  {"cases": {name: {"state", "inputs", "gradOut", "out", "grads", ...}}, ...}
    nn_init.json    {"modules": [...], "init": [...], "gain": [...], "errors": [...]}
"""

import math
import os
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import init

from fixture_util import DTYPE_NAMES, enc, rnd, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, '..', 'test', 'fixtures')


def randomize(module, seed, scale=1.0):
    """Overwrites every parameter with rounded random values; returns the encoded state_dict."""
    with torch.no_grad():
        for i, (_, p) in enumerate(module.named_parameters()):
            p.copy_(rnd(*p.shape, seed=seed * 100 + i, scale=scale, dtype=p.dtype))
    return OrderedDict((k, enc(v)) for k, v in module.state_dict().items())


def write(name, data):
    path = os.path.join(OUT_DIR, name)
    write_json(path, data)
    print(f'{path}: {os.path.getsize(path)} bytes')


# =============================================================================================
# nn_module.json
# =============================================================================================
class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)
        self.act = nn.GELU()
        self.register_buffer('scale', torch.full((d,), 0.5))
        self.register_buffer('cache', torch.zeros(d), persistent=False)

    def forward(self, x):
        return x + self.act(self.fc(self.norm(x))) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4, padding_idx=0)
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.register_buffer('step', torch.zeros(1))
        self.gate = nn.Parameter(torch.ones(4))
        self.head = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2, bias=False))
        self.heads = nn.ModuleDict({'cls': nn.Linear(2, 2), 'id': nn.Identity()})
        self.drop = nn.Dropout(0.25)

    def forward(self, idx):
        x = self.embed(idx) * self.gate
        for b in self.blocks:
            x = b(x)
        x = self.drop(x)
        return self.heads['cls'](self.head(x))


class Tied(nn.Module):
    """Weight tying by sharing a Parameter."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3, 3)
        self.dec = nn.Linear(3, 3)
        self.dec.weight = self.enc.weight


class SharedModule(nn.Module):
    """The same submodule under two names."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 2)
        self.act = nn.ReLU()
        self.second = self.first


class Slots(nn.Module):
    """Registration through the register_* methods, with None slots."""

    def __init__(self):
        super().__init__()
        self.register_parameter('w', nn.Parameter(torch.ones(2)))
        self.register_parameter('nothing', None)
        self.register_module('sub', nn.Linear(2, 2))
        self.register_module('empty', None)
        self.register_buffer('a', torch.zeros(2))
        self.register_buffer('b', torch.ones(2), persistent=False)
        self.register_buffer('c', None)


def structure(m):
    return {
        'stateDictKeys': list(m.state_dict().keys()),
        'namedParameters': [k for k, _ in m.named_parameters()],
        'namedBuffers': [k for k, _ in m.named_buffers()],
        'namedChildren': [k for k, _ in m.named_children()],
        'namedModules': [k for k, _ in m.named_modules()],
        'moduleClasses': [type(x).__name__ for x in m.modules()],
        'parameterCount': len(list(m.parameters())),
        'repr': repr(m),
    }


def gen_module():
    out = OrderedDict()
    torch.manual_seed(0)
    net = Net()
    s = structure(net)
    order = []
    net.apply(lambda m: order.append(type(m).__name__))
    s['applyOrder'] = order
    s['namedParametersNoRecurse'] = [k for k, _ in net.named_parameters(recurse=False)]
    s['namedBuffersNoRecurse'] = [k for k, _ in net.named_buffers(recurse=False)]
    s['namedParametersPrefix'] = [k for k, _ in net.blocks.named_parameters(prefix='blocks')]
    s['state'] = randomize(net, 1, 0.5)
    with torch.no_grad():
        net.step.fill_(3.0)
        for b, v in zip(net.blocks, (0.25, 1.5)):
            b.scale.fill_(v)
    s['state'] = OrderedDict((k, enc(v)) for k, v in net.state_dict().items())
    idx = torch.tensor([[1, 0, 3], [6, 2, 2]])
    s['input'] = enc(idx)
    net.eval()
    s['output'] = enc(net(idx))
    out['net'] = s

    tied = Tied()
    out['tied'] = structure(tied)
    shared = SharedModule()
    out['sharedModule'] = structure(shared)

    slots = Slots()
    before = structure(slots)
    slots.nothing = nn.Parameter(torch.zeros(3))
    slots.c = torch.full((1,), 2.0)
    out['slots'] = {'before': before, 'after': structure(slots)}

    reprs = OrderedDict()
    reprs['Sequential'] = repr(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False)))
    reprs['SequentialNamed'] = repr(nn.Sequential(OrderedDict([('fc', nn.Linear(2, 2)), ('act', nn.SiLU())])))
    reprs['ModuleList'] = repr(nn.ModuleList([nn.Linear(2, 2), nn.Dropout(0.1), nn.ModuleList([nn.Tanh()])]))
    reprs['ModuleDict'] = repr(nn.ModuleDict({'relu': nn.ReLU(), 'lin': nn.Linear(2, 3)}))
    reprs['EmptySequential'] = repr(nn.Sequential())
    reprs['LinearBias'] = repr(nn.Linear(5, 3))
    reprs['LinearNoBias'] = repr(nn.Linear(5, 3, bias=False))
    reprs['Bilinear'] = repr(nn.Bilinear(2, 3, 4))
    reprs['BilinearNoBias'] = repr(nn.Bilinear(2, 3, 4, bias=False))
    reprs['Embedding'] = repr(nn.Embedding(10, 3))
    reprs['EmbeddingPad'] = repr(nn.Embedding(10, 3, padding_idx=2))
    reprs['EmbeddingPadNegative'] = repr(nn.Embedding(10, 3, padding_idx=-1))
    reprs['EmbeddingMaxNorm'] = repr(nn.Embedding(10, 3, max_norm=1.5, norm_type=1.0))
    reprs['Dropout'] = repr(nn.Dropout())
    reprs['Dropout01'] = repr(nn.Dropout(0.1))
    reprs['Dropout1'] = repr(nn.Dropout(1.0))
    reprs['DropoutTiny'] = repr(nn.Dropout(1e-5))
    reprs['LayerNorm'] = repr(nn.LayerNorm(4))
    reprs['LayerNorm2d'] = repr(nn.LayerNorm([2, 3], eps=1e-3, elementwise_affine=False))
    reprs['ReLU'] = repr(nn.ReLU())
    reprs['GELU'] = repr(nn.GELU())
    reprs['GELUTanh'] = repr(nn.GELU(approximate='tanh'))
    reprs['Tanh'] = repr(nn.Tanh())
    reprs['Sigmoid'] = repr(nn.Sigmoid())
    reprs['SiLU'] = repr(nn.SiLU())
    reprs['Softmax'] = repr(nn.Softmax(dim=1))
    reprs['LogSoftmax'] = repr(nn.LogSoftmax(dim=1))
    reprs['Identity'] = repr(nn.Identity())
    out['repr'] = reprs

    # container orders with keys that look like integers
    md = nn.ModuleDict(OrderedDict([('b', nn.ReLU()), ('10', nn.Tanh()), ('2', nn.Identity())]))
    out['numericKeys'] = {'keys': list(md.keys()), 'repr': repr(md)}
    lin = nn.Linear(2, 2)
    ml = nn.ModuleList([lin, lin])
    ml.append(nn.ReLU())
    out['repeatedInList'] = {'len': len(ml), 'keys': [k for k, _ in ml._modules.items()], 'repr': repr(ml)}

    write('nn_module.json', out)


# =============================================================================================
# nn_layers.json
# =============================================================================================
def run_case(module, inputs, grad_inputs, seed, grad_params=True):
    """Forward with a rounded random upstream gradient; grads of inputs and parameters."""
    ins = [t.clone().requires_grad_(g) for t, g in zip(inputs, grad_inputs)]
    out = module(*ins)
    g = rnd(*out.shape, seed=seed)
    out.backward(g)
    grads = OrderedDict()
    for i, (t, gi) in enumerate(zip(ins, grad_inputs)):
        if gi:
            grads[f'input{i}'] = enc(t.grad)
    if grad_params:
        for k, p in module.named_parameters():
            grads[k] = enc(p.grad)
    return {'out': enc(out), 'gradOut': enc(g), 'grads': grads}


def gen_layers():
    cases = OrderedDict()

    def add(name, module, inputs, grad_inputs, seed, **extra):
        state = randomize(module, seed)
        case = OrderedDict()
        case['state'] = state
        case['inputs'] = [enc(t) for t in inputs]
        case.update(run_case(module, inputs, grad_inputs, seed + 1))
        case.update(extra)
        cases[name] = case
        return case

    add('linear1d', nn.Linear(3, 2), [rnd(3, seed=11)], [True], 10)
    add('linear2d', nn.Linear(3, 2), [rnd(4, 3, seed=21)], [True], 20)
    add('linear3d', nn.Linear(3, 2), [rnd(2, 4, 3, seed=31)], [True], 30)
    add('linearNoBias', nn.Linear(3, 2, bias=False), [rnd(4, 3, seed=41)], [True], 40)
    add('bilinear', nn.Bilinear(2, 3, 4), [rnd(5, 2, seed=51), rnd(5, 3, seed=52)], [True, True], 50)
    add('bilinearNoBias', nn.Bilinear(2, 3, 4, bias=False), [rnd(5, 2, seed=61), rnd(5, 3, seed=62)], [True, True], 60)

    idx = torch.tensor([[1, 2, 1], [4, 2, 0]])
    add('embeddingPad', nn.Embedding(6, 3, padding_idx=1), [idx], [False], 70)
    add('embeddingScaleGrad', nn.Embedding(6, 3, scale_grad_by_freq=True), [idx], [False], 80)

    # max_norm: rows looked up are renormalised in place before the lookup
    for name, kw, seed in (('embeddingMaxNorm', dict(max_norm=1.0), 90),
                           ('embeddingMaxNormL1', dict(max_norm=2.0, norm_type=1.0), 100)):
        emb = nn.Embedding(6, 3, **kw)
        state = randomize(emb, seed, scale=3.0)
        midx = torch.tensor([[0, 2], [2, 5]])
        case = OrderedDict(state=state, inputs=[enc(midx)])
        case.update(run_case(emb, [midx], [False], seed + 1))
        case['weightAfter'] = enc(emb.weight)
        cases[name] = case

    add('layerNorm', nn.LayerNorm(4), [rnd(3, 4, seed=111)], [True], 110)
    add('layerNormNoAffine', nn.LayerNorm(4, elementwise_affine=False), [rnd(2, 3, 4, seed=121)], [True], 120)
    add('layerNorm2d', nn.LayerNorm([2, 3], eps=1e-3), [rnd(2, 2, 3, seed=131)], [True], 130)

    x = rnd(3, 5, seed=141, scale=2.0)
    acts = OrderedDict([
        ('ReLU', nn.ReLU()), ('GELU', nn.GELU()), ('GELUTanh', nn.GELU(approximate='tanh')),
        ('Tanh', nn.Tanh()), ('Sigmoid', nn.Sigmoid()), ('SiLU', nn.SiLU()),
        ('Softmax', nn.Softmax(dim=1)), ('LogSoftmax', nn.LogSoftmax(dim=1)),
        ('Softmax0', nn.Softmax(dim=0)), ('LogSoftmaxNeg1', nn.LogSoftmax(dim=-1)), ('Identity', nn.Identity()),
    ])
    for i, (name, m) in enumerate(acts.items()):
        add('act' + name, m, [x], [True], 150 + 10 * i)

    # functional forms
    functional = OrderedDict()
    x = rnd(4, 3, seed=301)
    w = rnd(2, 3, seed=302)
    b = rnd(2, seed=303)

    def fcase(fn, tensors, seed):
        ts = [t.clone().requires_grad_(t.dtype.is_floating_point) for t in tensors]
        out = fn(*ts)
        g = rnd(*out.shape, seed=seed)
        out.backward(g)
        return {'inputs': [enc(t) for t in tensors], 'out': enc(out), 'gradOut': enc(g),
                'grads': [enc(t.grad) if t.grad is not None else None for t in ts]}

    functional['linear'] = fcase(lambda x, w, b: F.linear(x, w, b), [x, w, b], 304)
    functional['linearNoBias'] = fcase(lambda x, w: F.linear(x, w), [x, w], 305)
    lw = rnd(4, seed=306)
    lb = rnd(4, seed=307)
    lx = rnd(3, 4, seed=308)
    functional['layerNorm'] = fcase(lambda x, w, b: F.layer_norm(x, [4], w, b, eps=1e-4), [lx, lw, lb], 309)
    functional['layerNormNoAffine'] = fcase(lambda x: F.layer_norm(x, [3, 4]), [lx], 310)
    ew = rnd(5, 2, seed=311)
    eidx = torch.tensor([3, 0, 3, 4])
    functional['embedding'] = fcase(lambda w: F.embedding(eidx, w, padding_idx=3), [ew], 312)
    functional['embedding']['index'] = enc(eidx)

    # dropout with the same seed draws the same mask
    dx = rnd(4, 8, seed=401)
    torch.manual_seed(7)
    d = nn.Dropout(0.5)
    dxi = dx.clone().requires_grad_(True)
    dout = d(dxi)
    dout.backward(torch.ones_like(dout))
    dropout = {'seed': 7, 'p': 0.5, 'input': enc(dx), 'out': enc(dout), 'grad': enc(dxi.grad)}
    torch.manual_seed(8)
    dropout['functional'] = {'seed': 8, 'p': 0.3, 'out': enc(F.dropout(dx, 0.3, training=True))}

    write('nn_layers.json', {'cases': cases, 'functional': functional, 'dropout': dropout})


# =============================================================================================
# nn_init.json
# =============================================================================================
def gen_init():
    modules = []
    for seed in (0, 2024):
        torch.manual_seed(seed)
        seq = [
            ('Linear', [4, 3], {}, nn.Linear(4, 3)),
            ('Linear', [3, 2], {'bias': False}, nn.Linear(3, 2, bias=False)),
            ('Bilinear', [2, 3, 2], {}, nn.Bilinear(2, 3, 2)),
            ('Embedding', [5, 3], {}, nn.Embedding(5, 3)),
            ('Embedding', [4, 2], {'paddingIdx': 2}, nn.Embedding(4, 2, padding_idx=2)),
            ('LayerNorm', [3], {}, nn.LayerNorm(3)),
            ('Linear', [3, 2], {'dtype': 'float64'}, nn.Linear(3, 2, dtype=torch.float64)),
            ('Bilinear', [1, 2, 1], {'bias': False}, nn.Bilinear(1, 2, 1, bias=False)),
            ('Linear', [2, 2], {}, nn.Linear(2, 2)),
        ]
        modules.append({'seed': seed, 'sequence': [
            {'cls': cls, 'args': args, 'opts': opts, 'state': OrderedDict((k, enc(v)) for k, v in m.state_dict().items())}
            for cls, args, opts, m in seq]})

    cases = []

    def case(fn, shape, args, kwargs, seed, call, dtype=torch.float32):
        t = torch.empty(*shape, dtype=dtype)
        torch.manual_seed(seed)
        r = call(t)
        assert r is t
        cases.append({'fn': fn, 'shape': list(shape), 'dtype': DTYPE_NAMES[dtype], 'args': args,
                      'kwargs': kwargs, 'seed': seed, 'out': enc(t)})

    case('uniform_', (3, 4), [], {}, 1, lambda t: init.uniform_(t))
    case('uniform_', (3, 4), [-2, 3], {}, 2, lambda t: init.uniform_(t, -2, 3))
    case('uniform_', (5,), [-1, 1], {}, 3, lambda t: init.uniform_(t, -1, 1), torch.float64)
    case('normal_', (3, 4), [], {}, 4, lambda t: init.normal_(t))
    case('normal_', (2, 3, 2), [1, 0.5], {}, 5, lambda t: init.normal_(t, 1, 0.5))
    case('normal_', (4,), [0, 2], {}, 6, lambda t: init.normal_(t, 0, 2), torch.float64)
    case('constant_', (2, 3), [0.7], {}, 7, lambda t: init.constant_(t, 0.7))
    case('zeros_', (2, 3), [], {}, 8, lambda t: init.zeros_(t))
    case('ones_', (2, 3), [], {}, 9, lambda t: init.ones_(t))
    case('xavierUniform_', (3, 5), [], {}, 10, lambda t: init.xavier_uniform_(t))
    case('xavierUniform_', (4, 3, 2), [math.sqrt(2.0)], {}, 11, lambda t: init.xavier_uniform_(t, gain=math.sqrt(2.0)))
    case('xavierNormal_', (3, 5), [], {}, 12, lambda t: init.xavier_normal_(t))
    case('xavierNormal_', (5, 2), [0.5], {}, 13, lambda t: init.xavier_normal_(t, gain=0.5))
    case('kaimingUniform_', (4, 6), [], {}, 14, lambda t: init.kaiming_uniform_(t))
    case('kaimingUniform_', (4, 6), [], {'a': math.sqrt(5)}, 15, lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)))
    case('kaimingUniform_', (4, 3, 2), [], {'mode': 'fan_out', 'nonlinearity': 'relu'}, 16,
         lambda t: init.kaiming_uniform_(t, mode='fan_out', nonlinearity='relu'))
    case('kaimingNormal_', (4, 6), [], {}, 17, lambda t: init.kaiming_normal_(t))
    case('kaimingNormal_', (3, 4), [], {'mode': 'fan_out'}, 18, lambda t: init.kaiming_normal_(t, mode='fan_out'))
    case('kaimingNormal_', (3, 4), [], {'a': 0.2, 'nonlinearity': 'leaky_relu'}, 19,
         lambda t: init.kaiming_normal_(t, a=0.2, nonlinearity='leaky_relu'))
    case('kaimingNormal_', (3, 4), [], {'nonlinearity': 'tanh'}, 20,
         lambda t: init.kaiming_normal_(t, nonlinearity='tanh'), torch.float64)
    case('orthogonal_', (3, 5), [], {}, 21, lambda t: init.orthogonal_(t))
    case('orthogonal_', (5, 3), [], {}, 22, lambda t: init.orthogonal_(t))
    case('orthogonal_', (4, 4), [2.0], {}, 23, lambda t: init.orthogonal_(t, gain=2.0))
    case('orthogonal_', (2, 3, 2), [], {}, 24, lambda t: init.orthogonal_(t))
    case('orthogonal_', (4, 3), [], {}, 25, lambda t: init.orthogonal_(t), torch.float64)

    gains = []
    for nl, param in (('linear', None), ('conv1d', None), ('conv2d', None), ('conv3d', None),
                      ('conv_transpose1d', None), ('conv_transpose2d', None), ('conv_transpose3d', None),
                      ('sigmoid', None), ('tanh', None), ('relu', None), ('leaky_relu', None),
                      ('leaky_relu', 0.2), ('leaky_relu', 0), ('selu', None)):
        gains.append({'nonlinearity': nl, 'param': param,
                      'gain': init.calculate_gain(nl) if param is None else init.calculate_gain(nl, param)})

    # which initialisers refuse tensors with fewer than 2 dims
    errors = []
    for fn, call in (('uniform_', init.uniform_), ('normal_', init.normal_), ('zeros_', init.zeros_),
                     ('ones_', init.ones_), ('constant_', lambda t: init.constant_(t, 1.0)),
                     ('xavierUniform_', init.xavier_uniform_), ('xavierNormal_', init.xavier_normal_),
                     ('kaimingUniform_', init.kaiming_uniform_), ('kaimingNormal_', init.kaiming_normal_),
                     ('orthogonal_', init.orthogonal_)):
        for shape in ((3,), ()):
            try:
                call(torch.empty(shape))
                errors.append({'fn': fn, 'shape': list(shape), 'error': None})
            except Exception as e:  # noqa: BLE001
                errors.append({'fn': fn, 'shape': list(shape), 'error': type(e).__name__, 'message': str(e)})

    write('nn_init.json', {'modules': modules, 'init': cases, 'gain': gains, 'errors': errors})


if __name__ == '__main__':
    assert torch.__version__.startswith('1.13'), torch.__version__
    gen_module()
    gen_layers()
    gen_init()
