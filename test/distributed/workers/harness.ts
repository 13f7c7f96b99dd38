// Runs ranks as child processes for the torch.distributed tests: each rank is a compiled worker
// script (fork with IPC) that reports one result message and exits. Every child is killed when
// its scenario ends or times out, so a failed test leaves no process behind.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

export interface RankResult {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the rank sent with `process.send({result})`, if anything. */
  result: unknown;
  stdout: string;
  stderr: string;
  /** ms from spawn to exit */
  ms: number;
}

const live = new Set<ChildProcess>();

/** Kills every rank still running (mocha `after` hooks call it). */
export function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

/** A free TCP port on the loopback (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const WORKER = path.join(__dirname, 'rank.js');

export interface SpawnOptions {
  /** Extra environment per rank. */
  env?: (rank: number) => Record<string, string>;
  /** argv after the script, per rank. */
  args: (rank: number) => string[];
  timeoutMs: number;
  /** Called with each child once it is spawned (a test may kill one). */
  onSpawn?: (rank: number, child: ChildProcess) => void;
  /** A command instead of the node worker for some ranks (the Python interop ranks). */
  command?: (rank: number) => { file: string; args: string[] } | undefined;
}

/** Starts `n` ranks and resolves with each one's outcome once all have exited (or were killed at the timeout). */
export function runRanks(n: number, o: SpawnOptions): Promise<RankResult[]> {
  return new Promise((resolve) => {
    const results: RankResult[] = [];
    let left = n;
    const children: ChildProcess[] = [];
    const timer = setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
    }, o.timeoutMs);
    for (let r = 0; r < n; r++) {
      const start = Date.now();
      const env = { ...process.env, ...(o.env ? o.env(r) : {}) };
      const cmd = o.command?.(r);
      const child = cmd
        ? spawn(cmd.file, cmd.args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
        : fork(WORKER, o.args(r), { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
      live.add(child);
      children.push(child);
      const res: RankResult = { rank: r, code: null, signal: null, result: undefined, stdout: '', stderr: '', ms: 0 };
      child.stdout?.on('data', (d) => {
        res.stdout += String(d);
      });
      child.stderr?.on('data', (d) => {
        res.stderr += String(d);
      });
      child.on('message', (m) => {
        if (m && typeof m === 'object' && 'result' in m) res.result = (m as { result: unknown }).result;
      });
      child.on('exit', (code, signal) => {
        res.code = code;
        res.signal = signal;
        res.ms = Date.now() - start;
        live.delete(child);
        results[r] = res;
        if (--left === 0) {
          clearTimeout(timer);
          // a Python rank reports its result as the last stdout line (JSON)
          for (const x of results)
            if (x.result === undefined && x.stdout.trim()) {
              const last = x.stdout.trim().split('\n').pop() as string;
              try {
                x.result = JSON.parse(last);
              } catch {
                /* left undefined */
              }
            }
          resolve(results);
        }
      });
      o.onSpawn?.(r, child);
    }
  });
}

/** A rank's outcome, for assertion messages. */
export function show(r: RankResult): string {
  return `rank ${r.rank}: exit ${r.code ?? r.signal} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}
