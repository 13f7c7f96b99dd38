#!/usr/bin/env python3
"""TorchScript fixtures for torch.jit (test/jit/*.test.ts).

Run with Debian's python3-torch 1.13: /usr/bin/python3 scripts/gen_jit_fixtures.py
Writes to test/fixtures/jit/:
  mlp_traced.pt    a traced MLP (torch.jit.trace)
  scripted.pt      a scripted module with control flow, an exported method other than forward,
                   and dict / list / tuple / str / int / float / bool / Optional inputs and outputs
  seed_model.pt    the seed model (examples/seed_model.ts) scripted, taking (src, tgt, attn_mask,
                   key_padding_mask) and returning the prediction
  checkpoint.pt    a plain torch.save checkpoint (a valid zip that is not TorchScript)
  index_error.pt   a scripted module whose methods raise IndexError inside TorchScript (a
                   dimension out of range, a list index out of range), for the error mapping
  expected.json    inputs and Python's outputs for each, and one SGD step on the MLP
Everything random comes from torch.manual_seed(0).
"""
import json
import os
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

import fixture_util

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "jit")


def enc(t):
    return fixture_util.enc(t, integral_as_int=False)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


@torch.jit.script
class Point:
    """A TorchScript class: values of it cannot cross to JavaScript (the binding says so)."""

    def __init__(self, x: float, y: float):
        self.x = x
        self.y = y


class Scripted(nn.Module):
    """Exercises every value kind the binding converts, and control flow that tracing would lose."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("scale", torch.tensor([2.0, 3.0, 4.0]))

    def forward(self, x: Tensor, opts: Dict[str, Tensor], names: List[str], k: int, flag: bool,
                tag: str, pair: Tuple[float, int], extra: Optional[Tensor]
                ) -> Tuple[Tensor, Dict[str, Tensor], List[int], str, bool, float, Optional[Tensor]]:
        y = self.lin(x) * self.scale
        if flag:
            y = torch.relu(y)
        for _ in range(k):
            y = y + opts["bias"]
        if extra is not None:
            y = y + extra
        lengths = [len(n) for n in names]
        out: Dict[str, Tensor] = {"sum": y.sum(), "max": y.max()}
        none: Optional[Tensor] = None
        if k > 1:
            none = y * 0
        return y, out, lengths, tag + "!" + str(k), not flag, pair[0] * pair[1], none

    @torch.jit.export
    def encode(self, x: Tensor) -> Tensor:
        return torch.tanh(self.lin(x))

    @torch.jit.export
    def is_training(self) -> bool:
        return self.training

    @torch.jit.export
    def count(self, xs: List[Tensor]) -> int:
        return len(xs)

    @torch.jit.export
    def big(self, x: int) -> int:
        return x * 1024

    @torch.jit.export
    def keyed(self, n: int) -> Dict[int, str]:
        out: Dict[int, str] = {}
        for i in range(n):
            out[i * 10] = str(i)
        return out

    @torch.jit.export
    def kinds(self, d: torch.device, a: Any, n: Union[int, float], u: Union[Tensor, str, None]
              ) -> Tuple[torch.device, Any, float, str]:
        if isinstance(u, Tensor):
            kind = "tensor"
        elif isinstance(u, str):
            kind = "str:" + u
        else:
            kind = "none"
        v: float = 0.0
        if isinstance(n, int):
            kind = kind + ",int"
            v = n * 2.0
        else:
            kind = kind + ",float"
            v = n * 2.0
        return d, a, v, kind

    @torch.jit.export
    def keyed_in(self, d: Dict[int, str]) -> int:
        return len(d)

    @torch.jit.export
    def point(self, x: float) -> Point:
        return Point(x, x)

    @torch.jit.export
    def norm(self, p: Point) -> float:
        return (p.x * p.x + p.y * p.y) ** 0.5

    @torch.jit.export
    def scaled(self, x: Tensor, alpha: float = 2.0) -> Tensor:
        return x * alpha


class IndexErrors(nn.Module):
    """Methods that raise IndexError inside TorchScript for some inputs."""

    def forward(self, x: Tensor, dim: int) -> Tensor:
        return x.sum(dim)

    @torch.jit.export
    def pick(self, xs: List[int], i: int) -> int:
        return xs[i]


def write_index_error():
    torch.jit.script(IndexErrors()).save(os.path.join(OUT, "index_error.pt"))


L, N, C, H = 6, 2, 10, 20


class SeedModel(nn.Module):
    """The seed model with the decoder reading the target sequence (teacher forcing) and both masks
    as inputs: attn_mask (L, S) bool, True = blocked; key_padding_mask (N, S) bool, True = padded."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.LSTM(C, H, num_layers=2)
        self.decoder = nn.LSTM(C, H, num_layers=2)
        self.cross = nn.MultiheadAttention(H, 4)
        self.head = nn.Linear(H, C)

    def forward(self, src: Tensor, tgt: Tensor, attn_mask: Tensor, key_padding_mask: Tensor) -> Tensor:
        memory, _ = self.encoder(src)
        dec, _ = self.decoder(tgt)
        ctx, _ = self.cross(dec, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                            need_weights=False)
        return self.head(ctx)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    expected = {}

    # (a) traced MLP, and one SGD step (lr 0.1) on loss = out.pow(2).mean()
    mlp = MLP()
    x = torch.randn(2, 4)
    traced = torch.jit.trace(mlp, (x,))
    traced.save(os.path.join(OUT, "mlp_traced.pt"))
    m = torch.jit.load(os.path.join(OUT, "mlp_traced.pt"))
    y = m(x)
    loss = y.pow(2).mean()
    loss.backward()
    with torch.no_grad():
        for p in m.parameters():
            p -= 0.1 * p.grad
    expected["mlp"] = {
        "x": enc(x), "y": enc(y),
        "params": [n for n, _ in m.named_parameters()],
        "loss": loss.item(), "yAfterSgd": enc(m(x)),
    }

    # (b) scripted module
    sm = torch.jit.script(Scripted())
    sm.save(os.path.join(OUT, "scripted.pt"))
    s = torch.jit.load(os.path.join(OUT, "scripted.pt"))
    xs = torch.randn(2, 3)
    bias = torch.randn(3)
    extra = torch.randn(2, 3)
    y, out, lengths, tag, nflag, prod, none = s(xs, {"bias": bias}, ["ab", "cde"], 2, True, "hi", (1.5, 4), extra)
    y1, out1, _, tag1, nflag1, _, none1 = s(xs, {"bias": bias}, [], 1, False, "", (2.0, -3), None)
    expected["scripted"] = {
        "x": enc(xs), "bias": enc(bias), "extra": enc(extra),
        "call1": {"y": enc(y), "sum": out["sum"].item(), "max": out["max"].item(), "lengths": lengths,
                  "tag": tag, "notFlag": nflag, "prod": prod, "none": enc(none)},
        "call2": {"y": enc(y1), "sum": out1["sum"].item(), "tag": tag1, "notFlag": nflag1,
                  "noneIsNone": none1 is None},
        "encode": enc(s.encode(xs)),
        "big": str(s.big(2 ** 52)), "keyed": s.keyed(3), "scaledDefault": enc(s.scaled(xs)),
        "kinds": [list(s.kinds(torch.device("cpu"), 3, 2, None)[2:]), list(s.kinds(torch.device("cpu"), "a", 2.5, "u")[2:]),
                  list(s.kinds(torch.device("cpu"), None, 1, xs)[2:])], "scaled": enc(s.scaled(xs, 0.5)),
        "stateDict": list(s.state_dict().keys()),
        "params": [n for n, _ in s.named_parameters()],
    }

    # (c) the seed model, scripted; inputs drawn after the weights
    seed = SeedModel().eval()
    scripted_seed = torch.jit.script(seed)
    scripted_seed.save(os.path.join(OUT, "seed_model.pt"))
    src = torch.randn(L, N, C)
    tgt = torch.randn(L, N, C)
    attn_mask = torch.triu(torch.ones(L, L), 1).bool()
    lengths = torch.tensor([L, 4])
    kpm = torch.arange(L)[None, :] >= lengths[:, None]
    with torch.no_grad():
        pred = torch.jit.load(os.path.join(OUT, "seed_model.pt"))(src, tgt, attn_mask, kpm)
        eager = seed(src, tgt, attn_mask, kpm)
    assert torch.allclose(pred, eager, atol=1e-6)
    expected["seed"] = {"src": enc(src), "tgt": enc(tgt), "attnMask": enc(attn_mask), "keyPaddingMask": enc(kpm),
                        "pred": enc(pred)}

    # (d) not TorchScript: a plain checkpoint (a valid zip)
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "checkpoint.pt"))

    # (e) IndexErrors raised inside TorchScript
    write_index_error()

    path = os.path.join(OUT, "expected.json")
    with open(path, "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
