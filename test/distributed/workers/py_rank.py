"""The Python rank of test/distributed/interop_collectives.test.ts: PyTorch's own
torch.distributed (Gloo) in one group with torch-napi ranks. Runs the same calls as the
'interop' scenario of rank.ts and prints the results, by name, as one JSON line.

usage: python3 py_rank.py <init_method> <rank> <world_size>
"""
import json
import sys
from datetime import timedelta

import torch
import torch.distributed as dist

init_method, rank, world_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
}
OPS = {
    "sum": dist.ReduceOp.SUM,
    "product": dist.ReduceOp.PRODUCT,
    "min": dist.ReduceOp.MIN,
    "max": dist.ReduceOp.MAX,
}


def make(r, shape, dtype, salt=0):
    n = 1
    for s in shape:
        n *= s
    return ((torch.arange(n) + r + salt) % 3 + 1).reshape(shape).to(dtype)


dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world_size,
                        timeout=timedelta(seconds=20))
out = {}
for name, dtype in DTYPES.items():
    for op in ["sum", "product", "min", "max", "avg"]:
        if op == "avg" and not dtype.is_floating_point:
            continue
        t = make(rank, [6], dtype)
        if op == "avg":
            # Gloo has no AVG (as torch-napi, which sums and divides)
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t /= world_size
        else:
            dist.all_reduce(t, op=OPS[op])
        out[f"allReduce/{op}/{name}"] = t.tolist()
for src in range(world_size):
    t = make(rank, [5], torch.float32, 1)
    dist.broadcast(t, src)
    out[f"broadcast/{src}"] = t.tolist()
g = dist.new_group([0, 1])
t = make(rank, [4], torch.float64, 2)
dist.all_reduce(t, group=g)
out["newGroup/allReduce"] = t.tolist()
big = (torch.arange(100000) % 7).to(torch.float32) + rank
dist.all_reduce(big)
out["large/sum"] = big.sum().item()
dist.barrier()
dist.destroy_process_group()
print(json.dumps(out))
