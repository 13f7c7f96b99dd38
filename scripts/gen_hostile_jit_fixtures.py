"""Writes test/fixtures/jit/hostile/*.pt: TorchScript archives whose zip, CRCs and code are intact
but whose data.pkl declares tensors outside their storage (the data records alone, no code):

  big_view.pt     parameter `w` is a (200, 2) view over a 4-float storage
  offset_neg.pt   `w` has storage offset -2^31
  offset_2e31.pt  `w` has storage offset 2^31
  neg_stride.pt   `w` has stride (-2, 1)
  buffer_view.pt  buffer `b` is a (3, 1000) view over a 3-float storage

and records that libtorch's unpickler and parser read without bounds:

  deep_constants.pt  constants.pkl nests 2,000 tuples (TUPLE1; 200k overflowed libtorch's stack)
  deep_data.pt       data.pkl nests 2,000 tuples (MARK ... TUPLE)
  huge_string.pt     constants.pkl declares a 4 GiB string in a few bytes
  huge_memo.pt       constants.pkl stores into memo slot 2^32 - 16
  deep_code.pt       a code file nests 2,000 parentheses

Run: /usr/bin/python3 scripts/gen_hostile_jit_fixtures.py (PyTorch 1.13). libtorch loads each of
them without complaint; reading `w` leaks heap memory and writing it corrupts the heap (or
segfaults), so torch-napi checks every parameter, buffer and tensor attribute after loading.
"""
import os
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'jit', 'hostile')


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.arange(4.).reshape(2, 2))
        self.register_buffer('b', torch.arange(3.) + 10)

    def forward(self, x):
        return x @ self.w + self.b[0]


def main():
    os.makedirs(OUT, exist_ok=True)
    good = os.path.join(OUT, 'good.pt')
    torch.jit.script(Small()).save(good)
    src = zipfile.ZipFile(good)
    dp = [n for n in src.namelist() if n.endswith('/data.pkl')][0]
    data = src.read(dp)
    # pickle opcodes: w's offset BININT1 0, size (2, 2) and stride (2, 1) as MARK ... TUPLE
    size = b'(K\x02K\x02t(K\x02K\x01t'
    w_offset = b'q\x07K\x00'
    b_size = b'(K\x03t(K\x01t'
    assert data.count(size) == 1 and data.count(w_offset + size) == 1 and data.count(b_size) == 1
    variants = {
        'big_view': data.replace(size, b'(K\xc8K\x02t(K\x02K\x01t'),
        'offset_neg': data.replace(w_offset + size, b'q\x07J\x00\x00\x00\x80' + size),
        'offset_2e31': data.replace(w_offset + size, b'q\x07\x8a\x08\x00\x00\x00\x80\x00\x00\x00\x00' + size),
        'neg_stride': data.replace(size, b'(K\x02K\x02t(J\xfe\xff\xff\xffK\x01t'),
        'buffer_view': data.replace(b_size, b'(K\x03M\xe8\x03t(M\xe8\x03K\x01t'),
    }
    records = {name: {dp: d} for name, d in variants.items()}
    cp = [n for n in src.namelist() if n.endswith('/constants.pkl')][0]
    code = [n for n in src.namelist() if '/code/' in n and n.endswith('.py')][0]
    deep = 2000
    records['deep_constants'] = {cp: b'\x80\x02)' + b'\x85' * deep + b'.'}
    records['deep_data'] = {dp: b'\x80\x02' + b'(' * deep + b')' + b't' * deep + b'.'}
    records['huge_string'] = {cp: b'\x80\x02X\xff\xff\xff\xffabc.'}
    records['huge_memo'] = {cp: b'\x80\x02)r\xf0\xff\xff\xff.'}
    records['deep_code'] = {code: src.read(code) + b'\n_deep = ' + b'(' * deep + b'1' + b')' * deep + b'\n'}
    for name, replace in records.items():
        with zipfile.ZipFile(os.path.join(OUT, name + '.pt'), 'w', zipfile.ZIP_STORED) as out:
            for n in src.namelist():
                info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))  # byte-identical reruns
                out.writestr(info, replace.get(n, src.read(n)))
    print('wrote', ', '.join(sorted(records)), 'and good.pt to', OUT)


if __name__ == '__main__':
    main()
