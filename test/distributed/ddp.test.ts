// nn.parallel.DistributedDataParallel on libtorch's c10d::Reducer, with the ranks as child
// processes on loopback (Gloo): the same parameters as one process on the whole batch, noSync
// accumulation, the wrap-time broadcast, `module.` state-dict keys, checkpoints in PyTorch's
// format, a mixed group of one Node rank and one Python rank (PyTorch's own DDP), and the errors.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { batchData, type ModelKind, makeModel, reference } from './ddp_workers/common';

const WORKER = path.join(__dirname, 'ddp_workers', 'worker.js');
const PY_RANK = path.join(process.cwd(), 'test', 'distributed', 'ddp_workers', 'py_rank.py');
const PYTHON = process.env.TORCH_NAPI_PYTHON ?? '/usr/bin/python3';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

interface RankResult {
  code: number | null;
  out: Record<string, unknown>;
  stderr: string;
}

/** Starts one process per entry of `cmds` as ranks 0..n-1 of a group and waits for all. */
async function runRanks(cmds: [string, string[]][], timeoutMs = 60000): Promise<RankResult[]> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddp-test-'));
  const procs: ChildProcess[] = [];
  const results = cmds.map(async ([cmd, args], rank) => {
    const outFile = path.join(dir, `rank${rank}.json`);
    const argv = args.map((a) => a.replace('{out}', outFile).replace('{dir}', dir));
    const p = spawn(cmd, argv, {
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(cmds.length),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: '1',
        // Debian's torch 2.6 has no libuv, and Python's TCPStore would ask for it
        USE_LIBUV: '0',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    procs.push(p);
    let stderr = '';
    p.stderr?.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
    let out: Record<string, unknown> = {};
    if (fs.existsSync(outFile)) out = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    return { code, out, stderr };
  });
  const timer = setTimeout(() => {
    for (const p of procs) p.kill('SIGKILL');
  }, timeoutMs);
  try {
    return await Promise.all(results);
  } finally {
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function nodeRanks(n: number, ...args: string[]): [string, string[]][] {
  return Array.from({ length: n }, () => [process.execPath, [WORKER, ...args]] as [string, string[]]);
}

function ok(r: RankResult[]): void {
  for (const [i, x] of r.entries())
    expect(x.code, `rank ${i} exited with ${x.code}: ${x.out.error ?? ''}\n${x.stderr}`).to.equal(0);
}

function maxDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  expect(Object.keys(a)).to.deep.equal(Object.keys(b));
  let m = 0;
  for (const k of Object.keys(a)) {
    expect(a[k].length, k).to.equal(b[k].length);
    for (let i = 0; i < a[k].length; i++) m = Math.max(m, Math.abs(a[k][i] - b[k][i]));
  }
  return m;
}

function expectSameParams(got: unknown, want: Record<string, number[]>, tol: number, what: string): void {
  const d = maxDiff(got as Record<string, number[]>, want);
  if (process.env.DDP_TEST_VERBOSE) console.log(`      ${what}: max |difference| ${d}`);
  expect(d, `${what}: max |difference| ${d}`).to.be.at.most(tol);
}

describe('nn.parallel.DistributedDataParallel (ranks as child processes, Gloo on loopback)', function () {
  this.timeout(120000);
  const refs = new Map<string, Record<string, number[]>>();
  const ref = (kind: ModelKind, B: number, steps = 10) => {
    const key = `${kind}/${B}/${steps}`;
    if (!refs.has(key)) refs.set(key, reference(kind, B, steps));
    return refs.get(key)!;
  };

  it('2 ranks on the seed model (B/2 each) reach the parameters of one process on batch B after 10 Adam steps', async () => {
    const r = await runRanks(nodeRanks(2, 'train', '{out}', 'seed', '8'));
    ok(r);
    const want = ref('seed', 8);
    // The ranks started from different seeds: the wrap-time broadcast made them rank 0's.
    for (const [i, x] of r.entries()) expectSameParams(x.out.params, want, 1e-6, `rank ${i}`);
    expect(maxDiff(r[0].out.params as never, r[1].out.params as never)).to.equal(0);
    // module. keys, in PyTorch's order
    const keys = r[0].out.keys as string[];
    expect(keys[0]).to.equal('module.encoder.weight_ih_l0');
    expect(keys).to.include('module.cross.in_proj_weight');
    expect(keys.at(-1)).to.equal('module.head.bias');
  });

  it('4 ranks (B/4 each) reach the parameters of one process on batch B', async () => {
    const r = await runRanks(nodeRanks(4, 'train', '{out}', 'mlp', '8'));
    ok(r);
    const want = ref('mlp', 8);
    for (const [i, x] of r.entries()) expectSameParams(x.out.params, want, 1e-6, `rank ${i}`);
    // bucketCapMB 0.001 with findUnusedParameters false: one bucket for the first iteration, as PyTorch
    expect(r[0].out.buckets).to.deep.equal([[0, 1, 2, 3]]);
  });

  it('noSync accumulation equals one large batch', async () => {
    const r = await runRanks(nodeRanks(2, 'nosync', '{out}', 'mlp', '16'));
    ok(r);
    const want = ref('mlp', 16, 3);
    for (const [i, x] of r.entries()) expectSameParams(x.out.params, want, 1e-6, `rank ${i}`);
  });

  it('findUnusedParameters, gradientAsBucketView, forwardAsync + backwardAsync; broadcastBuffers', async () => {
    const r = await runRanks(nodeRanks(2, 'options', '{out}', 'unused', '8'));
    ok(r);
    const want = ref('unused', 8);
    for (const [i, x] of r.entries()) {
      expectSameParams(x.out.params, want, 1e-6, `rank ${i}`);
      expect(x.out.extraGradIsNull, 'an unused parameter keeps a null grad').to.equal(true);
      expect((x.out.buckets as number[][]).flat().sort()).to.deep.equal([0, 1, 2, 3, 4, 5]);
    }
    // after a training forward each rank's BatchNorm statistics are its own; the next forward
    // starts from rank 0's
    expect(r[0].out.afterTrain).to.not.deep.equal(r[1].out.afterTrain);
    expect(r[1].out.afterEval).to.deep.equal(r[0].out.afterEval);
  });

  it('checkpoint: rank 0 saves in PyTorch format (module. keys), every rank resumes and trains on identically', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddp-ckpt-'));
    const file = path.join(dir, 'ckpt.pt');
    try {
      const r = await runRanks(nodeRanks(2, 'checkpoint', '{out}', 'mlp', '8', file));
      ok(r);
      const want = ref('mlp', 8);
      for (const [i, x] of r.entries()) expectSameParams(x.out.params, want, 1e-6, `rank ${i}`);
      const ck = torch.load(file) as { model: Record<string, torch.Tensor> };
      expect(Object.keys(ck.model)).to.deep.equal([
        'module.0.weight',
        'module.0.bias',
        'module.2.weight',
        'module.2.bias',
      ]);
      // PyTorch reads it: a plain model loads it after stripping `module.` (consume_prefix_in_state_dict_if_present)
      const py = spawnSync(
        PYTHON,
        [
          '-c',
          'import sys,torch; from torch import nn\n' +
            'ck = torch.load(sys.argv[1]); sd = ck["model"]\n' +
            'torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(sd, "module.")\n' +
            'm = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).double(); m.load_state_dict(sd)\n' +
            'print(sorted(ck["optimizer"]["state"].keys()), float(m[2].bias.sum()))',
          file,
        ],
        { encoding: 'utf8' },
      );
      if (py.status === 0) expect(py.stdout).to.match(/^\[0, 1, 2, 3\] /);
      else if (!/No module named 'torch'/.test(py.stderr)) throw new Error(py.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('interop: a Node rank and a Python rank (PyTorch DDP over Gloo) train the same model to the same parameters', async function () {
    const probe = spawnSync(PYTHON, ['-c', 'import torch.distributed as d; print(d.is_gloo_available())'], {
      encoding: 'utf8',
    });
    if (probe.status !== 0 || probe.stdout.trim() !== 'True') this.skip();
    const B = 8;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddp-interop-'));
    try {
      const dataFile = path.join(dir, 'data.json');
      const steps = Array.from({ length: 10 }, (_, s) => {
        const d = batchData('mlp', s, B);
        return { x: d.x, y: d.y };
      });
      fs.writeFileSync(dataFile, JSON.stringify({ B, steps }));
      const r = await runRanks([
        [process.execPath, [WORKER, 'train', '{out}', 'mlp', String(B)]],
        [PYTHON, [PY_RANK, dataFile, '{out}']],
      ]);
      ok(r);
      const want = ref('mlp', B);
      const node = r[0].out.params as Record<string, number[]>;
      const py = r[1].out.params as Record<string, number[]>;
      expectSameParams(node, want, 1e-6, 'Node rank vs one process');
      expectSameParams(py, want, 1e-6, `Python rank (torch ${r[1].out.torch}) vs one process`);
      // The gradients the two ranks step with are bitwise the same (one allreduce); the Adam
      // updates are the same formula in both, evaluated by different code, so allow a few ulps.
      expectSameParams(node, py, 1e-12, 'Node rank vs Python rank');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mismatched parameter shapes across ranks: a clear error on the rank that differs, and no hang', async () => {
    const r = await runRanks(nodeRanks(2, 'badshape', '{out}'), 30000);
    expect(r[1].out.error, r[1].stderr).to.be.a('string');
    expect(r[1].out.error as string).to.match(/DistributedDataParallel/);
    expect(r[1].out.error as string).to.match(/shape|size/i);
    // rank 0's copy checks out against itself; it fails in the next collective once rank 1 left
    expect(r[0].out.error, r[0].stderr).to.be.a('string');
    for (const x of r) expect(x.code).to.equal(0);
  });

  it('wrapping a module without parameters that require grad is a RangeError', () => {
    const m = makeModel('mlp', 1).requiresGrad_(false);
    expect(() => new torch.nn.parallel.DistributedDataParallel(m)).to.throw(
      RangeError,
      /DistributedDataParallel: the module has no parameter that requires grad/,
    );
    expect(() => new torch.nn.parallel.DistributedDataParallel({} as never)).to.throw(
      TypeError,
      /DistributedDataParallel: expected module to be an nn.Module/,
    );
    expect(() => new torch.nn.parallel.DistributedDataParallel(makeModel('mlp', 1), { bucketCapMB: -1 })).to.throw(
      RangeError,
      /bucketCapMB/,
    );
    expect(
      () => new torch.nn.parallel.DistributedDataParallel(makeModel('mlp', 1), { findUnused: true } as never),
    ).to.throw(TypeError, /findUnused/);
    expect(
      () => new torch.nn.parallel.DistributedDataParallel(makeModel('mlp', 1), { processGroup: {} as never }),
    ).to.throw(
      TypeError,
      /DistributedDataParallel: expected option 'processGroup' to be a torch.distributed ProcessGroup/,
    );
    if (!torch.distributed.isInitialized())
      expect(() => new torch.nn.parallel.DistributedDataParallel(makeModel('mlp', 1))).to.throw(
        torch.TorchError,
        /DistributedDataParallel: the default process group is not initialized/,
      );
  });

  it('in a group of one rank: noSync checks its argument, and a disposed DDP refuses to run', async function () {
    if (torch.distributed.isInitialized()) this.skip();
    const file = path.join(os.tmpdir(), `ddp-one-${process.pid}`);
    await torch.distributed.initProcessGroup({ initMethod: `file://${file}`, rank: 0, worldSize: 1 });
    try {
      const ddp = new torch.nn.parallel.DistributedDataParallel(makeModel('mlp', 1));
      expect(() => ddp.noSync(42 as never)).to.throw(TypeError, /DistributedDataParallel.noSync: expected fn/);
      expect(await ddp.noSync(async () => 7)).to.equal(7);
      const x = torch.randn([2, 6], { dtype: 'float64' });
      torch.tidy(() => ddp.forward(x).sum().backward());
      expect(ddp.module.namedParameters().next().value?.[1].grad).to.not.equal(null);
      ddp.dispose();
      expect(() => ddp.forward(x)).to.throw(
        Error,
        /DistributedDataParallel.forward: the DistributedDataParallel was disposed/,
      );
      ddp.dispose(); // idempotent
    } finally {
      torch.distributed.destroyProcessGroup();
      fs.rmSync(file, { force: true });
    }
  });
});
