// torch.distributed failure modes: each must end in a clear error, never a hang, a crash or a
// process left behind (the harness kills every rank at its scenario's timeout).
import * as net from 'node:net';
import { expect } from 'chai';

import * as torch from '../../lib';
import { freePort, killAll, runRanks, show } from './workers/harness';

const d = torch.distributed;

after(killAll);

describe('torch.distributed faults', function () {
  this.timeout(60_000);

  it('a rank killed mid-collective: the others reject with a clear error within the timeout', async () => {
    const port = await freePort();
    const timeoutMs = 6000;
    let ready = 0;
    const results = await runRanks(2, {
      args: () => ['kill', `tcp://127.0.0.1:${port}`, String(timeoutMs)],
      env: (r) => ({ RANK: String(r), WORLD_SIZE: '2' }),
      timeoutMs: 40_000,
      onSpawn: (r, child) => {
        child.on('message', (m) => {
          if ((m as { ready?: boolean }).ready && ++ready === 2) setTimeout(() => childKill(), 100);
        });
        if (r === 1) childKill = () => child.kill('SIGKILL');
      },
    });
    const r0 = results[0];
    expect(results[1].signal, show(results[1])).to.equal('SIGKILL');
    expect(r0.code, show(r0)).to.equal(0);
    const out = r0.result as { error: string | null; ms: number; name: string };
    expect(out.error).to.be.a('string');
    expect(out.name).to.equal('TorchError');
    expect(out.error).to.match(
      /^torch\.distributed\.allReduce: the collective failed: .+\(this group's timeout is 6000 ms; a collective ends this way when a peer rank died or exited/,
    );
    expect(out.ms).to.be.lessThan(timeoutMs + 3000);
  });
  let childKill: () => void = () => {};

  it('a rank that never joins a collective: the call rejects at the group timeout, naming it', async () => {
    const port = await freePort();
    const results = await runRanks(2, {
      args: () => ['stall', `tcp://127.0.0.1:${port}`, '2000'],
      env: (r) => ({ RANK: String(r), WORLD_SIZE: '2' }),
      timeoutMs: 30_000,
    });
    for (const r of results) expect(r.code, show(r)).to.equal(0);
    const out = results[0].result as { error: string | null; ms: number };
    expect(out.error).to.match(
      /^torch\.distributed\.allReduce: the collective failed: .*(Timed out|timeout|Timeout).*\(this group's timeout is 2000 ms;/,
    );
    expect(out.ms).to.be.within(1500, 6000);
  });

  it('a wrong world size: every rank rejects at the timeout, naming it', async () => {
    const port = await freePort();
    const results = await runRanks(2, {
      args: () => ['worldsize', `tcp://127.0.0.1:${port}`, '3000'],
      env: (r) => ({ RANK: String(r), WORLD_SIZE: '2' }),
      timeoutMs: 40_000,
    });
    for (const r of results) {
      expect(r.code, show(r)).to.equal(0);
      const out = r.result as { error: string | null; ms: number };
      expect(out.error, show(r)).to.match(
        /^torch\.distributed\.initProcessGroup: .*(3 ranks, timeout 3000 ms|within 3000 ms).*did every rank start, with the same worldSize\?/,
      );
      expect(out.ms).to.be.lessThan(15_000);
    }
  });

  it('a port in use: a clear error naming host:port', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const err = await d
        .initProcessGroup({ initMethod: `tcp://127.0.0.1:${port}`, rank: 0, worldSize: 2, timeout: 3000 })
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(err?.message).to.match(
        new RegExp(`cannot host the TCPStore on 127\\.0\\.0\\.1:${port}: the port is in use`),
      );
      expect(d.isInitialized()).to.equal(false);
    } finally {
      server.close();
    }
  });

  it('bad rendezvous arguments are refused before anything connects', () => {
    const saved = { ...process.env };
    try {
      delete process.env.MASTER_ADDR;
      delete process.env.MASTER_PORT;
      delete process.env.RANK;
      delete process.env.WORLD_SIZE;
      expect(() => d.initProcessGroup({ sync: true })).to.throw(
        torch.TorchError,
        /environment variable RANK expected, but not set/,
      );
      expect(() => d.initProcessGroup({ rank: 0, worldSize: 2, sync: true })).to.throw(
        torch.TorchError,
        /environment variable MASTER_ADDR expected/,
      );
      process.env.MASTER_ADDR = '127.0.0.1';
      expect(() => d.initProcessGroup({ rank: 0, worldSize: 2, sync: true })).to.throw(
        torch.TorchError,
        /environment variable MASTER_PORT expected/,
      );
      process.env.RANK = 'x';
      expect(() => d.initProcessGroup({ worldSize: 2, sync: true })).to.throw(
        RangeError,
        /environment variable RANK must be a non-negative integer, got "x"/,
      );
      expect(() => d.initProcessGroup({ initMethod: 'tcp://127.0.0.1:1', rank: 2, worldSize: 2 })).to.throw(
        RangeError,
        /rank 2 is out of range for worldSize 2/,
      );
      expect(() => d.initProcessGroup({ initMethod: 'tcp://127.0.0.1:1', worldSize: 2 })).to.throw(
        TypeError,
        /rank expected/,
      );
      expect(() => d.initProcessGroup({ initMethod: 'tcp://127.0.0.1', rank: 0, worldSize: 1 })).to.throw(
        TypeError,
        /port expected/,
      );
      expect(() => d.initProcessGroup({ initMethod: 'http://x:1', rank: 0, worldSize: 1 })).to.throw(
        RangeError,
        /initMethod must be env:\/\/, tcp:\/\/host:port or file:\/\/\/path/,
      );
      expect(() => d.initProcessGroup({ backend: 'mpi' as 'gloo', rank: 0, worldSize: 1 })).to.throw(
        RangeError,
        /unknown backend "mpi"/,
      );
      expect(() => d.initProcessGroup({ backend: 'nccl', rank: 0, worldSize: 1 })).to.throw(
        torch.TorchError,
        /backend 'nccl' needs a libtorch with CUDA and NCCL; this one has none/,
      );
      expect(d.isInitialized()).to.equal(false);
    } finally {
      process.env = saved;
    }
  });

  it('a process that ends with a live group exits by itself', async () => {
    const port = await freePort();
    const results = await runRanks(2, {
      args: () => ['exit-live', `tcp://127.0.0.1:${port}`],
      env: (r) => ({ RANK: String(r), WORLD_SIZE: '2' }),
      timeoutMs: 30_000,
    });
    for (const r of results) {
      expect(r.code, show(r)).to.equal(0);
      expect(r.result).to.deep.equal({ sum: [2, 2, 2, 2] });
    }
  });

  it('process.exit while a collective is in flight: a prompt, clean exit', async () => {
    const port = await freePort();
    const results = await runRanks(2, {
      args: () => ['exit-pending', `tcp://127.0.0.1:${port}`],
      env: (r) => ({ RANK: String(r), WORLD_SIZE: '2' }),
      timeoutMs: 30_000,
    });
    expect(results[0].code, show(results[0])).to.equal(7);
    expect(results[0].stderr).to.not.match(/terminate called|Aborted|Segmentation/);
    expect(results[1].code, show(results[1])).to.equal(0);
  });
});
