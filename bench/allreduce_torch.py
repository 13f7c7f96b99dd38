"""The PyTorch twin of bench/allreduce.js: one rank of an allReduce of 10 MB float32 between 2
local ranks (Gloo). Prints rank 0's timings (ms) as JSON.

usage: python3 allreduce_torch.py --rank R --port P [--iters 30] [--warmup 5] [--numel N]
"""
import argparse
import json
import time
from datetime import timedelta

import torch
import torch.distributed as dist

p = argparse.ArgumentParser()
p.add_argument("--rank", type=int, required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--iters", type=int, default=30)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--numel", type=int, default=2_621_440)
a = p.parse_args()

dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=a.rank, world_size=2,
                        timeout=timedelta(seconds=60))
x = torch.ones(a.numel)
times = []
for i in range(a.warmup + a.iters):
    dist.barrier()
    t0 = time.perf_counter()
    dist.all_reduce(x)
    ms = (time.perf_counter() - t0) * 1000
    if i >= a.warmup:
        times.append(ms)
dist.destroy_process_group()
if a.rank == 0:
    print(json.dumps({"times": times}))
