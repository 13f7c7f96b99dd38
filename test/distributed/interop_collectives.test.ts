// One torch-napi rank and one PyTorch rank (python3-torch's torch.distributed, Gloo) in one
// group: the proof that this is PyTorch's engine and its store protocol. Both run the same calls
// (workers/rank.ts 'interop', workers/py_rank.py) and must end with the same tensors.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';

import { freePort, killAll, runRanks, show } from './workers/harness';

const PYTHON = '/usr/bin/python3';
const PY_RANK = path.join(process.cwd(), 'test', 'distributed', 'workers', 'py_rank.py');

function pythonTorch(): string | null {
  try {
    return execFileSync(
      PYTHON,
      ['-c', 'import torch.distributed as d; print(d.is_available() and d.is_gloo_available())'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 60_000,
      },
    ).trim() === 'True'
      ? null
      : 'its torch has no torch.distributed with Gloo';
  } catch {
    return `${PYTHON} has no torch`;
  }
}

after(killAll);

describe('torch.distributed interop: a Node rank and a Python rank in one group', function () {
  this.timeout(90_000);
  const why = pythonTorch();
  before(function () {
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
  });

  for (const nodeRank of [0, 1]) {
    it(`allReduce (every op and dtype), broadcast, newGroup: Node is rank ${nodeRank}${nodeRank === 0 ? ' (hosts the TCPStore)' : ''}`, async () => {
      const port = await freePort();
      const initMethod = `tcp://127.0.0.1:${port}`;
      const results = await runRanks(2, {
        args: () => ['interop', initMethod],
        // USE_LIBUV=0: Debian's torch 2.6 has no libuv, and Python would ask its TCPStore for it
        env: (r) => ({ RANK: String(r), WORLD_SIZE: '2', USE_LIBUV: '0' }),
        command: (r) => (r === nodeRank ? undefined : { file: PYTHON, args: [PY_RANK, initMethod, String(r), '2'] }),
        timeoutMs: 60_000,
      });
      expect(
        results.map((r) => r.code),
        results.map(show).join('\n'),
      ).to.deep.equal([0, 0]);
      const node = results[nodeRank].result as Record<string, unknown>;
      const py = results[1 - nodeRank].result as Record<string, unknown>;
      // Python is not torch-napi: the group runs PyTorch's protocol unchanged (no call checks)
      expect(node.checked).to.equal(false);
      delete node.checked;
      expect(Object.keys(py).sort()).to.deep.equal(Object.keys(node).sort());
      expect(Object.keys(py)).to.have.length(26);
      for (const k of Object.keys(py)) expect(node[k], k).to.deep.equal(py[k]);
      // and against the definitions (rank r's input: (arange(n) + r) % 3 + 1)
      expect(py['allReduce/sum/int64']).to.deep.equal([3, 5, 4, 3, 5, 4]);
      expect(py['allReduce/product/uint8']).to.deep.equal([2, 6, 3, 2, 6, 3]);
      expect(py['allReduce/min/int32']).to.deep.equal([1, 2, 1, 1, 2, 1]);
      expect(py['allReduce/max/float64']).to.deep.equal([2, 3, 3, 2, 3, 3]);
      expect(py['allReduce/avg/float32']).to.deep.equal([1.5, 2.5, 2, 1.5, 2.5, 2]);
      expect(py['broadcast/0']).to.deep.equal([2, 3, 1, 2, 3]);
      expect(py['broadcast/1']).to.deep.equal([3, 1, 2, 3, 1]);
      expect(py['newGroup/allReduce']).to.deep.equal([4, 3, 5, 4]);
      expect(py['large/sum']).to.equal(699990);
    });
  }
});
