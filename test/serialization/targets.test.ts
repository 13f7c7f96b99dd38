// What a save may replace: a missing path or a regular file (a symlink to one is written through).
// A FIFO, socket, directory, device or dangling symlink is refused and left as it was (renaming a
// temp file over /dev/null as root would replace the device), and so is a read-only checkpoint
// (Python's torch.save raises PermissionError). These tests never touch /dev: the device case
// stubs fs.lstatSync/statSync for a temp path with the stats of /dev/null (read, never written).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';

// The module object itself (an `import * as` namespace has read-only bindings), for the stub.
import fsMod = require('node:fs');

import { checkWritable } from '../../lib/serialization/io';
import { expectError, rejection } from '../helpers';

type Saver = { name: string; save: (p: string) => Promise<void> };

const SAVERS: Saver[] = [
  { name: 'torch.save', save: async (p) => torch.save({ v: 1 }, p) },
  { name: 'torch.saveAsync', save: (p) => torch.saveAsync({ v: 1 }, p) },
  {
    name: 'torch.saveSafetensors',
    save: async (p) => {
      const t = torch.zeros(2);
      try {
        torch.saveSafetensors({ t }, p);
      } finally {
        t.dispose();
      }
    },
  },
];

/** The error a saver fails with (sync throws are turned into rejections by the async wrappers). */
async function failure(s: Saver, p: string): Promise<Error> {
  return rejection(s.save(p));
}

describe('serialization: save targets', () => {
  let dir: string;
  let n = 0;
  const fresh = (name: string) => path.join(dir, `${n++}-${name}`);
  const leftovers = () => fs.readdirSync(dir).filter((f) => /\.tmp-\d+-[0-9a-f]{12}$/.test(f));
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-targets-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    expect(leftovers(), 'temp files left behind').to.deep.equal([]);
  });

  for (const s of SAVERS) {
    describe(s.name, () => {
      it('refuses a FIFO and leaves it a FIFO', async function () {
        const fifo = fresh('pipe.pt');
        if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
        const e = await failure(s, fifo);
        expect(e.message).to.include(`${s.name}: cannot write '${fifo}'`).and.include('a FIFO');
        expect(fs.lstatSync(fifo).isFIFO()).to.equal(true);
      });

      it('refuses a dangling symlink and leaves the link (and no file at its target)', async () => {
        const link = fresh('dangling.pt');
        const missing = path.join(dir, 'nowhere', 'x.pt');
        fs.symlinkSync(missing, link);
        const e = await failure(s, link);
        expect(e.message).to.include(`${s.name}: cannot write '${link}'`).and.include('dangling symbolic link');
        expect(fs.lstatSync(link).isSymbolicLink()).to.equal(true);
        expect(fs.readlinkSync(link)).to.equal(missing);
      });

      it('refuses a symlink to a FIFO, naming both', async function () {
        const fifo = fresh('pipe2.pt'),
          link = fresh('to-pipe.pt');
        if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
        fs.symlinkSync(fifo, link);
        const e = await failure(s, link);
        expect(e.message).to.include(`cannot write '${link}'`).and.include('a FIFO').and.include(fs.realpathSync(fifo));
        expect(fs.lstatSync(link).isSymbolicLink()).to.equal(true);
        expect(fs.lstatSync(fifo).isFIFO()).to.equal(true);
      });

      it('refuses a socket and a directory', async () => {
        const sock = fresh('s.sock');
        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(sock, resolve));
        try {
          expect((await failure(s, sock)).message)
            .to.include(`cannot write '${sock}'`)
            .and.include('a socket');
          expect(fs.lstatSync(sock).isSocket()).to.equal(true);
        } finally {
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
        const d = fresh('d.pt');
        fs.mkdirSync(d);
        expect((await failure(s, d)).message)
          .to.include(`cannot write '${d}'`)
          .and.include('a directory');
        expect(fs.statSync(d).isDirectory()).to.equal(true);
      });

      it('refuses a character device (stats stubbed; /dev is never written)', async () => {
        const dev = fs.statSync('/dev/null');
        const fake = fresh('dev.pt');
        fs.writeFileSync(fake, 'keep');
        const lstat = fsMod.lstatSync,
          stat = fsMod.statSync;
        const plstat = fsMod.promises.lstat,
          pstat = fsMod.promises.stat;
        const is = (p: unknown) => p === fake;
        (fsMod as any).lstatSync = (p: fs.PathLike, ...a: any[]) => (is(p) ? dev : (lstat as any)(p, ...a));
        (fsMod as any).statSync = (p: fs.PathLike, ...a: any[]) => (is(p) ? dev : (stat as any)(p, ...a));
        (fsMod.promises as any).lstat = (p: fs.PathLike, ...a: any[]) =>
          is(p) ? Promise.resolve(dev) : (plstat as any)(p, ...a);
        (fsMod.promises as any).stat = (p: fs.PathLike, ...a: any[]) =>
          is(p) ? Promise.resolve(dev) : (pstat as any)(p, ...a);
        let e: Error;
        try {
          e = await failure(s, fake);
        } finally {
          (fsMod as any).lstatSync = lstat;
          (fsMod as any).statSync = stat;
          (fsMod.promises as any).lstat = plstat;
          (fsMod.promises as any).stat = pstat;
        }
        expect(e.message).to.include(`cannot write '${fake}'`).and.include('a character device');
        expect(fs.readFileSync(fake, 'utf8')).to.equal('keep');
      });

      it('refuses a read-only (0444) checkpoint and leaves it unchanged', async () => {
        const f = fresh('ro.pt');
        fs.writeFileSync(f, 'old');
        fs.chmodSync(f, 0o444);
        const e = await failure(s, f);
        expect(e.message)
          .to.include(`${s.name}: cannot write '${f}'`)
          .and.match(/read-only|EACCES/);
        expect(fs.readFileSync(f, 'utf8')).to.equal('old');
        expect(fs.statSync(f).mode & 0o777).to.equal(0o444);
      });

      it('writes through a symlink to a regular file, keeping the link; a missing path is created', async () => {
        const f = fresh('real.pt'),
          link = fresh('link.pt');
        fs.writeFileSync(f, 'old');
        fs.symlinkSync(f, link);
        await s.save(link);
        expect(fs.lstatSync(link).isSymbolicLink()).to.equal(true);
        expect(fs.readFileSync(f).length).to.be.greaterThan(3);
        const created = fresh('new.pt');
        await s.save(created);
        expect(fs.statSync(created).isFile()).to.equal(true);
      });
    });
  }

  it('checkWritable: root is refused a file without any write bit; others are left to access(W_OK)', () => {
    expectError(
      () => checkWritable('torch.save', 'x.pt', { mode: 0o100444 }, 0),
      Error,
      "torch.save: cannot write 'x.pt'",
      'read-only (mode 0444)',
    );
    expectError(() => checkWritable('torch.save', 'x.pt', { mode: 0o100400 }, 0), Error, 'read-only');
    checkWritable('torch.save', 'x.pt', { mode: 0o100644 }, 0);
    checkWritable('torch.save', 'x.pt', { mode: 0o100464 }, 0); // group-writable: root may write
    checkWritable('torch.save', 'x.pt', { mode: 0o100444 }, 1000);
  });
});
