# One Python rank of the DDP interop test (test/distributed/ddp.test.ts): PyTorch's own
# torch.nn.parallel.DistributedDataParallel over Gloo, in one group with a Node rank.
# argv: data.json out.json; RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT in the environment.
# data.json: {"B": global batch, "steps": [{"x": [...B*6], "y": [...B*3]}, ...]}.
import json
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

data_file, out_file = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
dist.init_process_group("gloo", init_method="env://")
rank, world = dist.get_rank(), dist.get_world_size()
with open(data_file) as f:
    data = json.load(f)
B = data["B"]
n = B // world

torch.manual_seed(1234 + rank)  # not rank 0's init: DDP's wrap-time broadcast gives it
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).double()
ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.001)
opt = torch.optim.Adam(ddp.parameters(), lr=0.01)
for step in data["steps"]:
    x = torch.tensor(step["x"], dtype=torch.float64).reshape(B, 6)[rank * n:(rank + 1) * n]
    y = torch.tensor(step["y"], dtype=torch.float64).reshape(B, 3)[rank * n:(rank + 1) * n]
    opt.zero_grad()
    torch.nn.functional.mse_loss(ddp(x), y).backward()
    opt.step()
with open(out_file, "w") as f:
    json.dump({"params": {k: p.detach().flatten().tolist() for k, p in model.named_parameters()},
               "torch": torch.__version__}, f)
dist.destroy_process_group()
