// `torch-napi run` (bin/launch.js): the environment each rank gets, the output prefixes, and what
// happens when a rank fails, is killed, or the launcher is stopped (the others are stopped too, no
// process is left behind, and the exit status and the report name the rank). The ranks here are
// small scripts that do not load torch: the launcher does not either; the distributed suites start
// real ranks through it.

import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'bin/torch-napi.js');
const { parseArgs } = require(path.join(root, 'bin/launch.js')) as {
  parseArgs: (argv: string[]) => Record<string, unknown>;
};

let dir: string;
const script = (name: string, body: string): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, body);
  return f;
};
const run = (args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, [cli, 'run', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

// A rank that reports its environment as one JSON line.
const ENV_SCRIPT = `const keys = ['RANK','LOCAL_RANK','WORLD_SIZE','LOCAL_WORLD_SIZE','GROUP_RANK','MASTER_ADDR','MASTER_PORT','OMP_NUM_THREADS'];
const e = {}; for (const k of keys) e[k] = process.env[k];
console.log(JSON.stringify({ env: e, args: process.argv.slice(2) }));`;

describe('torch-napi run (the launcher)', function () {
  this.timeout(60_000);
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-launch-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const envLines = (out: string) =>
    out
      .split('\n')
      .filter((l) => l.includes('{'))
      .map((l) => ({ prefix: l.slice(0, l.indexOf('{')), ...JSON.parse(l.slice(l.indexOf('{'))) }));

  it('starts one process per rank with the variables of env:// and prefixes their lines', () => {
    const s = script('env.js', ENV_SCRIPT);
    const r = run(['--nproc-per-node', '3', s, 'a', '--flag', 'b c'], { OMP_NUM_THREADS: '' });
    expect(r.status, r.stderr).to.equal(0);
    const lines = envLines(r.stdout).sort((a, b) => Number(a.env.RANK) - Number(b.env.RANK));
    expect(lines.map((l) => l.env.RANK)).to.deep.equal(['0', '1', '2']);
    const port = lines[0].env.MASTER_PORT;
    expect(Number(port)).to.be.within(1, 65535);
    for (const [i, l] of lines.entries()) {
      expect(l.prefix).to.equal(`[rank${i}] `);
      expect(l.env).to.include({
        LOCAL_RANK: String(i),
        WORLD_SIZE: '3',
        LOCAL_WORLD_SIZE: '3',
        GROUP_RANK: '0',
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: port,
      });
      expect(l.args).to.deep.equal(['a', '--flag', 'b c']);
    }
  });

  it('sets OMP_NUM_THREADS=1 for several ranks per node unless it is set, and not for one rank', () => {
    const s = script('env2.js', ENV_SCRIPT);
    const env = { ...process.env };
    delete env.OMP_NUM_THREADS;
    const two = spawnSync(process.execPath, [cli, 'run', '--nproc-per-node=2', s], { encoding: 'utf8', env });
    expect(envLines(two.stdout).map((l) => l.env.OMP_NUM_THREADS)).to.deep.equal(['1', '1']);
    const set = run(['--nproc-per-node', '2', s], { OMP_NUM_THREADS: '3' });
    expect(envLines(set.stdout).map((l) => l.env.OMP_NUM_THREADS)).to.deep.equal(['3', '3']);
    const one = spawnSync(process.execPath, [cli, 'run', s], { encoding: 'utf8', env });
    expect(envLines(one.stdout)[0].env.OMP_NUM_THREADS).to.equal(undefined);
  });

  it('numbers ranks across nodes (--nnodes, --node-rank, --master-addr, --master-port; torchrun spellings)', () => {
    const s = script('env3.js', ENV_SCRIPT);
    const r = run([
      '--nnodes',
      '2',
      '--node_rank=1',
      '--nproc_per_node',
      '2',
      '--master-addr',
      '10.1.2.3',
      '--master-port',
      '29555',
      s,
    ]);
    expect(r.status, r.stderr).to.equal(0);
    const lines = envLines(r.stdout).sort((a, b) => Number(a.env.RANK) - Number(b.env.RANK));
    expect(lines.map((l) => [l.env.RANK, l.env.LOCAL_RANK, l.env.GROUP_RANK])).to.deep.equal([
      ['2', '0', '1'],
      ['3', '1', '1'],
    ]);
    for (const l of lines) expect(l.env).to.include({ WORLD_SIZE: '4', MASTER_ADDR: '10.1.2.3', MASTER_PORT: '29555' });
    expect(parseArgs(['--nnodes', '2', 'x.js']).masterPort).to.equal(undefined); // 29500 is chosen at launch
  });

  it('--no-prefix leaves lines alone; a last line without a newline is still written', () => {
    const s = script('partial.js', "process.stdout.write('no newline at the end'); process.stderr.write('err too');");
    const r = run(['--no-prefix', '--nproc-per-node', '2', s]);
    expect(r.status).to.equal(0);
    expect(r.stdout.split('\n').filter(Boolean)).to.deep.equal(['no newline at the end', 'no newline at the end']);
    const p = run(['--nproc-per-node', '1', s]);
    expect(p.stdout).to.equal('[rank0] no newline at the end\n');
    expect(p.stderr).to.equal('[rank0] err too\n');
  });

  it('when a rank fails, stops the others and exits with its code, naming it and quoting its stderr', async () => {
    const pids = path.join(dir, 'pids-fail');
    fs.mkdirSync(pids);
    const s = script(
      'fail.js',
      `require('fs').writeFileSync(${JSON.stringify(pids)} + '/' + process.env.RANK, String(process.pid));
if (process.env.RANK === '1') { setTimeout(() => { console.error('Error: shapes differ: [3] vs [4]'); process.exit(3); }, 300); }
else setInterval(() => {}, 1000);`,
    );
    const t0 = Date.now();
    const r = run(['--nproc-per-node', '3', s]);
    expect(Date.now() - t0).to.be.below(15_000);
    expect(r.status).to.equal(3);
    expect(r.stderr).to.contain('torch-napi run: rank 1 (local rank 1, pid');
    expect(r.stderr).to.contain('exited with code 3');
    expect(r.stderr).to.contain('the launcher stopped rank(s) 0, 2');
    expect(r.stderr).to.contain('    Error: shapes differ: [3] vs [4]');
    for (const f of fs.readdirSync(pids))
      expect(alive(Number(fs.readFileSync(path.join(pids, f), 'utf8')))).to.equal(false);
  });

  it('a rank killed by a signal: exit status 128 + signal, and the report says so', () => {
    const s = script(
      'killed.js',
      "if (process.env.RANK === '0') process.kill(process.pid, 'SIGKILL'); else setInterval(() => {}, 1000);",
    );
    const r = run(['--nproc-per-node', '2', s]);
    expect(r.status).to.equal(137);
    expect(r.stderr).to.contain('rank 0').and.contain('was killed by SIGKILL');
  });

  it('a rank that ignores SIGTERM is killed after --kill-grace seconds', () => {
    const s = script(
      'stubborn.js',
      "process.on('SIGTERM', () => {}); if (process.env.RANK === '1') setTimeout(() => process.exit(5), 200); else setInterval(() => {}, 1000);",
    );
    const t0 = Date.now();
    const r = run(['--kill-grace', '1', '--nproc-per-node', '2', s]);
    expect(r.status).to.equal(5);
    expect(Date.now() - t0).to.be.within(900, 10_000);
    expect(r.stderr).to.contain('the launcher stopped rank(s) 0');
  });

  it('SIGTERM to the launcher stops every rank and leaves no process behind', async () => {
    const pids = path.join(dir, 'pids-term');
    fs.mkdirSync(pids);
    const s = script(
      'wait.js',
      `require('fs').writeFileSync(${JSON.stringify(pids)} + '/' + process.env.RANK, String(process.pid)); setInterval(() => {}, 1000);`,
    );
    const child = spawn(process.execPath, [cli, 'run', '--nproc-per-node', '2', s], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    await waitFor(() => fs.readdirSync(pids).length === 2);
    const ranks = fs.readdirSync(pids).map((f) => Number(fs.readFileSync(path.join(pids, f), 'utf8')));
    expect(ranks.every(alive)).to.equal(true);
    const status = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await status).to.equal(143);
    expect(err).to.contain('SIGTERM received, stopping 2 rank(s)');
    await waitFor(() => !ranks.some(alive));
  });

  it('a script that does not exist fails like a failed rank', () => {
    const r = run(['--nproc-per-node', '2', path.join(dir, 'missing.js')]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('Cannot find module');
  });

  for (const [args, msg] of [
    [[], 'no script given'],
    [['--nproc-per-node', 'two', 'x.js'], '--nproc-per-node expects an integer, got two'],
    [['--nproc-per-node', '0', 'x.js'], '--nproc-per-node must be >= 1, got 0'],
    [['--nnodes', '2', '--node-rank', '2', 'x.js'], '--node-rank must be < --nnodes (2), got 2'],
    [['--master-port', '70000', 'x.js'], '--master-port must be <= 65535, got 70000'],
    [['--bogus', 'x.js'], 'unknown option --bogus'],
  ] as [string[], string][]) {
    it(`usage error: ${msg}`, () => {
      const r = run(args);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.contain(`torch-napi run: ${msg}`).and.contain('usage: torch-napi run');
    });
  }

  it('--help and the top-level usage', () => {
    const h = run(['--help']);
    expect(h.status).to.equal(0);
    expect(h.stdout).to.contain('--nproc-per-node N');
    const top = spawnSync(process.execPath, [cli, 'nope'], { encoding: 'utf8' });
    expect(top.status).to.equal(2);
    expect(top.stdout).to.contain('torch-napi run [options] script');
  });
});
