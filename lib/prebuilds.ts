// Which addon file to load: a local build (build/Release, compiled on this machine) or one of the
// prebuilds the package ships, one per libtorch ABI:
//   prebuilds/<platform>-<arch>/libtorch-<major.minor>/torch-napi.node + libtorch.json
// node-gyp-build alone cannot choose between prebuilds by libtorch, so the choice is made here, from
// what each prebuild's libtorch.json recorded at build time (scripts/prebuild.sh: the libtorch sonames
// the .node NEEDS and its runpath) and where the dynamic loader would find those sonames on this
// machine. Nothing here loads a library: a libtorch that does not fit must never be mapped into the
// process. Used by lib/native.ts (load), install/check-prebuild.js (the install script's test: compile
// only when nothing loads) and `torch-napi doctor` (which addon, and why).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What scripts/prebuild.sh (or the cmake-js build, build/libtorch.json) recorded about an addon's libtorch. */
export interface LibtorchRecord {
  version?: string;
  source?: string;
  abi?: string;
  libDir?: string;
  /** The libtorch/c10 libraries the addon NEEDS (its ELF DT_NEEDED entries), e.g. libtorch_cpu.so.1.13. */
  libtorchSonames?: string[];
  /** The addon's DT_RUNPATH (':'-separated), where the loader looks first. */
  runpath?: string | null;
  [key: string]: unknown;
}

/** Where a shared library was found, and through which of the dynamic loader's search steps. */
export interface Found {
  path: string;
  via: 'LD_LIBRARY_PATH' | 'runpath' | 'ld.so.cache' | 'default directories';
}

/** How to look a soname up the way the dynamic loader would, without loading it. */
export interface SystemLibraries {
  find(soname: string, runpath: string[]): Found | null;
  /** The places searched, for the messages ("searched: ..."). */
  searched(runpath: string[]): string[];
}

export type AddonKind = 'prebuild' | 'local build';

export interface Candidate {
  /** The .node file. */
  file: string;
  kind: AddonKind;
  /** Short name: `prebuilds/linux-x64/libtorch-1.13`, `build/Release`. */
  label: string;
  /** Its libtorch.json (a prebuild: next to it; a local build: build/libtorch.json); null if none. */
  record: LibtorchRecord | null;
  /** Each libtorch soname it needs and where it is (null: not found). */
  sonames: { name: string; found: Found | null }[];
  /** true: every libtorch soname it needs is here; false: one is missing; null: nothing recorded to tell. */
  fits: boolean | null;
  /** Why it fits, does not, or cannot be told. */
  reason: string;
  /** Set by the loader: 'loaded', or the load error's first line. */
  outcome?: string;
}

export interface Choice {
  /** The directory searched (the package root, or TORCH_NAPI_PREBUILD: node-gyp-build's override). */
  dir: string;
  tuple: string;
  /** Every addon found, in the order they are tried: fitting first, then unknown, then missing their libtorch. */
  candidates: Candidate[];
  /** Where it looked: build/Release, build/Debug, prebuilds/<tuple>. */
  searched: string[];
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readRecord(file: string): LibtorchRecord | null {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8'));
    return r && typeof r === 'object' ? (r as LibtorchRecord) : null;
  } catch {
    return null;
  }
}

const multiarch = (): string => `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;

/** The shared-library paths that an ld.so.cache lists for `soname` (its strings, read without parsing the format). */
export function ldCachePaths(cache: Buffer | string, soname: string): string[] {
  const text = typeof cache === 'string' ? cache : cache.toString('latin1');
  const out: string[] = [];
  const tail = `/${soname}\0`;
  for (let i = text.indexOf(tail); i >= 0; i = text.indexOf(tail, i + 1)) {
    const start = text.lastIndexOf('\0', i) + 1;
    const p = text.slice(start, i + tail.length - 1);
    if (p.startsWith('/') && !out.includes(p)) out.push(p);
  }
  return out;
}

/**
 * The dynamic loader's search, read-only: LD_LIBRARY_PATH, the addon's runpath ($ORIGIN: its
 * directory), /etc/ld.so.cache (what ldconfig knows), then the default directories.
 */
export function systemLibraries(
  opts: { env?: NodeJS.ProcessEnv; ldCache?: string; exists?: (p: string) => boolean } = {},
): SystemLibraries {
  const env = opts.env ?? process.env;
  const exists = opts.exists ?? ((p: string) => fs.existsSync(p));
  const cacheFile = opts.ldCache ?? '/etc/ld.so.cache';
  let cache: Buffer | null | undefined;
  const readCache = (): Buffer | null => {
    if (cache === undefined) {
      try {
        cache = fs.readFileSync(cacheFile);
      } catch {
        cache = null;
      }
    }
    return cache;
  };
  const ldLibraryPath = (env.LD_LIBRARY_PATH || '').split(':').filter(Boolean);
  const defaults = [`/lib/${multiarch()}`, `/usr/lib/${multiarch()}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib'];
  return {
    find(soname, runpath) {
      for (const [dirs, via] of [
        [ldLibraryPath, 'LD_LIBRARY_PATH'],
        [runpath, 'runpath'],
      ] as const) {
        for (const d of dirs) if (exists(path.join(d, soname))) return { path: path.join(d, soname), via };
      }
      const c = readCache();
      if (c) for (const p of ldCachePaths(c, soname)) if (exists(p)) return { path: p, via: 'ld.so.cache' };
      for (const d of defaults) {
        if (exists(path.join(d, soname))) return { path: path.join(d, soname), via: 'default directories' };
      }
      return null;
    },
    searched(runpath) {
      return [
        ...(ldLibraryPath.length ? [`LD_LIBRARY_PATH ${ldLibraryPath.join(':')}`] : []),
        ...(runpath.length ? [`runpath ${runpath.join(':')}`] : []),
        cacheFile,
        defaults.join(' '),
      ];
    },
  };
}

/** "1.13.1" → [1, 13, 1]; for sorting prebuilds newest libtorch first. */
function versionKey(r: LibtorchRecord | null): number[] {
  return String(r?.version ?? '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (b[i] ?? 0) - (a[i] ?? 0);
  return 0;
}

/** "libtorch 1.13.1" or "libtorch (version not recorded)". */
export function libtorchName(r: LibtorchRecord | null): string {
  return r?.version ? `libtorch ${r.version}` : 'libtorch (version not recorded)';
}

function evaluate(
  file: string,
  kind: AddonKind,
  label: string,
  record: LibtorchRecord | null,
  system: SystemLibraries,
): Candidate {
  const sonames = Array.isArray(record?.libtorchSonames) ? record.libtorchSonames.map(String) : null;
  if (!sonames || sonames.length === 0) {
    const reason =
      kind === 'local build'
        ? 'a local build (compiled on this machine) comes before the prebuilds'
        : `no libtorch sonames recorded (${path.join(path.dirname(file), 'libtorch.json')}): cannot tell which libtorch it needs`;
    return { file, kind, label, record, sonames: [], fits: null, reason };
  }
  const runpath = String(record?.runpath ?? '')
    .split(':')
    .filter(Boolean)
    .map((d) => d.replace(/\$(ORIGIN|\{ORIGIN\})/g, path.dirname(file)));
  const found = sonames.map((name) => ({ name, found: system.find(name, runpath) }));
  const missing = found.filter((s) => !s.found).map((s) => s.name);
  if (missing.length) {
    return {
      file,
      kind,
      label,
      record,
      sonames: found,
      fits: false,
      reason:
        `its ${libtorchName(record)} is not on this machine: ${missing.join(' ')} not found ` +
        `(searched: ${system.searched(runpath).join('; ')})`,
    };
  }
  const where = [...new Set(found.map((s) => `${path.dirname(s.found?.path ?? '')} (${s.found?.via})`))];
  return {
    file,
    kind,
    label,
    record,
    sonames: found,
    fits: true,
    reason: `its ${libtorchName(record)} is on this machine: ${sonames.join(' ')} in ${where.join(', ')}`,
  };
}

/**
 * Every addon under `dir` (build/Release, build/Debug, prebuilds/<tuple>/ and its subdirectories),
 * each checked against this machine's libraries, in the order to try them: a local build first
 * unless its record says its libtorch is gone, then the prebuilds whose libtorch is here (newest
 * libtorch first), then those that cannot tell, then (a last resort: the search may miss a
 * library the loader finds) those whose libtorch was not found.
 */
export function chooseAddon(dir: string, opts: { system?: SystemLibraries; tuple?: string } = {}): Choice {
  const system = opts.system ?? systemLibraries();
  const tuple = opts.tuple ?? `${process.platform}-${process.arch}`;
  const local: Candidate[] = [];
  const prebuilds: Candidate[] = [];
  const searched: string[] = [];
  for (const sub of ['Release', 'Debug']) {
    const d = path.join(dir, 'build', sub);
    searched.push(d);
    const f = readdir(d).find((n) => n.endsWith('.node'));
    // the first local build only, as node-gyp-build: Release over Debug
    if (f && local.length === 0) {
      local.push(
        evaluate(
          path.join(d, f),
          'local build',
          `build/${sub}`,
          readRecord(path.join(dir, 'build', 'libtorch.json')),
          system,
        ),
      );
    }
  }
  const pdir = path.join(dir, 'prebuilds', tuple);
  searched.push(pdir);
  const addDir = (d: string, label: string): void => {
    for (const n of readdir(d).filter((n) => n.endsWith('.node'))) {
      prebuilds.push(evaluate(path.join(d, n), 'prebuild', label, readRecord(path.join(d, 'libtorch.json')), system));
    }
  };
  addDir(pdir, `prebuilds/${tuple}`);
  for (const sub of readdir(pdir)) {
    const d = path.join(pdir, sub);
    if (fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) addDir(d, `prebuilds/${tuple}/${sub}`);
  }
  prebuilds.sort((a, b) => compareVersions(versionKey(a.record), versionKey(b.record)));
  const rank = (c: Candidate): number => (c.fits === true ? 0 : c.fits === null ? 1 : 2);
  const ordered = [
    ...local.filter((c) => c.fits !== false),
    ...[...prebuilds].sort((a, b) => rank(a) - rank(b)),
    ...local.filter((c) => c.fits === false),
  ];
  return { dir, tuple, candidates: ordered, searched };
}

/** One line per candidate: `prebuilds/linux-x64/libtorch-1.13 (libtorch 1.13.1): <outcome>; <reason>`. */
export function describeCandidate(c: Candidate): string {
  const what = c.kind === 'prebuild' ? `${c.label} (${libtorchName(c.record)})` : `${c.label} (local build)`;
  return `${what}: ${c.outcome ? `${c.outcome}; ` : ''}${c.reason}`;
}

/** libtorch major.minor of a record ("1.13"), or '' when not recorded. */
export function majorMinor(r: LibtorchRecord | null): string {
  return r?.version ? String(r.version).split('.').slice(0, 2).join('.') : '';
}
