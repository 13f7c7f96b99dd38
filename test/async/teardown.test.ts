// Environment teardown: a worker_thread terminated (or calling process.exit) while its async calls
// are on the pool. The completions then find an environment that can no longer run JS; they used
// to throw out of the completion callback ("terminate called after throwing an instance of
// 'Napi::Error'"), aborting the whole process. Each case runs in a child process.

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';

const LIB = JSON.stringify(path.join(process.cwd(), 'dist-test', 'lib'));
const SCRIPTED = JSON.stringify(path.join(process.cwd(), 'test', 'fixtures', 'jit', 'scripted.pt'));

// Every async entry point, as a statement that starts it in the worker (several in flight).
const ENTRY_POINTS: Record<string, string> = {
  matmulAsync: 'const a = torch.randn(300, 300); for (let i = 0; i < 8; i++) a.matmulAsync(a).catch(() => {});',
  runAsync: "const a = torch.randn(300, 300); for (let i = 0; i < 8; i++) torch.runAsync('mm', a, a).catch(() => {});",
  'Linear.forwardAsync':
    'const m = new torch.nn.Linear(256, 256); const x = torch.randn(512, 256); for (let i = 0; i < 8; i++) m.forwardAsync(x).catch(() => {});',
  'LSTM.forwardAsync':
    'const m = new torch.nn.LSTM(32, 64, { numLayers: 2 }); const x = torch.randn(50, 16, 32); for (let i = 0; i < 4; i++) m.forwardAsync(x).catch(() => {});',
  'MultiheadAttention.forwardAsync':
    'const m = new torch.nn.MultiheadAttention(64, 4); const q = torch.randn(64, 16, 64); for (let i = 0; i < 4; i++) m.forwardAsync(q, q, q).catch(() => {});',
  backwardAsync:
    'const w = torch.randn(300, 300, { requiresGrad: true }); for (let i = 0; i < 4; i++) w.matmul(w).sum().backwardAsync().catch(() => {});',
  stepAsync:
    'const m = new torch.nn.Linear(512, 512); m.forward(torch.randn(8, 512)).sum().backward(); const o = new torch.optim.Adam(m.parameters()); o.stepAsync().catch(() => {});',
  'ScriptModule.runMethodAsync': `const s = torch.jit.load(${SCRIPTED}); for (let i = 0; i < 8; i++) s.runMethodAsync('count', [torch.ones(2), torch.ones(3)]).catch(() => {});`,
};

function run(
  entry: string,
  how: 'terminate' | 'exit',
): { status: number | null; signal: string | null; stderr: string; stdout: string } {
  const workerSrc = `const { parentPort } = require('worker_threads'); const torch = require(${LIB});
    ${ENTRY_POINTS[entry]}
    ${how === 'exit' ? 'setImmediate(() => process.exit(0));' : "parentPort.postMessage('started');"}`;
  const main = `const { Worker } = require('worker_threads');
    let rounds = 0;
    const once = () => new Promise((resolve) => {
      const w = new Worker(${JSON.stringify(workerSrc)}, { eval: true });
      w.on('message', () => w.terminate());
      w.on('error', (e) => { console.log('worker error: ' + e.message); });
      w.on('exit', () => resolve());
    });
    (async () => { for (let i = 0; i < 6; i++) { await once(); rounds++; } console.log('rounds ' + rounds); })();`;
  const r = spawnSync(process.execPath, ['-e', main], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout };
}

describe('async calls in flight while their environment stops', function () {
  this.timeout(120_000);
  for (const entry of Object.keys(ENTRY_POINTS)) {
    for (const how of ['terminate', 'exit'] as const) {
      it(`${entry}: worker ${how === 'terminate' ? 'terminated' : 'calls process.exit'} with calls in flight`, () => {
        const r = run(entry, how);
        expect(r.signal, `killed by ${r.signal}; stderr:\n${r.stderr}`).to.equal(null);
        expect(r.stderr, 'no abort').to.not.match(/terminate called|Napi::Error|Aborted/);
        expect(r.status, `exit status; stderr:\n${r.stderr}`).to.equal(0);
        expect(r.stdout).to.match(/rounds 6/);
      });
    }
  }
});
