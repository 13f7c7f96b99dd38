// `npx torch-napi run`: starts the ranks of a data-parallel job, as PyTorch's `torchrun` does.
//
//   torch-napi run --nproc-per-node 2 train.js [args...]
//   torch-napi run --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500 \
//                  --nproc-per-node 4 train.js [args...]
//
// Each rank is `node script args...` with RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
// GROUP_RANK, MASTER_ADDR and MASTER_PORT set (the variables `torch.distributed.initProcessGroup`
// reads with `initMethod: 'env://'`, the default), and OMP_NUM_THREADS=1 unless it is set, as
// torchrun does when it starts more than one process per node. Every line a rank prints is
// prefixed with `[rankN] `. When a rank fails (non-zero exit or a signal), the launcher stops the
// others (SIGTERM, then SIGKILL after --kill-grace seconds), prints which rank failed, how, and
// the last lines it wrote to stderr, and exits with that rank's exit code (128 + signal number
// for a signal). SIGINT/SIGTERM sent to the launcher are passed on to every rank.
//
// What it does not do (torchrun's elastic part): restarts (--max-restarts), membership changes,
// a rendezvous other than the fixed master address. Several nodes: start the launcher on each
// node with the same --nnodes, --master-addr and --master-port and its own --node-rank.

const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const USAGE = `usage: torch-napi run [options] script.js [script args...]

Starts one process per rank (like torchrun) and sets RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR and MASTER_PORT for torch.distributed.initProcessGroup.

options:
  --nproc-per-node N     processes on this node (default 1)
  --nnodes N             number of nodes (default 1)
  --node-rank R          this node's rank, 0 <= R < nnodes (default 0)
  --master-addr ADDR     address of the node with rank 0 (default 127.0.0.1)
  --master-port PORT     its port (default: a free port when --nnodes is 1, else 29500)
  --standalone           one node on this machine with a free port (the defaults)
  --no-prefix            do not prefix the ranks' output lines with [rankN]
  --kill-grace S         seconds between SIGTERM and SIGKILL when stopping ranks (default 5)
  --node-arg ARG         pass ARG to node before the script (repeatable, e.g. --node-arg=--expose-gc)
  -h, --help             this text`;

class UsageError extends Error {}

/** Parses the launcher's options (before the script) and returns them with the script and its args. */
function parseArgs(argv) {
  const opts = {
    nprocPerNode: 1,
    nnodes: 1,
    nodeRank: 0,
    masterAddr: '127.0.0.1',
    masterPort: undefined,
    prefix: true,
    killGrace: 5,
    nodeArgs: [],
    script: undefined,
    scriptArgs: [],
    help: false,
  };
  const int = (name, v, min) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`${name} expects an integer, got ${v ?? 'nothing'}`);
    const n = Number(v);
    if (n < min) throw new UsageError(`${name} must be >= ${min}, got ${n}`);
    return n;
  };
  let i = 0;
  while (i < argv.length) {
    const raw = argv[i];
    if (!raw.startsWith('-')) break;
    const eq = raw.indexOf('=');
    // torchrun accepts both --nproc-per-node and --nproc_per_node.
    const name = (eq >= 0 ? raw.slice(0, eq) : raw).replace(/_/g, '-');
    const inline = eq >= 0 ? raw.slice(eq + 1) : undefined;
    const value = () => {
      if (inline !== undefined) return inline;
      i += 1;
      return argv[i];
    };
    switch (name) {
      case '-h':
      case '--help':
        opts.help = true;
        break;
      case '--nproc-per-node': {
        const v = value();
        opts.nprocPerNode = v === 'auto' ? require('node:os').availableParallelism() : int(name, v, 1);
        break;
      }
      case '--nnodes':
        opts.nnodes = int(name, value(), 1);
        break;
      case '--node-rank':
        opts.nodeRank = int(name, value(), 0);
        break;
      case '--master-addr': {
        const v = value();
        if (!v) throw new UsageError('--master-addr expects a host name or address');
        opts.masterAddr = v;
        break;
      }
      case '--master-port':
        opts.masterPort = int(name, value(), 1);
        if (opts.masterPort > 65535) throw new UsageError(`--master-port must be <= 65535, got ${opts.masterPort}`);
        break;
      case '--standalone':
        break;
      case '--no-prefix':
        opts.prefix = false;
        break;
      case '--kill-grace':
        opts.killGrace = int(name, value(), 0);
        break;
      case '--node-arg': {
        const v = value();
        if (v === undefined) throw new UsageError('--node-arg expects an argument for node');
        opts.nodeArgs.push(v);
        break;
      }
      case '--':
        i += 1;
        opts.script = argv[i];
        opts.scriptArgs = argv.slice(i + 1);
        return finish(opts);
      default:
        throw new UsageError(`unknown option ${raw}`);
    }
    i += 1;
  }
  opts.script = argv[i];
  opts.scriptArgs = argv.slice(i + 1);
  return finish(opts);
}

function finish(opts) {
  if (opts.help) return opts;
  if (!opts.script) throw new UsageError('no script given: torch-napi run [options] script.js [args...]');
  if (opts.nodeRank >= opts.nnodes) {
    throw new UsageError(`--node-rank must be < --nnodes (${opts.nnodes}), got ${opts.nodeRank}`);
  }
  return opts;
}

/** A TCP port that nothing listens on now (the OS's pick), on the master address. */
function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Splits a stream into lines and writes each, prefixed, to `out`; keeps the last lines in `tail`. */
function pipeLines(stream, out, prefix, tail) {
  let pending = '';
  const emit = (line) => {
    out.write(`${prefix}${line}\n`);
    if (tail) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop();
    for (const line of parts) emit(line);
  });
  return new Promise((resolve) => {
    stream.on('end', () => {
      if (pending) emit(pending);
      pending = '';
      resolve();
    });
  });
}

const SIGNALS = require('node:os').constants.signals;

/** Starts the ranks and resolves with the launcher's exit code. */
async function launch(opts, io = { stdout: process.stdout, stderr: process.stderr }) {
  const worldSize = opts.nnodes * opts.nprocPerNode;
  const port = opts.masterPort ?? (opts.nnodes === 1 ? await freePort(opts.masterAddr) : 29500);
  const script = path.resolve(opts.script);
  const ranks = [];
  let failure = null; // the first rank that failed: {rank, code, signal, tail}
  let stopping = false;
  let killTimer = null;

  const stopAll = (signal) => {
    if (stopping) return;
    stopping = true;
    for (const r of ranks) if (r.exit === undefined) r.child.kill(signal);
    killTimer = setTimeout(() => {
      for (const r of ranks) if (r.exit === undefined) r.child.kill('SIGKILL');
    }, opts.killGrace * 1000);
    killTimer.unref();
  };
  const onSignal = (signal) => {
    io.stderr.write(`torch-napi run: ${signal} received, stopping ${ranks.length} rank(s)\n`);
    if (!failure) failure = { rank: -1, code: null, signal, tail: [] };
    stopAll(signal);
  };
  const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
  for (const [s, h] of Object.entries(handlers)) process.on(s, h);

  for (let local = 0; local < opts.nprocPerNode; local++) {
    const rank = opts.nodeRank * opts.nprocPerNode + local;
    const env = {
      ...process.env,
      RANK: String(rank),
      LOCAL_RANK: String(local),
      WORLD_SIZE: String(worldSize),
      LOCAL_WORLD_SIZE: String(opts.nprocPerNode),
      GROUP_RANK: String(opts.nodeRank),
      MASTER_ADDR: opts.masterAddr,
      MASTER_PORT: String(port),
    };
    // torchrun: "Setting OMP_NUM_THREADS environment variable for each process to be 1 in default,
    // to avoid your system being overloaded"; only when several ranks share the node.
    if (opts.nprocPerNode > 1 && env.OMP_NUM_THREADS === undefined) env.OMP_NUM_THREADS = '1';
    const child = spawn(process.execPath, [...opts.nodeArgs, script, ...opts.scriptArgs], {
      env,
      stdio: ['inherit', 'pipe', 'pipe'],
    });
    const r = { rank, child, exit: undefined, tail: [] };
    const prefix = opts.prefix ? `[rank${rank}] ` : '';
    r.done = Promise.all([
      pipeLines(child.stdout, io.stdout, prefix, null),
      pipeLines(child.stderr, io.stderr, prefix, r.tail),
      new Promise((resolve) => {
        child.on('error', (err) => {
          r.tail.push(String(err.message));
          resolve({ code: 127, signal: null });
        });
        child.on('exit', (code, signal) => resolve({ code, signal }));
      }),
    ]).then(([, , { code, signal }]) => {
      r.exit = { code, signal };
      if ((code !== 0 || signal) && !failure) {
        failure = { rank, code, signal, tail: r.tail.slice() };
        stopAll('SIGTERM');
      }
    });
    ranks.push(r);
  }
  await Promise.all(ranks.map((r) => r.done));
  if (killTimer) clearTimeout(killTimer);
  for (const [s, h] of Object.entries(handlers)) process.removeListener(s, h);

  if (!failure) return 0;
  const how = (f) => (f.signal ? `was killed by ${f.signal}` : `exited with code ${f.code}`);
  if (failure.rank < 0) {
    const stillBad = ranks.filter((r) => r.exit.code !== 0 || r.exit.signal).length;
    io.stderr.write(
      `torch-napi run: stopped by ${failure.signal} (${stillBad} of ${ranks.length} rank(s) did not finish)\n`,
    );
    return 128 + (SIGNALS[failure.signal] ?? 1);
  }
  const others = ranks.filter((r) => r.rank !== failure.rank);
  const stopped = others.filter((r) => r.exit.signal).map((r) => r.rank);
  const lines = [
    `torch-napi run: rank ${failure.rank} (local rank ${failure.rank - opts.nodeRank * opts.nprocPerNode}, pid ${ranks.find((r) => r.rank === failure.rank).child.pid}) ${how(failure)}`,
  ];
  if (stopped.length > 0) lines.push(`  the launcher stopped rank(s) ${stopped.join(', ')}`);
  if (failure.tail.length > 0) {
    lines.push(`  its last ${failure.tail.length} line(s) on stderr:`);
    for (const l of failure.tail) lines.push(`    ${l}`);
  }
  io.stderr.write(`${lines.join('\n')}\n`);
  if (failure.signal) return 128 + (SIGNALS[failure.signal] ?? 1);
  return failure.code || 1;
}

/** The CLI entry: parses, launches, exits with the job's status. */
async function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`torch-napi run: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  process.exitCode = await launch(opts);
}

module.exports = { main, launch, parseArgs, UsageError, USAGE };
