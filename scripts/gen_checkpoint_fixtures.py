#!/usr/bin/python3
"""Generate test/fixtures/checkpoints/: checkpoints written by PyTorch itself, for the
serialization tests (test/serialization/*.test.ts), and the values they must load as.

Run with Debian's python3-torch (1.13.x), not a pyenv interpreter:

    /usr/bin/python3 scripts/gen_checkpoint_fixtures.py

Files (all small; deterministic with torch.manual_seed(0)):

    state_dict.pt       Net().state_dict(): Linear + LSTM + MultiheadAttention + LayerNorm
    optimizer.pt        Adam(net.parameters()).state_dict() after two steps ({'state': {0: ...}, ...})
    misc.pt             numbers, strings, bytes, lists, tuples, nested and int-keyed dicts, None,
                        bools, tensors of every supported dtype, views (non-contiguous, with an
                        offset, expanded, and several sharing one storage), a Parameter, torch.Size
    tensors.safetensors a safetensors file written by hand with struct/json (the `safetensors`
                        package is not needed), with __metadata__
    malicious.pt        a dict whose 'evil' value pickles as os.system('touch <marker>'): a safe
                        loader must refuse it (PyTorch's own torch.load would run it!)
    expected.json       what each file holds, encoded as below, plus the model's input and output

The same script checks files written by torch-napi (the tests call it when /usr/bin/python3 can
import torch):

    --dump PATH              print the encoding of torch.load(PATH)
    --dump-weights-only PATH the same with torch.load(PATH, weights_only=True)
    --dump-safetensors PATH  print the encoding of a safetensors file, read by hand
    --load-model PATH        Net().load_state_dict(torch.load(PATH), strict=True); print the
                             output on the fixture input
    --load-optimizer PATH    Adam(Net().parameters()).load_state_dict(torch.load(PATH)); print
                             its state_dict's encoding

Encoding (JSON): None, bools, strings and floats as themselves; ints as numbers when |v| <= 2^53,
else {"bigint": "digits"}; NaN/Infinity as {"float": "nan" | "inf" | "-inf"}; bytes as
{"bytes": hex}; lists {"list": [...]}, tuples and torch.Size {"tuple": [...]}; dicts
{"dict": [[key, value], ...]} in order; tensors {"tensor": {"dtype", "shape", "stride",
"offset", "requires_grad", "parameter", "values": [flat, row-major]}} with float32/16 values
rounded to 9 significant digits (exact for float32), int64 beyond 2^53 as strings, NaN/inf as
strings.
"""

import json
import math
import os
import struct
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

from fixture_util import DTYPE_NAMES, num, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, '..', 'test', 'fixtures', 'checkpoints')
MARKER = '/tmp/torch-napi-checkpoint-pwned'

ST_NAMES = {
    torch.float32: 'F32', torch.float64: 'F64', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64',
    torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8', torch.uint8: 'U8', torch.bool: 'BOOL',
}
ST_DTYPES = {v: k for k, v in ST_NAMES.items()}


class Net(nn.Module):
    """The model of state_dict.pt; test/serialization/checkpoint.test.ts builds the same in JS."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.lstm = nn.LSTM(6, 6)
        self.attn = nn.MultiheadAttention(6, 2)
        self.norm = nn.LayerNorm(6)

    def forward(self, x):
        h = self.fc(x)
        h, _ = self.lstm(h)
        h, _ = self.attn(h, h, h)
        return self.norm(h)


def enc_float(v):
    if math.isnan(v):
        return {'float': 'nan'}
    if math.isinf(v):
        return {'float': 'inf' if v > 0 else '-inf'}
    return v


def enc_tensor_value(v, dtype):
    if dtype == torch.bool:
        return bool(v)
    if dtype.is_floating_point:
        return num(float(v), None if dtype == torch.float64 else 9, integral_as_int=False)
    v = int(v)
    return v if abs(v) <= 2 ** 53 else str(v)


def enc(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2 ** 53 else {'bigint': str(v)}
    if isinstance(v, float):
        return enc_float(v)
    if isinstance(v, bytes):
        return {'bytes': v.hex()}
    if isinstance(v, torch.Tensor):
        t = v.detach()
        flat = t.contiguous().reshape(-1)
        values = flat.float().tolist() if t.dtype == torch.bfloat16 else flat.tolist()
        return {'tensor': {
            'dtype': DTYPE_NAMES[t.dtype], 'shape': list(t.shape), 'stride': list(t.stride()),
            'offset': t.storage_offset(), 'requires_grad': v.requires_grad,
            'parameter': isinstance(v, nn.Parameter),
            'values': [enc_tensor_value(x, t.dtype) for x in values],
        }}
    if isinstance(v, torch.Size):
        return {'tuple': [enc(x) for x in v]}
    if isinstance(v, tuple):
        return {'tuple': [enc(x) for x in v]}
    if isinstance(v, list):
        return {'list': [enc(x) for x in v]}
    if isinstance(v, dict):
        return {'dict': [[enc(k), enc(x)] for k, x in v.items()]}
    raise TypeError(f'cannot encode {type(v)}')


def make_net():
    torch.manual_seed(0)
    return Net()


def model_input():
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 2, 4, generator=g)


class Evil:
    """Pickles as a call to os.system: what a restricted loader must refuse."""

    def __reduce__(self):
        return (os.system, (f'touch {MARKER}',))


def misc_values():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return {
        'int': 42, 'neg': -7, 'zero': 0, 'big': 2 ** 40, 'int32_edge': -2 ** 31, 'huge': 2 ** 70, 'neg_huge': -(2 ** 70),
        'float': 3.25, 'neg_float': -0.1, 'tiny': 1e-300, 'nan': float('nan'), 'inf': float('inf'),
        'ninf': float('-inf'),
        'str': 'hello', 'unicode': 'h\u00e9llo w\u00f6rld \u2713 \U0001f680', 'empty_str': '',
        'list': [1, 2.5, 'three', None, True, False], 'tuple': (1, 'two', (3.5, 4)), 'empty_list': [],
        'empty_tuple': (), 'empty_dict': {}, 'nested': {'a': {'b': {'c': [1, {'d': 'deep'}]}}},
        'int_keys': {0: 'zero', 1: 'one', -5: 'minus five'}, 'mixed_keys': {1: 'a', 'b': 2, (1, 2): 'tuple key'},
        'none': None, 'true': True, 'false': False,
        'bytes': b'\x00\x01binary\xff', 'empty_bytes': b'',
        'f32': torch.tensor([[1.5, -2.0], [float('nan'), float('inf')]]),
        'f64': torch.tensor([1.0 / 3.0, -1e300, 5e-324], dtype=torch.float64),
        'f16': torch.tensor([1.5, -2.25, 65504.0, 6.1035156e-05], dtype=torch.float16),
        'bf16': torch.tensor([1.0, -3.140625, 1e30], dtype=torch.bfloat16),
        'i64': torch.tensor([0, -1, 2 ** 62, -(2 ** 62), 2 ** 53 + 1], dtype=torch.int64),
        'i32': torch.tensor([2 ** 31 - 1, -2 ** 31, 7], dtype=torch.int32),
        'i16': torch.tensor([32767, -32768], dtype=torch.int16),
        'i8': torch.tensor([127, -128, 0], dtype=torch.int8),
        'u8': torch.tensor([0, 255, 128], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True]),
        'scalar': torch.tensor(3.5), 'empty': torch.zeros(0, 3),
        'base': base, 'transposed': base.t(), 'row': base[1], 'column': base[:, 2], 'offset_view': base[2, 1:],
        'expanded': torch.tensor([1.0, 2.0]).expand(3, 2),
        'param': nn.Parameter(torch.tensor([1.0, 2.0])),
        'requires_grad': torch.tensor([0.5, -0.5], requires_grad=True),
        'size': torch.Size([2, 3]),
    }


def write_safetensors(path, tensors, metadata):
    """The safetensors format by hand: u64 header length, JSON header, the data (8-aligned header)."""
    header = {'__metadata__': metadata}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {'dtype': ST_NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def read_safetensors(path):
    """Reads the format by hand (as a second implementation to check torch-napi's writer)."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', None)
    out = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        raw = bytearray(data[8 + n + b:8 + n + e])
        dtype = ST_DTYPES[info['dtype']]
        if dtype == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.zeros(0, dtype=dtype)
        else:
            t = torch.frombuffer(raw, dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
        out[name] = t.reshape(info['shape'])
    return meta, out


def safetensors_values():
    g = torch.Generator().manual_seed(2)
    return {
        'weight': torch.randn(3, 4, generator=g),
        'f64': torch.tensor([1.0 / 3.0, -2.5], dtype=torch.float64),
        'f16': torch.tensor([0.5, -1.0, 65504.0], dtype=torch.float16),
        'bf16': torch.tensor([[1.0, -2.0], [0.15625, 3e38]], dtype=torch.bfloat16),
        'i64': torch.tensor([2 ** 40, -3], dtype=torch.int64),
        'i32': torch.tensor([-7, 8], dtype=torch.int32),
        'i16': torch.tensor([-300], dtype=torch.int16),
        'i8': torch.tensor([-1, 1], dtype=torch.int8),
        'u8': torch.tensor([[200]], dtype=torch.uint8),
        'flags': torch.tensor([True, False, False, True]),
        'scalar': torch.tensor(2.0),
        'empty': torch.zeros(2, 0),
    }


def train_optimizer(net):
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x = model_input()
    for _ in range(2):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    return opt


def generate():
    os.makedirs(OUT_DIR, exist_ok=True)
    out = lambda name: os.path.join(OUT_DIR, name)  # noqa: E731
    expected = {'marker': MARKER}

    net = make_net()
    sd = net.state_dict()
    torch.save(sd, out('state_dict.pt'))
    expected['state_dict'] = enc(sd)
    net.eval()
    x = model_input()
    with torch.no_grad():
        expected['model'] = {'input': enc(x), 'output': enc(net(x))}

    trained = make_net()
    opt = train_optimizer(trained)
    osd = opt.state_dict()
    torch.save(osd, out('optimizer.pt'))
    expected['optimizer'] = enc(osd)

    misc = misc_values()
    torch.save(misc, out('misc.pt'))
    expected['misc'] = enc(misc)

    st = safetensors_values()
    meta = {'format': 'pt', 'note': 'written by hand (struct + json)'}
    write_safetensors(out('tensors.safetensors'), st, meta)
    expected['safetensors'] = {'metadata': meta, 'tensors': {k: enc(v) for k, v in st.items()}}

    torch.save({'weight': torch.ones(2), 'evil': Evil()}, out('malicious.pt'))

    write_json(out('expected.json'), expected)
    total = 0
    for name in sorted(os.listdir(OUT_DIR)):
        size = os.path.getsize(out(name))
        total += size
        print(f'{name:24s} {size:7d} bytes')
    print(f'{"total":24s} {total:7d} bytes')


def main(argv):
    if len(argv) == 0:
        generate()
        return
    cmd, path = argv[0], argv[1]
    if cmd == '--dump':
        print(json.dumps(enc(torch.load(path))))
    elif cmd == '--dump-weights-only':
        print(json.dumps(enc(torch.load(path, weights_only=True))))
    elif cmd == '--dump-safetensors':
        meta, tensors = read_safetensors(path)
        print(json.dumps({'metadata': meta, 'tensors': {k: enc(v) for k, v in tensors.items()}}))
    elif cmd == '--load-model':
        net = Net()
        sd = torch.load(path)
        assert type(sd) is OrderedDict, f'expected an OrderedDict, got {type(sd)}'
        net.load_state_dict(sd, strict=True)
        net.eval()
        # Without oneDNN: PyTorch 2.x's oneDNN LSTM is wrong on some AVX-512 CPUs (see the README,
        # "libtorch 2.x LSTMs on AVX-512 CPUs"); this is the workaround it gives Python users.
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
            print(json.dumps(enc(net(model_input()))))
    elif cmd == '--st-load':
        # the safetensors reference library (python3-safetensors; Debian 13 has it, Debian 12 not)
        from safetensors import safe_open
        from safetensors.torch import load_file
        with safe_open(path, framework='pt') as f:
            meta = f.metadata()
        print(json.dumps({'metadata': meta, 'tensors': {k: enc(v) for k, v in load_file(path).items()}}))
    elif cmd == '--st-save':
        from safetensors.torch import save_file
        values = safetensors_values()
        save_file(values, path, metadata={'format': 'pt', 'writer': 'safetensors'})
        print(json.dumps({k: enc(v) for k, v in values.items()}))
    elif cmd == '--load-optimizer':
        opt = torch.optim.Adam(Net().parameters(), lr=0.01)
        opt.load_state_dict(torch.load(path))
        print(json.dumps(enc(opt.state_dict())))
    else:
        raise SystemExit(f'unknown command {cmd}')


if __name__ == '__main__':
    main(sys.argv[1:])
