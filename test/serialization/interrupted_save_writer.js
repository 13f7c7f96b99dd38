// Child process of interrupted_save.test.ts: once it reads a line on stdin, saves two known
// checkpoints (`A` and `B`, each about 24 MB) alternately over one target, forever, until it is
// killed. (The parent starts writers ahead of time: loading libtorch takes longer than a save.)
//   node interrupted_save_writer.js <lib dir> <target> <pt|safetensors>

const [lib, target, kind] = process.argv.slice(2);
const torch = require(lib);

/** The content named `which`: the same on every run (seeded), so the parent can rebuild it. */
function content(which) {
  torch.manualSeed(which === 'A' ? 1 : 2);
  return { w: torch.randn(6 * 1024 * 1024), b: torch.randn(1000, 3), tag: torch.tensor([which === 'A' ? 1 : 2]) };
}

const contents = [content('A'), content('B')];
process.stdout.write('ready\n');
const buf = Buffer.alloc(16);
while (!buf.includes(10)) if (require('node:fs').readSync(0, buf, 0, buf.length, null) === 0) process.exit(0);
for (let i = 1; ; i = 1 - i) {
  if (kind === 'pt') torch.save(contents[i], target);
  else torch.saveSafetensors(contents[i], target);
  process.stdout.write(`saved ${'AB'[i]}\n`);
}
