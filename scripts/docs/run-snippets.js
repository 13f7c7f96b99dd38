#!/usr/bin/env node
// Runs the code blocks of the guides and the README, so the documentation cannot drift from the code.
//
//   npm run docs:snippets            (after `npm run build:ts`: the blocks import the local build)
//   node scripts/docs/run-snippets.js [--keep] [files.md...]
//
// Every ```ts and ```js block of README.md and docs/guides/*.md is extracted, compiled with
// `tsc --strict` against the local build under the package name `torch-napi` (a temporary
// node_modules/torch-napi links to this checkout), and run. Fence info words:
//   ```ts no-run      type-checked only (a block that needs a GPU, a file from Python, a server ...)
//   ```ts continued   joins the previous block of the same file: one scope, compiled and run as one
// A ```js block is CommonJS, checked with tsc's checkJs. All blocks run in one Node process, one
// after another (loading libtorch once keeps the whole run short), each inside an async function of
// its own module, with the working directory in a temporary folder. Fails when any block fails to
// compile, throws, or rejects.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const files = args.filter((a) => !a.startsWith('--'));
const sources = files.length
  ? files.map((f) => path.resolve(f))
  : [
      path.join(root, 'README.md'),
      ...fs
        .readdirSync(path.join(root, 'docs', 'guides'))
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => path.join(root, 'docs', 'guides', f)),
    ];

/** The fenced ts/js blocks of one Markdown file: {lang, flags, code, line}. */
function extract(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|js|typescript|javascript)\b(.*)$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const body = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) body.push(lines[j++].slice(indent));
    if (j >= lines.length) throw new Error(`${rel(file)}:${i + 1}: unclosed code block`);
    const lang = open[2].startsWith('t') ? 'ts' : 'js';
    const flags = open[3].trim().split(/\s+/).filter(Boolean);
    for (const f of flags) {
      if (f !== 'no-run' && f !== 'continued') throw new Error(`${rel(file)}:${i + 1}: unknown code block flag '${f}'`);
    }
    blocks.push({ lang, flags, code: body, line: i + 2 });
    i = j;
  }
  return blocks;
}

function rel(f) {
  return path.relative(root, f);
}

// ---- collect: one snippet per block (a continued block joins the one before it) ----------------
const snippets = [];
for (const file of sources) {
  if (!fs.existsSync(file)) continue;
  for (const b of extract(file)) {
    const prev = snippets[snippets.length - 1];
    if (b.flags.includes('continued')) {
      if (!prev || prev.file !== file || prev.lang !== b.lang) {
        throw new Error(
          `${rel(file)}:${b.line - 1}: a 'continued' block must follow a ${b.lang} block of the same file`,
        );
      }
      prev.parts.push(b);
      if (!b.flags.includes('no-run')) continue;
      prev.run = false;
      continue;
    }
    snippets.push({ file, lang: b.lang, run: !b.flags.includes('no-run'), parts: [b] });
  }
}

// ---- write: each snippet as a module whose body is an exported async function ------------------
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-napi-snippets-'));
fs.mkdirSync(path.join(dir, 'node_modules'));
fs.symlinkSync(root, path.join(dir, 'node_modules', 'torch-napi'), 'dir');
if (!fs.existsSync(path.join(root, 'dist', 'index.d.ts'))) {
  console.error('run-snippets: dist/ is missing: run `npm run build:ts` first');
  process.exit(1);
}
const PRELUDE = [
  ['F', { ts: 'const F = torch.nn.functional;', js: 'const F = torch.nn.functional;' }],
  ['optim', { ts: 'const { optim } = torch;', js: 'const { optim } = torch;' }],
  ['nn', { ts: 'const { nn } = torch;', js: 'const { nn } = torch;' }],
  ['torch', { ts: "import * as torch from 'torch-napi';", js: "const torch = require('torch-napi');" }],
];
const maps = []; // per snippet: generated line -> [file, line]
snippets.forEach((s, k) => {
  const name = `s${String(k).padStart(3, '0')}.${s.lang}`;
  const head = [];
  const body = [];
  const map = [];
  const headMap = [];
  for (const part of s.parts) {
    part.code.forEach((text, n) => {
      // imports and requires of torch-napi/node modules stay at the top level, the rest runs in main()
      if (/^import\s.*from\s+'[^']+';\s*(\/\/.*)?$/.test(text) || /^import\s+\*\s+as\s+\w+\s+from/.test(text)) {
        head.push(text);
        headMap.push(part.line + n);
      } else {
        body.push(`  ${text}`);
        map.push(part.line + n);
      }
    });
  }
  // The guides' shared preamble (said once at the top of each guide): torch, nn, optim and F, unless
  // the block imports or declares them itself.
  const all = s.parts.flatMap((p) => p.code).join('\n');
  const imports = head.length;
  for (const [name, decl] of PRELUDE) {
    const declared = new RegExp(
      `(import\\s+\\*\\s+as\\s+${name}\\b|import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}|(const|let|var)\\s+${name}\\b|(const|let|var)\\s*\\{[^}]*\\b${name}\\b[^}]*\\}\\s*=)`,
    ).test(all);
    if (!declared && (name === 'torch' || new RegExp(`\\b${name}\\b`).test(all))) {
      // torch's import goes first; the names taken from it (nn, optim, F) after the block's own
      // imports, which may be where torch comes from
      if (name === 'torch') {
        head.unshift(s.lang === 'ts' ? decl.ts : decl.js);
        headMap.unshift(null);
      } else {
        head.splice(imports, 0, s.lang === 'ts' ? decl.ts : decl.js);
        headMap.splice(imports, 0, null);
      }
    }
  }
  const lines =
    s.lang === 'ts'
      ? [...head, 'export async function main(): Promise<void> {', ...body, '}']
      : ["'use strict';", ...head, 'exports.main = async function main() {', ...body, '};'];
  const lineMap = s.lang === 'ts' ? [...headMap, null, ...map, null] : [null, ...headMap, null, ...map, null];
  s.name = name;
  fs.writeFileSync(path.join(dir, name), `${lines.join('\n')}\n`);
  maps[k] = lineMap;
});
const where = (k, line) => {
  const l = maps[k][line - 1];
  return `${rel(snippets[k].file)}:${l ?? `(block at ${snippets[k].parts[0].line})`}`;
};

fs.writeFileSync(
  path.join(dir, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'commonjs',
      lib: ['ES2022', 'ESNext.Disposable'],
      strict: true,
      allowJs: true,
      checkJs: true,
      esModuleInterop: true,
      skipLibCheck: true,
      outDir: 'out',
      rootDir: '.',
      types: ['node'],
      typeRoots: [path.join(root, 'node_modules', '@types')],
      noUnusedLocals: false,
    },
    include: ['s*.ts', 's*.js'],
  }),
);

const t0 = Date.now();
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
  encoding: 'utf8',
});
const diags = `${tsc.stdout}${tsc.stderr}`.trim();
let failed = 0;
if (tsc.status !== 0) {
  for (const l of diags.split('\n')) {
    const m = /^s(\d{3})\.(ts|js)\((\d+),(\d+)\): (.*)$/.exec(l.replace(/^.*[\\/](s\d{3}\.)/, '$1'));
    if (m) {
      console.error(`${where(Number(m[1]), Number(m[3]))}: ${m[5]}`);
      failed++;
    } else if (l.trim()) console.error(l);
  }
  if (!failed) failed = 1;
}
const compileMs = Date.now() - t0;

// ---- run: one child process runs every runnable snippet in turn ---------------------------------
const runnable = snippets.map((s, k) => (s.run ? k : -1)).filter((k) => k >= 0);
let ran = 0;
if (!failed) {
  const runner = `
    const path = require('node:path');
    const files = ${JSON.stringify(runnable.map((k) => snippets[k].name.replace(/\.ts$/, '.js')))};
    process.chdir(${JSON.stringify(path.join(dir, 'work'))});
    let failed = 0;
    (async () => {
      for (const f of files) {
        const t = Date.now();
        try {
          await require(path.join(${JSON.stringify(path.join(dir, 'out'))}, f)).main();
          process.stdout.write('\\u0000ok ' + f + ' ' + (Date.now() - t) + '\\n');
        } catch (e) {
          failed++;
          process.stdout.write('\\u0000fail ' + f + ' ' + JSON.stringify(String(e && e.stack || e)) + '\\n');
        }
      }
      process.exitCode = failed ? 1 : 0;
    })();`;
  fs.mkdirSync(path.join(dir, 'work'));
  const r = spawnSync(process.execPath, ['-e', runner], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
  const byName = new Map(snippets.map((s, k) => [s.name.replace(/\.ts$/, '.js'), k]));
  for (const l of (r.stdout || '').split('\n')) {
    if (!l.startsWith('\u0000')) {
      if (l.trim() && process.env.SNIPPETS_VERBOSE) console.log(l);
      continue;
    }
    const m = /^(ok|fail) (\S+) (.*)$/.exec(l.slice(1));
    if (!m) continue;
    const [, status, f, rest] = m;
    const k = byName.get(f);
    if (status === 'ok') {
      ran++;
      if (process.env.SNIPPETS_VERBOSE) console.log(`ok   ${where(k, 2)} (${rest} ms)`);
    } else {
      failed++;
      console.error(`FAIL ${rel(snippets[k].file)}:${snippets[k].parts[0].line}: ${JSON.parse(rest)}`);
    }
  }
  if (r.status !== 0 && !failed) {
    failed++;
    console.error(`run-snippets: the runner exited with ${r.status ?? r.signal}: ${r.stderr}`);
  }
  if (r.stderr && process.env.SNIPPETS_VERBOSE) console.error(r.stderr);
}
const total = snippets.length;
console.log(
  `run-snippets: ${total} blocks from ${sources.filter((f) => fs.existsSync(f)).length} files; type-checked ${failed && tsc.status !== 0 ? 'with errors' : total} (${compileMs} ms), ran ${ran} of ${runnable.length} (${Date.now() - t0} ms in all)${failed ? `; ${failed} failed` : ''}`,
);
if (!keep) fs.rmSync(dir, { recursive: true, force: true });
else console.log(`run-snippets: kept ${dir}`);
process.exit(failed ? 1 : 0);
