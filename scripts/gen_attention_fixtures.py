#!/usr/bin/python3
"""Generate test/fixtures/attention.json: PyTorch's results for nn.MultiheadAttention, the mask
helpers and scaled-dot-product attention (test/nn/{attention,masks,sdpa}.test.ts).

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_attention_fixtures.py

Sizes are those of the conformance cases: E=8, H=2, L=4, S=5, N=3. A tensor is stored as
``{"shape": [...], "dtype": "float32", "values": [flat row-major]}`` (the layout test/helpers.ts
reads; non-finite floats as "nan" / "inf" / "-inf"). Floats are rounded to 7 significant digits,
and every tensor the JS side feeds in (weights, inputs, masks, loss weights) is rounded *before*
PyTorch uses it, so both sides compute from bit-identical float32 values.

Layout:

    tensors   {name: tensor}                 shared inputs (queries, keys, masks, loss weights)
    states    {name: {key: tensor}}          module state_dicts (loaded with loadStateDict)
    mha       {case: {...}}                  one MultiheadAttention forward (+ backward) each:
        module      constructor options (embedDim, numHeads + the TS option names)
        state       key into `states`;   training: bool
        query/key/value/attnMask/keyPaddingMask/gradOut/gradWeights: a key into `tensors`
                    ("name^T": that tensor transposed (0, 1)), "=query" / "=key" (pass the same
                    object: PyTorch's identity fast paths), or null
        needWeights, averageAttnWeights
        out, weights                         PyTorch's results (weights null if needWeights=false)
        grads       {query|key|value|<parameter name>: grad} of
                    loss = (out * gradOut).sum() [+ (weights * gradWeights).sum()]
        lossRows    (case 10 only) the query rows (dim 0) the loss sums over
        torch113    (deliberate divergences only) what 1.13 itself returns for these inputs
    init      {case: {seed, options, state}} torch.manual_seed(seed); nn.MultiheadAttention(...)
    params    {case: {options, names: [[name, shape]]}}   named_parameters() order
    repr      {case: {options, repr}}
    masks     {...}                          mask helpers' PyTorch expressions
    sdpa      {case: {...}}                  softmax(q kᵀ·scale + mask) v in float64 (PyTorch 2
                                             semantics: bool true = ALLOWED; a query with no
                                             allowed key gives 0, as PyTorch >= 2.5)
"""

import math
import os
import warnings
from collections import OrderedDict

import torch
import torch.nn as nn

from fixture_util import enc, rnd, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'attention.json')

E, H, L, S, N = 8, 2, 4, 5, 3
NEG_INF = float('-inf')

fx = OrderedDict(meta={'torch': torch.__version__, 'E': E, 'H': H, 'L': L, 'S': S, 'N': N},
                 tensors=OrderedDict(), states=OrderedDict(), mha=OrderedDict(), init=OrderedDict(),
                 params=OrderedDict(), repr=OrderedDict(), masks=OrderedDict(), sdpa=OrderedDict())
_names = {}
_alive = []


def T(name, t):
    """Registers a shared input tensor under `name` (once per object) and returns the name."""
    if id(t) in _names:
        return _names[id(t)]
    assert name not in fx['tensors'], name
    fx['tensors'][name] = enc(t)
    _names[id(t)] = name
    _alive.append(t)              # keep it alive: ids of freed objects are reused
    return name


# TS option names of the module constructor.
def ts_options(kw):
    names = {'dropout': 'dropout', 'bias': 'bias', 'add_bias_kv': 'addBiasKv', 'add_zero_attn': 'addZeroAttn',
             'kdim': 'kdim', 'vdim': 'vdim', 'batch_first': 'batchFirst'}
    return OrderedDict((names[k], v) for k, v in kw.items())


def make_state(name, kw, seed):
    """A module whose every parameter (biases included) is rounded random; state stored once."""
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(E, H, **kw)
    with torch.no_grad():
        for i, (_, p) in enumerate(m.named_parameters()):
            p.copy_(rnd(*p.shape, seed=seed * 100 + i, scale=0.5))
    state = OrderedDict((k, enc(v)) for k, v in m.state_dict().items())
    for other, st in fx['states'].items():      # the same weights under another name: store once
        if st == state:
            return m, other
    fx['states'][name] = state
    return m, name


MODULES = {}


def module(name, kw, seed):
    """(module, kw, key of its state_dict in fx['states'])."""
    if name not in MODULES:
        m, state = make_state(name, kw, seed)
        MODULES[name] = (m, kw, state)
    return MODULES[name]


def mha_case(name, state, kw, seed, q, k, v, *, attn=None, kpm=None, need_weights=True, average=True,
             training=False, grad=False, grad_weights=False, loss_rows=None, expected_attn=None,
             expected_kpm='same', key_alias=None, value_alias=None):
    """Runs PyTorch's MHA and records the case. `expected_attn`/`expected_kpm` (deliberate
    divergences): the masks that compute the value WE must return; the value 1.13 returns for the
    original masks goes to `torch113`."""
    m, kw0, state_key = module(state, kw, seed)
    assert kw0 == kw
    m.train(training)
    c = OrderedDict(module=OrderedDict([('embedDim', E), ('numHeads', H)] + list(ts_options(kw).items())),
                    state=state_key, training=training)
    c['query'] = T(f'{name}.query', q)
    c['key'] = key_alias or T(f'{name}.key', k)
    c['value'] = value_alias or T(f'{name}.value', v)
    c['attnMask'] = None if attn is None else T(f'{name}.attnMask', attn)
    c['keyPaddingMask'] = None if kpm is None else T(f'{name}.keyPaddingMask', kpm)
    c['needWeights'] = need_weights
    c['averageAttnWeights'] = average

    def run(attn_, kpm_, with_grad):
        qq = q.clone().requires_grad_(with_grad)
        kk = qq if key_alias == '=query' else k.clone().requires_grad_(with_grad)
        vv = qq if value_alias == '=query' else kk if value_alias == '=key' else v.clone().requires_grad_(with_grad)
        m.zero_grad(set_to_none=True)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            out, w = m(qq, kk, vv, key_padding_mask=kpm_, need_weights=need_weights, attn_mask=attn_,
                       average_attn_weights=average)
        return qq, kk, vv, out, w

    if expected_attn is not None:
        _, _, _, o113, w113 = run(attn, kpm, False)
        c['torch113'] = OrderedDict(out=enc(o113), weights=None if w113 is None else enc(w113))
        attn_used, kpm_used = expected_attn, (None if expected_kpm is None else kpm if expected_kpm == 'same' else expected_kpm)
    else:
        attn_used, kpm_used = attn, kpm
    qq, kk, vv, out, w = run(attn_used, kpm_used, grad)
    c['out'] = enc(out)
    c['weights'] = None if w is None else enc(w)
    if grad:
        go = rnd(*out.shape, seed=seed * 1000 + 7)
        c['gradOut'] = T(f'{name}.gradOut', go)
        sel = out if loss_rows is None else out[loss_rows]
        gsel = go if loss_rows is None else go[loss_rows]
        loss = (sel * gsel).sum()
        if loss_rows is not None:
            c['lossRows'] = loss_rows
        if grad_weights:
            gw = rnd(*w.shape, seed=seed * 1000 + 8)
            c['gradWeights'] = T(f'{name}.gradWeights', gw)
            loss = loss + (w * gw).sum()
        loss.backward()
        grads = OrderedDict()
        grads['query'] = enc(qq.grad)
        if key_alias is None:
            grads['key'] = enc(kk.grad)
        if value_alias is None:
            grads['value'] = enc(vv.grad)
        for pn, p in m.named_parameters():
            grads[pn] = enc(p.grad)
        c['grads'] = grads
    fx['mha'][name] = c
    m.train(False)
    return c, out, w


def bool_to_float(mask):
    return torch.zeros(mask.shape).masked_fill(mask, NEG_INF)


def expand_kpm(kpm, heads=H, rows=L):
    """(N, S) key-padding mask → (N*H, L, S), batch-major (row n*H + h)."""
    return kpm.repeat_interleave(heads, 0).unsqueeze(1).expand(kpm.shape[0] * heads, rows, kpm.shape[1]).contiguous()


# =============================================================================================
# Inputs (sequence-first)
# =============================================================================================
q = rnd(L, N, E, seed=1)
k = rnd(S, N, E, seed=2)
v = rnd(S, N, E, seed=3)
x_self = rnd(L, N, E, seed=4)        # self-attention input (q is k is v)
BASE = {}
SEED = 11

causal = torch.triu(torch.ones(L, S, dtype=torch.bool), 1)         # (4,5): every row has >= 2 keys allowed
kpm_bool = torch.zeros(N, S, dtype=torch.bool)
kpm_bool[0, 4] = True
kpm_bool[1, 3:] = True
kpm_bool[2, 2] = True

# ---- 1. shapes + reference math, seq-first, no mask ------------------------------------------
mha_case('plain', 'base', BASE, SEED, q, k, v)
mha_case('plainPerHead', 'base', BASE, SEED, q, k, v, average=False, grad_weights=True)
mha_case('selfAttn', 'base', BASE, SEED, x_self, None, None, key_alias='=query', value_alias='=query',
         attn=torch.triu(torch.ones(L, L, dtype=torch.bool), 1), grad=True)
mha_case('kvSame', 'base', BASE, SEED, q, k, None, value_alias='=key', kpm=kpm_bool)

# ---- 4. reference math with a random float mask ----------------------------------------------
float_mask = rnd(L, S, seed=20, scale=1.5)
mha_case('floatMask', 'base', BASE, SEED, q, k, v, attn=float_mask, average=False, grad=True)

# ---- 6. bool ≡ float -inf; uint8 -------------------------------------------------------------
bool_mask = torch.tensor([[0, 0, 1, 0, 1], [1, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)
mha_case('boolMask', 'base', BASE, SEED, q, k, v, attn=bool_mask, average=False)
T('boolMask.asFloat', bool_to_float(bool_mask))
T('boolMask.asUint8', bool_mask.to(torch.uint8))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    m_base = MODULES['base'][0]
    o_u8, _ = m_base(q, k, v, attn_mask=bool_mask.to(torch.uint8))
    o_b, _ = m_base(q, k, v, attn_mask=bool_mask)
    assert torch.equal(o_u8, o_b)
    fx['mha']['boolMask']['uint8Warning'] = [str(w.message) for w in caught if 'Byte' in str(w.message)][0]
    o_f, _ = m_base(q, k, v, attn_mask=bool_to_float(bool_mask))
    assert torch.equal(o_f, o_b)

# ---- 7. float mask is additive: -1 in column 0 -----------------------------------------------
m7 = torch.zeros(L, S)
m7[:, 0] = -1.0
mha_case('minusOneCol0', 'base', BASE, SEED, q, k, v, attn=m7, average=False)
T('zeroOne', torch.tensor([[0, 1, 0, 0, 1], [1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 1, 0, 0, 0]], dtype=torch.float32))

# ---- 8. fully masked row (bool attnMask row 1 all true) --------------------------------------
full_row = bool_mask.clone()
full_row[1] = True
mha_case('fullyMaskedRow', 'base', BASE, SEED, q, k, v, attn=full_row, average=False)

# ---- 9. fully padded batch element -----------------------------------------------------------
kpm_full = kpm_bool.clone()
kpm_full[2] = True
mha_case('fullyPadded', 'base', BASE, SEED, q, k, v, kpm=kpm_full)

# ---- 10. NaN gradient contamination (1.13 parity): train mode, loss over rows 0, 2, 3 ---------
mha_case('nanGrad', 'base', BASE, SEED, q, k, v, attn=full_row, training=True, loss_rows=[0, 2, 3], grad=True)
assert any(g['values'].count('nan') for g in [fx['mha']['nanGrad']['grads']['in_proj_weight']])

# ---- 11. -1e9 on a full row: uniform weights -------------------------------------------------
m11 = bool_to_float(bool_mask)
m11[1] = -1e9
mha_case('minus1e9Row', 'base', BASE, SEED, q, k, v, attn=m11, average=False)

# ---- 12. kpm invariance -----------------------------------------------------------------------
kpm12 = torch.zeros(N, S, dtype=torch.bool)
kpm12[1, 3:] = True
mha_case('kpmInvariance', 'base', BASE, SEED, q, k, v, kpm=kpm12, average=False)

# ---- 13. kpm ≡ expanded 3-D attn mask ---------------------------------------------------------
c13, o13, w13 = mha_case('kpmBool', 'base', BASE, SEED, q, k, v, kpm=kpm_bool, average=False)
T('kpmBool.expanded3d', expand_kpm(kpm_bool))
o13b, w13b = m_base(q, k, v, attn_mask=expand_kpm(kpm_bool), average_attn_weights=False)
assert torch.equal(o13, o13b) and torch.equal(w13, w13b)

# ---- 14. 3-D per-head layout: block key 0 at index 0*H + 1 ------------------------------------
m14 = torch.zeros(N * H, L, S, dtype=torch.bool)
m14[0 * H + 1, :, 0] = True
mha_case('perHead3d', 'base', BASE, SEED, q, k, v, attn=m14, average=False)

# ---- 15. both masks + per-head weights (the main gradient case) -------------------------------
mha_case('bothMasks', 'base', BASE, SEED, q, k, v, attn=causal, kpm=kpm_bool, average=False, grad_weights=True, grad=True)
mha_case('bothMasksFloat', 'base', BASE, SEED, q, k, v, attn=bool_to_float(causal), kpm=kpm_bool)
mha_case('float3dMask', 'base', BASE, SEED, q, k, v, attn=rnd(N * H, L, S, seed=21), kpm=kpm_bool, grad=True)

# ---- 16. mixed dtypes (deliberate divergence: both masks apply, as PyTorch 2) -----------------
am16 = torch.zeros(L, S)
am16[:, 3] = NEG_INF
am16[:, 1] = 0.5
kpm16 = torch.zeros(N, S)
kpm16[:, 2] = NEG_INF
kpm16[1, 0] = -1.0            # a soft bias
combined16 = am16.unsqueeze(0) + kpm16.repeat_interleave(H, 0).unsqueeze(1)      # (N*H, L, S)
mha_case('mixedFloatFloat', 'base', BASE, SEED, q, k, v, attn=am16, kpm=kpm16, average=False,
         expected_attn=combined16, expected_kpm=None, grad=True)
am16b = torch.zeros(L, S, dtype=torch.bool)
am16b[:, 3] = True
kpm16b = torch.zeros(N, S)
kpm16b[:, 2] = -1.0           # soft: 1.13 booleanises it into a hard mask
combined16b = bool_to_float(am16b).unsqueeze(0) + kpm16b.repeat_interleave(H, 0).unsqueeze(1)
mha_case('mixedBoolFloat', 'base', BASE, SEED, q, k, v, attn=am16b, kpm=kpm16b, average=False,
         expected_attn=combined16b, expected_kpm=None, grad=True)
# float attnMask + bool kpm is merged correctly by 1.13 itself
mha_case('floatAttnBoolKpm', 'base', BASE, SEED, q, k, v, attn=am16, kpm=kpm_bool)
# a float kpm alone is added (slow path)
kpm_soft = rnd(N, S, seed=22)
kpm_soft[0, 1] = NEG_INF
mha_case('floatKpm', 'base', BASE, SEED, q, k, v, kpm=kpm_soft, grad=True)

# ---- 2. batch_first (with a 3-D mask and a kpm) ----------------------------------------------
BF = {'batch_first': True}
m_bf, _, _ = module('batchFirst', BF, SEED)      # same seed → the same weights as 'base'
assert all(torch.equal(a, b) for a, b in zip(m_bf.state_dict().values(), m_base.state_dict().values()))
qt, kt, vt = (t.transpose(0, 1).contiguous() for t in (q, k, v))
for t, base_name in ((qt, 'plain.query'), (kt, 'plain.key'), (vt, 'plain.value')):
    _names[id(t)] = base_name + '^T'       # "name^T": the named tensor transposed (0, 1), not stored again
    _alive.append(t)
mha_case('batchFirst', 'batchFirst', BF, SEED, qt, kt, vt, attn=m14, kpm=kpm_bool, average=False, grad=True)
mha_case('batchFirstSelf', 'batchFirst', BF, SEED, x_self.transpose(0, 1).contiguous(), None, None,
         key_alias='=query', value_alias='=query', kpm=torch.tensor([[0, 0, 0, 1]] * N, dtype=torch.bool))

# ---- 3. unbatched (1-D kpm, (H, L, S) mask; batchFirst ignored) -------------------------------
qu, ku, vu = q[:, 1].contiguous(), k[:, 1].contiguous(), v[:, 1].contiguous()
mu = torch.zeros(H, L, S, dtype=torch.bool)
mu[1, :, 1] = True
mu[0, 2, 0] = True
kpmu = torch.tensor([False, False, False, False, True])
mha_case('unbatched', 'base', BASE, SEED, qu, ku, vu, attn=mu, kpm=kpmu, average=False, grad=True)
mha_case('unbatchedAvg', 'base', BASE, SEED, qu, ku, vu, kpm=kpmu)
mha_case('unbatchedBatchFirst', 'batchFirst', BF, SEED, qu, ku, vu, attn=causal, kpm=kpmu)

# ---- 20. kdim/vdim, bias=False -----------------------------------------------------------------
KV = {'kdim': 6, 'vdim': 4}
k6, v4 = rnd(S, N, 6, seed=30), rnd(S, N, 4, seed=31)
mha_case('kdimVdim', 'kdimVdim', KV, 12, q, k6, v4, attn=causal, kpm=kpm_bool, average=False, grad=True)
mha_case('kdimVdimUnbatched', 'kdimVdim', KV, 12, qu, k6[:, 0].contiguous(), v4[:, 0].contiguous(), kpm=kpmu)
NB = {'bias': False}
mha_case('noBias', 'noBias', NB, 13, q, k, v, attn=bool_mask, kpm=kpm_bool, grad=True)
NBK = {'bias': False, 'kdim': 6, 'vdim': 4, 'add_bias_kv': True}
mha_case('noBiasKdimBiasKv', 'noBiasKdimBiasKv', NBK, 14, q, k6, v4, attn=causal, grad=True)

# ---- 21. add_bias_kv + add_zero_attn -----------------------------------------------------------
BKZ = {'add_bias_kv': True, 'add_zero_attn': True}
mha_case('biasKvZeroAttn', 'biasKvZeroAttn', BKZ, 15, q, k, v, attn=causal, kpm=kpm_bool, average=False, grad=True)
mha_case('biasKvZeroAttnAllPadded', 'biasKvZeroAttn', BKZ, 15, q, k, v,
         kpm=torch.ones(N, S, dtype=torch.bool), average=False)
BK = {'add_bias_kv': True}
mha_case('biasKv', 'biasKv', BK, 16, q, k, v, attn=rnd(N * H, L, S, seed=23), kpm=kpm_bool, grad=True)
ZA = {'add_zero_attn': True, 'batch_first': True}
mha_case('zeroAttnBatchFirst', 'zeroAttnBatchFirst', ZA, SEED, qt, kt, vt, attn=bool_mask, kpm=kpm_bool, grad=True)
mha_case('biasKvZeroAttnUnbatched', 'biasKvZeroAttn', BKZ, 15, qu, ku, vu, attn=mu, kpm=kpmu, average=False)

# ---- 22. dropout: in eval it is the identity --------------------------------------------------
DO = {'dropout': 0.5}
m_do, _, st_do = module('dropout', DO, SEED)
assert all(torch.equal(a, b) for a, b in zip(m_do.state_dict().values(), m_base.state_dict().values()))
mha_case('dropoutEval', 'dropout', DO, SEED, q, k, v, attn=causal, kpm=kpm_bool)
# Train mode with a seed: 1.13's dropout draws from the default generator after the projections.
m_do.train(True)
torch.manual_seed(1234)
o_tr, w_tr = m_do(q, k, v, average_attn_weights=False)
m_do.train(False)
fx['mha']['dropoutTrain'] = OrderedDict(
    module=OrderedDict(embedDim=E, numHeads=H, dropout=0.5), state=st_do, training=True, seed=1234,
    query='plain.query', key='plain.key', value='plain.value', attnMask=None, keyPaddingMask=None,
    needWeights=True, averageAttnWeights=False, out=enc(o_tr), weights=enc(w_tr))

# ---- 23. the SDPA-style tril mask passed to MHA (last row NaN, other rows see only the future) --
tril = torch.tril(torch.ones(L, L, dtype=torch.bool))
mha_case('sdpaStyleTril', 'base', BASE, SEED, x_self, None, None, key_alias='=query', value_alias='=query',
         attn=tril, average=False)

# =============================================================================================
# Construction: seeded init, parameter names/order/shapes, repr
# =============================================================================================
for name, seed, kw in [('default', 0, {}), ('kdimVdimBiasKv', 3, {'kdim': 6, 'vdim': 4, 'add_bias_kv': True})]:
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(E, H, **kw)
    fx['init'][name] = OrderedDict(seed=seed, options=ts_options(kw),
                                   state=OrderedDict((k_, enc(t)) for k_, t in m.state_dict().items()))

for name, kw in [('default', {}), ('kdimVdim', {'kdim': 6, 'vdim': 4}), ('kdimOnly', {'kdim': 6}),
                 ('noBias', {'bias': False}), ('biasKv', {'add_bias_kv': True}),
                 ('all', {'bias': False, 'add_bias_kv': True, 'add_zero_attn': True, 'kdim': 6, 'vdim': 4,
                          'batch_first': True, 'dropout': 0.25})]:
    m = nn.MultiheadAttention(E, H, **kw)
    fx['params'][name] = OrderedDict(options=ts_options(kw),
                                     names=[[n, list(p.shape)] for n, p in m.named_parameters()],
                                     stateKeys=list(m.state_dict().keys()))
    fx['repr'][name] = OrderedDict(options=ts_options(kw), repr=repr(m))

# =============================================================================================
# Mask helpers
# =============================================================================================
mk = fx['masks']
mk['causal4'] = enc(torch.triu(torch.ones(4, 4), diagonal=1).bool())
mk['causal4x5'] = enc(torch.triu(torch.ones(4, 5), diagonal=1).bool())
mk['causal5x3'] = enc(torch.triu(torch.ones(5, 3), diagonal=1).bool())
mk['causal4x5diag0'] = enc(torch.triu(torch.ones(4, 5), diagonal=0).bool())
mk['causal4x5diag2'] = enc(torch.triu(torch.ones(4, 5), diagonal=2).bool())
mk['causal4x5diagm1'] = enc(torch.triu(torch.ones(4, 5), diagonal=-1).bool())
mk['generateSquareSubsequentMask4'] = enc(nn.Transformer.generate_square_subsequent_mask(4))
lengths = torch.tensor([7, 4, 2])
mk['padding742'] = enc(torch.arange(7)[None, :] >= lengths[:, None])
mk['padding742S9'] = enc(torch.arange(9)[None, :] >= lengths[:, None])
mk['toAdditiveCausal4'] = enc(torch.zeros(4, 4).masked_fill(torch.triu(torch.ones(4, 4), 1).bool(), NEG_INF))
mk['toSdpaCausal4x5'] = enc(~torch.triu(torch.ones(4, 5), diagonal=1).bool())
# findFullyMasked: (attnMask (L,S) | (N*H,L,S)) and/or kpm (N,S) → which query rows have no key.
fm_attn = full_row                                   # row 1 fully blocked
fm_kpm = kpm_full                                    # batch 2 fully padded
a3 = m14 | expand_kpm(torch.tensor([[0, 0, 0, 0, 0], [1, 1, 1, 1, 0], [0] * 5], dtype=torch.bool))
a3[1 * H + 0, 2, 4] = True                           # batch 1, head 0, row 2: every key blocked
mk['fullyMasked'] = OrderedDict(
    attnMask=T('fm.attnMask', fm_attn), keyPaddingMask=T('fm.keyPaddingMask', fm_kpm), attn3d=T('fm.attn3d', a3),
    # PyTorch expressions
    attnOnly=enc(fm_attn.all(-1)),                                               # (L)
    kpmOnly=enc(fm_kpm.all(-1)),                                                 # (N)
    both=enc((fm_attn.unsqueeze(0) | fm_kpm[:, None, :]).all(-1)),              # (N, L)
    attn3dOnly=enc(a3.all(-1)),                                                  # (N*H, L)
    attn3dKpm=enc((a3.view(N, H, L, S) | fm_kpm.view(N, 1, 1, S)).all(-1).any(1)),  # (N, L)
)
# float masks: -inf counts as blocked
fl = bool_to_float(fm_attn)
fl[0, 0] = -1e9
T('fm.attnFloat', fl)
mk['fullyMasked']['attnFloat'] = enc(fl.eq(NEG_INF).all(-1))

# =============================================================================================
# scaled_dot_product_attention, PyTorch 2 semantics, by the formula (float64)
# =============================================================================================
def sdpa_ref(q_, k_, v_, mask=None, is_causal=False, scale=None):
    q64, k64, v64 = q_.double(), k_.double(), v_.double()
    Lq, Sk = q64.shape[-2], k64.shape[-2]
    sc = 1.0 / math.sqrt(q64.shape[-1]) if scale is None else scale
    scores = q64 @ k64.transpose(-2, -1) * sc
    if is_causal:
        allowed = torch.ones(Lq, Sk, dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, NEG_INF)
    if mask is not None:
        scores = scores + (torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, NEG_INF)
                           if mask.dtype == torch.bool else mask.double())
    fully = scores.eq(NEG_INF).all(-1, keepdim=True)
    # _safe_softmax: a row with no allowed key gives 0 (forward) and passes no gradient.
    w = torch.softmax(scores.masked_fill(fully, 0.0), -1).masked_fill(fully, 0.0)
    return w @ v64


GRAD_OUTS = {}


def sdpa_case(name, q_, k_, v_, mask=None, is_causal=False, scale=None, grad=True):
    c = OrderedDict(query=T(f'sdpa.{name}.query', q_), key=T(f'sdpa.{name}.key', k_), value=T(f'sdpa.{name}.value', v_),
                    attnMask=None if mask is None else T(f'sdpa.{name}.attnMask', mask), isCausal=is_causal, scale=scale)
    qq, kk, vv = (t.clone().double().requires_grad_(grad) for t in (q_, k_, v_))
    out = sdpa_ref(qq, kk, vv, mask, is_causal, scale)
    c['out'] = enc(out, torch.float32)
    if grad:
        shp = tuple(out.shape)
        if shp not in GRAD_OUTS:
            GRAD_OUTS[shp] = rnd(*shp, seed=500 + len(GRAD_OUTS))
        go = GRAD_OUTS[shp]
        (out * go.double()).sum().backward()
        c['gradOut'] = T(f'sdpa.{name}.gradOut', go)
        c['grads'] = OrderedDict(query=enc(qq.grad, torch.float32), key=enc(kk.grad, torch.float32),
                                 value=enc(vv.grad, torch.float32))
    fx['sdpa'][name] = c


sq3, sk3, sv3 = rnd(3, 4, 8, seed=40), rnd(3, 5, 8, seed=41), rnd(3, 5, 6, seed=42)
sq4, sk4, sv4 = rnd(2, 2, 4, 4, seed=43), rnd(2, 2, 5, 4, seed=44), rnd(2, 2, 5, 3, seed=45)
sdpa_case('plain3d', sq3, sk3, sv3)
sdpa_case('floatMask3d', sq3, sk3, sv3, mask=rnd(4, 5, seed=51))
sb = torch.tensor([[1, 0, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 1, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)
sdpa_case('boolMask3d', sq3, sk3, sv3, mask=sb)
sdpa_case('causal3d', sq3, sk3, sv3, is_causal=True)
sk4sq = sk4[..., :4, :].contiguous()
sdpa_case('causalSquare4d', sq4, sk4sq, sv4[..., :4, :].contiguous(), is_causal=True)
sdpa_case('scale4d', sq4, sk4, sv4, scale=0.3)
sdpa_case('causalScale4d', sq4, sk4, sv4, is_causal=True, scale=0.7)
sdpa_case('plain4d', sq4, sk4, sv4)
b4 = torch.rand(2, 1, 4, 5, generator=torch.Generator().manual_seed(59)) > 0.35
b4[..., 0] = True                                    # every row keeps at least one key
sdpa_case('boolMaskBatchBroadcast4d', sq4, sk4, sv4, mask=b4)
sdpa_case('floatMaskHeadBroadcast4d', sq4, sk4, sv4, mask=rnd(1, 2, 1, 5, seed=61))
sdpa_case('floatMask2dOn4d', sq4, sk4, sv4, mask=rnd(4, 5, seed=63))
sdpa_case('floatMaskFull4d', sq4, sk4, sv4, mask=rnd(2, 2, 4, 5, seed=65, scale=2.0))
# fully masked rows → 0 (PyTorch >= 2.5); gradients are those of the formula with that row's
# softmax replaced by 0 (what _safe_softmax's backward gives)
fb = sb.clone()
fb[1] = False
sdpa_case('fullyMaskedBool', sq3, sk3, sv3, mask=fb)
ff = rnd(4, 5, seed=68)
ff[2] = NEG_INF
sdpa_case('fullyMaskedFloat', sq3, sk3, sv3, mask=ff)
sdpa_case('fullyMasked4d', sq4, sk4, sv4, mask=fb)

# =============================================================================================
write_json(OUT, fx, allow_nan=False)
print(f'{os.path.normpath(OUT)}: {os.path.getsize(OUT)} bytes, {len(fx["mha"])} MHA cases, '
      f'{len(fx["sdpa"])} SDPA cases, {len(fx["tensors"])} shared tensors')
