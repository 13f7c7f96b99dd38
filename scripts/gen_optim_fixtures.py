#!/usr/bin/python3
"""Generate test/fixtures/optim.json and test/fixtures/loss.json: PyTorch's results for the
optimizer, learning-rate scheduler, gradient clipping and loss tests.

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_optim_fixtures.py

A tensor T is stored as ``{"shape": [...], "dtype": "float32" | "int64", "values": [flat row-major]}``
(the layout test/helpers.ts reads; non-finite floats as "nan" / "inf" / "-inf"). Every tensor the
JS side feeds in (parameters, data, targets, gradients) is rounded to 4 decimals *before* PyTorch
uses it, so both sides compute from the same float32 values. Results are stored with 9
significant digits (float32 exact); learning rates and momenta (Python floats) with full precision.

optim.json
    {
      "torch": version,
      "problem": {"W": T, "b": T, "V": T, "X": T, "Y": T},
          group 0 = [W, b], group 1 = [V];
          loss = mean((tanh(X @ W.T + b) @ V.T - Y) ** 2)
      "optimizers": [{"name", "cls", "defaults": {camelCase options}, "groups": [{camelCase overrides}] x2,
                      "steps": 20, "params": [T, T, T] after 20 steps,
                      "stateDict": {"state": {"0": {key: T | number | null}}, "param_groups": [...]}}],
      "schedulers": [{"name", "cls", "optimizer": {"cls", "defaults", "groups"}, "options": {camelCase},
                      "sub": [{"cls", "options"}] (SequentialLR), "metrics": [..] (ReduceLROnPlateau),
                      "lrs": [[lr of each group] after construction, then after each step],
                      "momentum" / "beta1": same layout (OneCycleLR with cycleMomentum),
                      "stateDict": the scheduler's state_dict after the last step (functions dropped),
                      "train": {"params": [T, T, T]} (when the optimizer also trained on the problem:
                                 backward + optimizer.step() + scheduler.step() each step)}],
      "clipGrad": [{"name", "fn": "norm" | "value", "grads": [T | null], "maxNorm", "normType",
                    "errorIfNonfinite", "clipValue", "norm": T, "error": bool, "clipped": [T | null]}]
    }

loss.json
    {"torch": version,
     "cases": [{"name", "cls" (nn module name), "fn" (F name, camelCase), "options": {camelCase; tensors as T},
                "input": T, "target": T,
                "results": {reduction: {"out": T, "gradOut": T (reduction none), "grad": T}}}]}
"""

import os
import warnings
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import lr_scheduler as L

import fixture_util
from fixture_util import round_dec, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, '..', 'test', 'fixtures')

# SequentialLR steps its schedulers with the deprecated step(epoch) internally
warnings.filterwarnings('ignore', category=UserWarning)
torch.set_num_threads(1)
gen = torch.Generator().manual_seed(20240611)


def enc(t):
    """T of `t`, floats with 9 significant digits (float32 exact)."""
    return fixture_util.enc(t, digits=9)


def randn(*shape, scale=1.0):
    return round_dec(torch.randn(*shape, generator=gen) * scale)


def rand(*shape):
    return round_dec(torch.rand(*shape, generator=gen))


def pyfloat(v):
    """A Python float for JSON with full precision (non-finite as strings)."""
    return fixture_util.num(v, None) if isinstance(v, float) else v


SNAKE = {
    'weightDecay': 'weight_decay', 'lrDecay': 'lr_decay', 'initialAccumulatorValue': 'initial_accumulator_value',
    'stepSize': 'step_size', 'tMax': 'T_max', 'etaMin': 'eta_min', 'startFactor': 'start_factor',
    'endFactor': 'end_factor', 'totalIters': 'total_iters', 'lrLambda': 'lr_lambda', 'maxLr': 'max_lr',
    'totalSteps': 'total_steps', 'stepsPerEpoch': 'steps_per_epoch', 'pctStart': 'pct_start',
    'annealStrategy': 'anneal_strategy', 'divFactor': 'div_factor', 'finalDivFactor': 'final_div_factor',
    'threePhase': 'three_phase', 'cycleMomentum': 'cycle_momentum', 'baseMomentum': 'base_momentum',
    'maxMomentum': 'max_momentum', 'thresholdMode': 'threshold_mode', 'minLr': 'min_lr',
    'lastEpoch': 'last_epoch', 'initialLr': 'initial_lr',
}


def snake(opts):
    return {SNAKE.get(k, k): v for k, v in opts.items()}


# ---- the optimisation problem ------------------------------------------------------------------
P_W, P_B, P_V = randn(3, 4, scale=0.5), randn(3, scale=0.5), randn(2, 3, scale=0.5)
P_X, P_Y = randn(6, 4), randn(6, 2)
PROBLEM = {'W': enc(P_W), 'b': enc(P_B), 'V': enc(P_V), 'X': enc(P_X), 'Y': enc(P_Y)}


def fresh_params():
    return [nn.Parameter(P_W.clone()), nn.Parameter(P_B.clone()), nn.Parameter(P_V.clone())]


def loss_of(params):
    W, b, V = params
    return (torch.tanh(P_X @ W.t() + b) @ V.t() - P_Y).pow(2).mean()


OPTIMIZERS = {'SGD': torch.optim.SGD, 'Adam': torch.optim.Adam, 'AdamW': torch.optim.AdamW,
              'RMSprop': torch.optim.RMSprop, 'Adagrad': torch.optim.Adagrad}


def make_optimizer(cls, defaults, groups, params):
    pg = [dict(snake(groups[0]), params=params[:2]), dict(snake(groups[1]), params=params[2:])]
    return OPTIMIZERS[cls](pg, **snake(defaults))


def enc_state_value(v):
    if torch.is_tensor(v):
        return enc(v)
    if v is None or isinstance(v, (int, float)):
        return v
    raise TypeError(type(v))


def enc_group_value(v):
    if isinstance(v, tuple):
        return [enc_group_value(x) for x in v]
    return pyfloat(v)


def enc_optimizer_state(opt):
    sd = opt.state_dict()
    return {
        'state': {str(k): {sk: enc_state_value(sv) for sk, sv in st.items()} for k, st in sd['state'].items()},
        'param_groups': [{k: enc_group_value(v) for k, v in g.items()} for g in sd['param_groups']],
    }


OPT_CASES = [
    ('SGD plain', 'SGD', {'lr': 0.1}, [{}, {'lr': 0.05}]),
    ('SGD momentum dampening weightDecay', 'SGD', {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.1, 'weightDecay': 0.01},
     [{}, {'lr': 0.05, 'momentum': 0.5, 'dampening': 0}]),
    ('SGD nesterov', 'SGD', {'lr': 0.05, 'momentum': 0.9, 'nesterov': True, 'weightDecay': 0.001}, [{}, {'momentum': 0.8}]),
    ('SGD maximize', 'SGD', {'lr': 0.01, 'momentum': 0.9, 'maximize': True}, [{}, {'maximize': False}]),
    ('Adam', 'Adam', {'lr': 0.01}, [{}, {'lr': 0.005, 'betas': [0.8, 0.99]}]),
    ('Adam amsgrad weightDecay', 'Adam', {'lr': 0.01, 'amsgrad': True, 'weightDecay': 0.1}, [{}, {'amsgrad': False, 'eps': 1e-6}]),
    ('Adam maximize', 'Adam', {'lr': 0.01, 'maximize': True}, [{}, {'weightDecay': 0.01, 'maximize': False}]),
    ('AdamW', 'AdamW', {'lr': 0.01}, [{}, {'weightDecay': 0.1, 'amsgrad': True}]),
    ('AdamW maximize', 'AdamW', {'lr': 0.02, 'betas': [0.85, 0.98], 'maximize': True}, [{}, {'lr': 0.01}]),
    ('RMSprop', 'RMSprop', {'lr': 0.01}, [{}, {'alpha': 0.9}]),
    ('RMSprop centered momentum', 'RMSprop', {'lr': 0.01, 'centered': True, 'momentum': 0.9, 'weightDecay': 0.01},
     [{}, {'centered': False, 'momentum': 0.5}]),
    ('RMSprop momentum', 'RMSprop', {'lr': 0.005, 'momentum': 0.5, 'eps': 1e-6}, [{}, {'momentum': 0, 'maximize': True}]),
    ('Adagrad', 'Adagrad', {'lr': 0.1, 'initialAccumulatorValue': 0.1}, [{}, {'lrDecay': 0.01}]),
    # PyTorch 1.13 fills every group's 'sum' with the constructor's initial_accumulator_value,
    # ignoring a group's own value (the group still reports it in param_groups)
    ('Adagrad per-group initialAccumulatorValue', 'Adagrad', {'lr': 0.1}, [{}, {'initialAccumulatorValue': 0.1}]),
    ('Adagrad weightDecay', 'Adagrad', {'lr': 0.05, 'weightDecay': 0.1, 'lrDecay': 0.001, 'initialAccumulatorValue': 0.5,
                                        'eps': 1e-6}, [{}, {'lr': 0.01, 'maximize': True}]),
]


def optimizer_cases():
    out = []
    for name, cls, defaults, groups in OPT_CASES:
        params = fresh_params()
        opt = make_optimizer(cls, defaults, groups, params)
        for _ in range(20):
            opt.zero_grad(set_to_none=True)
            loss_of(params).backward()
            opt.step()
        out.append({'name': name, 'cls': cls, 'defaults': defaults, 'groups': groups, 'steps': 20,
                    'params': [enc(p) for p in params], 'stateDict': enc_optimizer_state(opt)})
    return out


# ---- schedulers ----------------------------------------------------------------------------------
LAMBDAS = {
    'pow95': lambda e: 0.95 ** e,
    'warmup': lambda e: min(1.0, (e + 1) / 5),
    'inv': lambda e: 1 / (e + 1),
}

SCHEDULERS = {'StepLR': L.StepLR, 'MultiStepLR': L.MultiStepLR, 'ExponentialLR': L.ExponentialLR,
              'CosineAnnealingLR': L.CosineAnnealingLR, 'LinearLR': L.LinearLR, 'LambdaLR': L.LambdaLR,
              'OneCycleLR': L.OneCycleLR}

SGD2 = {'cls': 'SGD', 'defaults': {'lr': 0.1}, 'groups': [{}, {'lr': 0.05}]}
SGDM = {'cls': 'SGD', 'defaults': {'lr': 0.1, 'momentum': 0.9}, 'groups': [{}, {'lr': 0.05}]}
# groups that already carry initial_lr (restored from a checkpoint), for last_epoch != -1
SGD_RESUMED = {'cls': 'SGD', 'defaults': {'lr': 0.1}, 'groups': [{'initialLr': 0.2}, {'lr': 0.05, 'initialLr': 0.08}]}
ADAM2 = {'cls': 'Adam', 'defaults': {'lr': 0.01}, 'groups': [{}, {'lr': 0.005, 'betas': [0.8, 0.99]}]}

PLATEAU_METRICS = [1.0, 0.9, 0.85, 0.84, 0.84, 0.8399, 0.84, 0.85, 0.83, 0.83, 0.83, 0.83, 0.82, 0.9, 0.9, 0.9, 0.9,
                   0.7, 0.7, 0.70005, 0.7, 0.71, 0.72, 0.69, 0.69, 0.69, 0.69, 0.69, 0.69, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
                   0.5, 0.5, 0.5, 0.5, 0.5]

SCHED_CASES = [
    ('StepLR stepSize 5 gamma 0.5', 'StepLR', SGD2, {'stepSize': 5, 'gamma': 0.5}, 40),
    ('StepLR stepSize 7 default gamma', 'StepLR', SGD2, {'stepSize': 7}, 30),
    ('MultiStepLR', 'MultiStepLR', SGD2, {'milestones': [5, 12, 20], 'gamma': 0.5}, 30),
    ('MultiStepLR repeated milestone', 'MultiStepLR', SGD2, {'milestones': [3, 3, 10]}, 30),
    ('ExponentialLR 0.9', 'ExponentialLR', SGD2, {'gamma': 0.9}, 40),
    ('ExponentialLR 1.05', 'ExponentialLR', SGD2, {'gamma': 1.05}, 30),
    ('CosineAnnealingLR tMax 10 etaMin', 'CosineAnnealingLR', SGD2, {'tMax': 10, 'etaMin': 0.001}, 50),
    ('CosineAnnealingLR tMax 7', 'CosineAnnealingLR', SGD2, {'tMax': 7}, 40),
    ('CosineAnnealingLR resumed at lastEpoch 4', 'CosineAnnealingLR', SGD_RESUMED, {'tMax': 10, 'etaMin': 0.001, 'lastEpoch': 4}, 30),
    ('StepLR resumed at lastEpoch 9', 'StepLR', SGD_RESUMED, {'stepSize': 5, 'gamma': 0.5, 'lastEpoch': 9}, 20),
    ('LinearLR defaults', 'LinearLR', SGD2, {}, 30),
    ('LinearLR 0.25 to 0.75', 'LinearLR', SGD2, {'startFactor': 0.25, 'endFactor': 0.75, 'totalIters': 8}, 30),
    ('LinearLR decay', 'LinearLR', SGD2, {'startFactor': 1.0, 'endFactor': 0.1, 'totalIters': 10}, 30),
    ('LambdaLR one function', 'LambdaLR', SGD2, {'lrLambda': 'pow95'}, 30),
    ('LambdaLR per group', 'LambdaLR', SGD2, {'lrLambda': ['warmup', 'inv']}, 30),
    ('OneCycleLR SGD momentum cos', 'OneCycleLR', SGDM, {'maxLr': [0.5, 0.2], 'totalSteps': 40}, 40),
    ('OneCycleLR Adam betas linear three-phase', 'OneCycleLR', ADAM2,
     {'maxLr': 0.05, 'epochs': 4, 'stepsPerEpoch': 10, 'pctStart': 0.25, 'annealStrategy': 'linear', 'threePhase': True,
      'divFactor': 10.0, 'finalDivFactor': 100.0, 'baseMomentum': 0.8, 'maxMomentum': [0.9, 0.95]}, 40),
    ('OneCycleLR Adam cos', 'OneCycleLR', ADAM2, {'maxLr': [0.02, 0.01], 'totalSteps': 45, 'pctStart': 0.4}, 45),
    ('OneCycleLR no cycleMomentum', 'OneCycleLR', SGD2,
     {'maxLr': 0.3, 'totalSteps': 30, 'cycleMomentum': False, 'annealStrategy': 'linear'}, 30),
    ('SequentialLR LinearLR then ExponentialLR', 'SequentialLR', SGD2,
     {'sub': [('LinearLR', {'startFactor': 0.1, 'totalIters': 5}), ('ExponentialLR', {'gamma': 0.9})], 'milestones': [5]}, 40),
    ('SequentialLR LinearLR StepLR CosineAnnealingLR', 'SequentialLR', SGD2,
     {'sub': [('LinearLR', {'startFactor': 0.5, 'totalIters': 4}), ('StepLR', {'stepSize': 3, 'gamma': 0.5}),
              ('CosineAnnealingLR', {'tMax': 8, 'etaMin': 0.005})], 'milestones': [6, 15]}, 40),
    ('ReduceLROnPlateau min rel', 'ReduceLROnPlateau', SGD2, {'factor': 0.5, 'patience': 2}, 40),
    ('ReduceLROnPlateau min abs cooldown minLr', 'ReduceLROnPlateau', SGD2,
     {'factor': 0.3, 'patience': 1, 'threshold': 0.01, 'thresholdMode': 'abs', 'cooldown': 2, 'minLr': [0.01, 0.004]}, 40),
    ('ReduceLROnPlateau max rel eps', 'ReduceLROnPlateau', SGD2,
     {'mode': 'max', 'factor': 0.1, 'patience': 0, 'threshold': 0.001, 'eps': 1e-3}, 40),
]

# scheduler runs that also train: backward + optimizer.step() + scheduler.step() every step
TRAIN = {'OneCycleLR SGD momentum cos', 'OneCycleLR Adam betas linear three-phase', 'StepLR stepSize 5 gamma 0.5',
         'ReduceLROnPlateau min rel'}


def to_py_sched_opts(opts):
    o = snake(opts)
    if 'lr_lambda' in o:
        f = o['lr_lambda']
        o['lr_lambda'] = [LAMBDAS[x] for x in f] if isinstance(f, list) else LAMBDAS[f]
    return o


def sched_state(obj):
    """A JSON-able copy of a scheduler state_dict (functions dropped, Counter as a dict)."""
    if isinstance(obj, Counter):
        return {str(k): v for k, v in sorted(obj.items())}
    if isinstance(obj, dict):
        return {k: sched_state(v) for k, v in obj.items() if not callable(v) or isinstance(v, Counter)}
    if isinstance(obj, (list, tuple)):
        return [sched_state(v) for v in obj]
    return pyfloat(obj)


def scheduler_cases():
    out = []
    for name, cls, optspec, opts, steps in SCHED_CASES:
        params = fresh_params()
        opt = make_optimizer(optspec['cls'], optspec['defaults'], optspec['groups'], params)
        case = {'name': name, 'cls': cls, 'optimizer': optspec, 'steps': steps}
        if cls == 'SequentialLR':
            subs = [SCHEDULERS[c](opt, **to_py_sched_opts(o)) for c, o in opts['sub']]
            sched = L.SequentialLR(opt, subs, milestones=opts['milestones'])
            case['options'] = {'milestones': opts['milestones']}
            case['sub'] = [{'cls': c, 'options': o} for c, o in opts['sub']]
        elif cls == 'ReduceLROnPlateau':
            sched = L.ReduceLROnPlateau(opt, **to_py_sched_opts(opts))
            case['options'] = opts
            case['metrics'] = PLATEAU_METRICS[:steps]
        else:
            sched = SCHEDULERS[cls](opt, **to_py_sched_opts(opts))
            case['options'] = opts
        cycle = cls == 'OneCycleLR' and opts.get('cycleMomentum', True)
        train = name in TRAIN
        lrs, mom = [], []

        def record():
            lrs.append([g['lr'] for g in opt.param_groups])
            if cycle:
                mom.append([g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups])

        record()
        for i in range(steps):
            if train:
                opt.zero_grad(set_to_none=True)
                loss_of(params).backward()
            opt.step()
            if cls == 'ReduceLROnPlateau':
                sched.step(PLATEAU_METRICS[i])
            else:
                sched.step()
            record()
        case['lrs'] = lrs
        if cycle:
            case['beta1' if optspec['cls'] == 'Adam' else 'momentum'] = mom
        case['stateDict'] = sched_state(sched.state_dict())
        if train:
            case['train'] = {'params': [enc(p) for p in params]}
        out.append(case)
    return out


# ---- gradient clipping ---------------------------------------------------------------------------
def clip_cases():
    g1, g2, g3 = randn(3, 4), randn(5, scale=2.0), randn(2, 2, scale=0.1)
    bad = g2.clone()
    bad[1] = float('nan')
    inf = g2.clone()
    inf[3] = float('inf')
    specs = [
        ('norm 2 clips', 'norm', [g1, g2, g3], {'maxNorm': 1.0}),
        ('norm 2 below maxNorm', 'norm', [g1, g2, g3], {'maxNorm': 100.0}),
        ('norm 1', 'norm', [g1, g2, g3], {'maxNorm': 2.0, 'normType': 1.0}),
        ('norm inf', 'norm', [g1, g2, g3], {'maxNorm': 0.5, 'normType': 'inf'}),
        ('norm 3', 'norm', [g1, g2, g3], {'maxNorm': 1.5, 'normType': 3.0}),
        ('norm 2 one param without grad', 'norm', [g1, None, g3], {'maxNorm': 0.5}),
        ('norm inf single param', 'norm', [None, g2, None], {'maxNorm': 1.0, 'normType': 'inf'}),
        ('nan grads errorIfNonfinite', 'norm', [g1, bad, g3], {'maxNorm': 1.0, 'errorIfNonfinite': True}),
        ('nan grads', 'norm', [g1, bad, g3], {'maxNorm': 1.0}),
        ('inf grads errorIfNonfinite', 'norm', [g1, inf, g3], {'maxNorm': 1.0, 'errorIfNonfinite': True}),
        ('inf grads', 'norm', [g1, inf, g3], {'maxNorm': 1.0}),
        ('value 0.3', 'value', [g1, g2, g3], {'clipValue': 0.3}),
        ('value 1.5 one param without grad', 'value', [g1, g2, None], {'clipValue': 1.5}),
    ]
    out = []
    for name, fn, grads, o in specs:
        ps = [nn.Parameter(torch.zeros_like(g if g is not None else g1)) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = None if g is None else g.clone()
        case = {'name': name, 'fn': fn, 'grads': [None if g is None else enc(g) for g in grads], **o}
        if fn == 'norm':
            nt = float('inf') if o.get('normType') == 'inf' else o.get('normType', 2.0)
            try:
                norm = torch.nn.utils.clip_grad_norm_(ps, o['maxNorm'], norm_type=nt,
                                                      error_if_nonfinite=o.get('errorIfNonfinite', False))
                case['norm'] = enc(norm)
                case['error'] = False
            except RuntimeError:
                case['error'] = True
        else:
            torch.nn.utils.clip_grad_value_(ps, o['clipValue'])
        case['clipped'] = [None if p.grad is None else enc(p.grad) for p in ps]
        out.append(case)
    return out


# ---- losses --------------------------------------------------------------------------------------
def loss_cases():
    N, C = 4, 3
    cases = []

    def add(name, cls, fn, inp, tgt, options=None, module_kwargs=None, reductions=('none', 'mean', 'sum')):
        options = options or {}
        module_kwargs = module_kwargs or {}
        results = {}
        for red in reductions:
            x = inp.clone().requires_grad_(True)
            out = getattr(nn, cls)(reduction=red, **module_kwargs)(x, tgt)
            r = {'out': enc(out)}
            if out.dim() > 0:
                go = randn(*out.shape)
                out.backward(go)
                r['gradOut'] = enc(go)
            else:
                out.backward()
            r['grad'] = enc(x.grad)
            results[red] = r
        enc_opts = {k: enc(v) if torch.is_tensor(v) else v for k, v in options.items()}
        cases.append({'name': name, 'cls': cls, 'fn': fn, 'options': enc_opts, 'input': enc(inp),
                      'target': enc(tgt), 'results': results})

    x, y = randn(N, C), randn(N, C)
    y_tie = y.clone()
    y_tie[0, 0] = x[0, 0]
    add('MSELoss', 'MSELoss', 'mseLoss', x, y)
    add('MSELoss 3-D', 'MSELoss', 'mseLoss', randn(2, 3, 2), randn(2, 3, 2))
    add('L1Loss', 'L1Loss', 'l1Loss', x, y_tie)
    add('SmoothL1Loss', 'SmoothL1Loss', 'smoothL1Loss', x, y)
    add('SmoothL1Loss beta 0.5', 'SmoothL1Loss', 'smoothL1Loss', x, y, {'beta': 0.5}, {'beta': 0.5})
    add('SmoothL1Loss beta 2', 'SmoothL1Loss', 'smoothL1Loss', x, y, {'beta': 2.0}, {'beta': 2.0})
    add('SmoothL1Loss beta 0 (L1)', 'SmoothL1Loss', 'smoothL1Loss', x, y_tie, {'beta': 0.0}, {'beta': 0.0})
    add('HuberLoss', 'HuberLoss', 'huberLoss', x, y)
    add('HuberLoss delta 0.3', 'HuberLoss', 'huberLoss', x, y, {'delta': 0.3}, {'delta': 0.3})
    add('HuberLoss delta 2.5', 'HuberLoss', 'huberLoss', x, y, {'delta': 2.5}, {'delta': 2.5})

    logits = randn(N, C)
    idx = torch.tensor([0, 2, 1, 2])
    w = rand(C) + 0.5
    w = round_dec(w)
    probs = round_dec(torch.softmax(randn(N, C), 1))
    add('CrossEntropyLoss', 'CrossEntropyLoss', 'crossEntropy', logits, idx)
    add('CrossEntropyLoss weight', 'CrossEntropyLoss', 'crossEntropy', logits, idx, {'weight': w}, {'weight': w})
    add('CrossEntropyLoss ignoreIndex', 'CrossEntropyLoss', 'crossEntropy', logits, idx, {'ignoreIndex': 2}, {'ignore_index': 2})
    idx_ign = torch.tensor([0, -100, 1, -100])
    add('CrossEntropyLoss default ignoreIndex -100 weight', 'CrossEntropyLoss', 'crossEntropy', logits, idx_ign,
        {'weight': w}, {'weight': w})
    add('CrossEntropyLoss all ignored', 'CrossEntropyLoss', 'crossEntropy', logits, torch.full((N,), -100, dtype=torch.int64))
    add('CrossEntropyLoss labelSmoothing', 'CrossEntropyLoss', 'crossEntropy', logits, idx, {'labelSmoothing': 0.1},
        {'label_smoothing': 0.1})
    add('CrossEntropyLoss labelSmoothing weight ignoreIndex', 'CrossEntropyLoss', 'crossEntropy', logits, idx,
        {'labelSmoothing': 0.2, 'weight': w, 'ignoreIndex': 1}, {'label_smoothing': 0.2, 'weight': w, 'ignore_index': 1})
    add('CrossEntropyLoss probabilities', 'CrossEntropyLoss', 'crossEntropy', logits, probs)
    add('CrossEntropyLoss probabilities weight labelSmoothing', 'CrossEntropyLoss', 'crossEntropy', logits, probs,
        {'weight': w, 'labelSmoothing': 0.15}, {'weight': w, 'label_smoothing': 0.15})
    logits4 = randn(2, C, 2, 2)
    idx4 = torch.tensor([[[0, 1], [2, 2]], [[1, 0], [2, 1]]])
    add('CrossEntropyLoss (N, C, d1, d2)', 'CrossEntropyLoss', 'crossEntropy', logits4, idx4)
    add('CrossEntropyLoss (N, C, d1, d2) weight ignoreIndex labelSmoothing', 'CrossEntropyLoss', 'crossEntropy', logits4,
        idx4, {'weight': w, 'ignoreIndex': 0, 'labelSmoothing': 0.05},
        {'weight': w, 'ignore_index': 0, 'label_smoothing': 0.05})
    probs4 = round_dec(torch.softmax(randn(2, C, 2, 2), 1))
    add('CrossEntropyLoss (N, C, d1, d2) probabilities', 'CrossEntropyLoss', 'crossEntropy', logits4, probs4)
    add('CrossEntropyLoss unbatched (C)', 'CrossEntropyLoss', 'crossEntropy', randn(C), torch.tensor(1))

    logp = round_dec(torch.log_softmax(randn(N, C), 1))
    add('NLLLoss', 'NLLLoss', 'nllLoss', logp, idx)
    add('NLLLoss weight', 'NLLLoss', 'nllLoss', logp, idx, {'weight': w}, {'weight': w})
    add('NLLLoss weight ignoreIndex', 'NLLLoss', 'nllLoss', logp, idx, {'weight': w, 'ignoreIndex': 2},
        {'weight': w, 'ignore_index': 2})
    logp4 = round_dec(torch.log_softmax(randn(2, C, 2, 2), 1))
    add('NLLLoss (N, C, d1, d2) ignoreIndex', 'NLLLoss', 'nllLoss', logp4, idx4, {'ignoreIndex': 1}, {'ignore_index': 1})

    p = round_dec(torch.sigmoid(randn(N, C)))
    t = rand(N, C)
    tb = torch.tensor([[1., 0., 1.], [0., 0., 1.], [1., 1., 0.], [0., 1., 0.]])
    add('BCELoss', 'BCELoss', 'binaryCrossEntropy', p, t)
    add('BCELoss weight', 'BCELoss', 'binaryCrossEntropy', p, tb, {'weight': w}, {'weight': w})
    wfull = round_dec(rand(N, C) + 0.1)
    add('BCELoss weight (N, C)', 'BCELoss', 'binaryCrossEntropy', p, t, {'weight': wfull}, {'weight': wfull})
    z = randn(N, C, scale=2.0)
    pw = round_dec(rand(C) * 3 + 0.2)
    add('BCEWithLogitsLoss', 'BCEWithLogitsLoss', 'binaryCrossEntropyWithLogits', z, tb)
    add('BCEWithLogitsLoss posWeight', 'BCEWithLogitsLoss', 'binaryCrossEntropyWithLogits', z, t, {'posWeight': pw},
        {'pos_weight': pw})
    add('BCEWithLogitsLoss weight posWeight', 'BCEWithLogitsLoss', 'binaryCrossEntropyWithLogits', z, tb,
        {'weight': w, 'posWeight': pw}, {'weight': w, 'pos_weight': pw})

    kin = round_dec(torch.log_softmax(randn(N, C), 1))
    ktg = round_dec(torch.softmax(randn(N, C), 1))
    ktg_log = round_dec(torch.log_softmax(randn(N, C), 1))
    reds = ('none', 'mean', 'sum', 'batchmean')
    add('KLDivLoss', 'KLDivLoss', 'klDiv', kin, ktg, reductions=reds)
    add('KLDivLoss logTarget', 'KLDivLoss', 'klDiv', kin, ktg_log, {'logTarget': True}, {'log_target': True},
        reductions=reds)
    ktg0 = ktg.clone()
    ktg0[1, 2] = 0.0
    add('KLDivLoss zero target', 'KLDivLoss', 'klDiv', kin, ktg0, reductions=reds)
    return cases


def write(name, data):
    path = os.path.join(OUT_DIR, name)
    write_json(path, data, allow_nan=False)
    print('wrote', os.path.relpath(path, os.path.join(HERE, '..')), os.path.getsize(path), 'bytes')


if __name__ == '__main__':
    write('optim.json', {'torch': torch.__version__, 'problem': PROBLEM, 'optimizers': optimizer_cases(),
                         'schedulers': scheduler_cases(), 'clipGrad': clip_cases()})
    write('loss.json', {'torch': torch.__version__, 'cases': loss_cases()})
