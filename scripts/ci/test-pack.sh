#!/usr/bin/env bash
# `npm run test:pack`: what a user installs works. Packs the package (with the prebuild for this
# platform), checks what the tarball holds, installs it into a brand-new project in a temp dir and
# checks there: CommonJS require, ESM import (namespace and named), `tsc --strict` on a consumer,
# `torch-napi doctor`, that it loads from the prebuild even when install scripts do not run
# (--ignore-scripts, npm 11's unapproved scripts), that the install script keeps the prebuild, and that
# a prebuild whose libtorch is missing fails with the explanation, not a bare dlopen message.
#   bash scripts/ci/test-pack.sh                       the above (~1 min; + ~1 min when the prebuild is rebuilt)
#   bash scripts/ci/test-pack.sh --build-from-source   also `npm install --build-from-source` (compiles, 2-3 min)
#   KEEP=1 bash scripts/ci/test-pack.sh                keep the temp dir
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
FROM_SOURCE=0
for arg in "$@"; do
  case "$arg" in
    --build-from-source) FROM_SOURCE=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "test-pack.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
tmp="$(mktemp -d /tmp/torch-napi-pack.XXXXXX)"
[ "${KEEP:-0}" = 1 ] && echo "temp dir: $tmp" || trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
say() { printf '== [%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
fail() { echo "test-pack: FAIL: $*" >&2; exit 1; }
# node-gyp (prebuildify, --build-from-source) uses the installed Node headers instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
tsc="$root/node_modules/.bin/tsc"
cd "$root"

tuple="$(node -p 'process.platform + "-" + process.arch')"
prebuild="$(ls prebuilds/"$tuple"/*.node 2>/dev/null | head -1 || true)"
# A prebuild older than the native sources would ship stale code: rebuild it.
if [ -z "$prebuild" ] || [ -n "$(find native binding.gyp install/find-libtorch.js -newer "$prebuild" -type f | head -1)" ]; then
  say "prebuild for $tuple missing or older than native/: scripts/prebuild.sh"
  lock=()
  if [ -e /tmp/tnapi-build.lock ] && command -v flock >/dev/null; then lock=(flock /tmp/tnapi-build.lock); fi
  "${lock[@]}" bash scripts/prebuild.sh > "$tmp/prebuild.log" 2>&1 || { tail -40 "$tmp/prebuild.log"; fail "scripts/prebuild.sh"; }
  prebuild="$(ls prebuilds/"$tuple"/*.node | head -1)"
fi
echo "  $prebuild ($(stat -c %s "$prebuild") bytes):"
readelf -d "$prebuild" | grep -E 'NEEDED.*(torch|c10)|RUNPATH|RPATH' | sed 's/^ */  /'
node -e 'const i = require(process.argv[1]); console.log(`  built against libtorch ${i.version} (${i.source}, C++11 ABI ${i.abi}), needs glibc ${i.glibc}, GLIBCXX ${i.glibcxx}`)' \
  "$root/prebuilds/$tuple/libtorch.json"

say "npm pack (prepack compiles lib/ into dist/)"
npm pack --json --pack-destination "$tmp" > "$tmp/pack.json"
node - "$tmp/pack.json" "$tuple" <<'JS'
const fs = require('fs');
const [file, tuple] = process.argv.slice(2);
const [p] = JSON.parse(fs.readFileSync(file, 'utf8'));
const paths = p.files.map((f) => f.path);
const problems = [];
// Everything a user needs: JS + types, the prebuild and what it was built against, and what
// `npm install --build-from-source` compiles with (node-gyp: binding.gyp, native/, find-libtorch.js).
const required = ['package.json', 'README.md', 'LICENSE', 'dist/package-kind.json', 'dist/index.js', 'dist/index.d.ts', 'dist/native.js', 'bin/torch-napi.js', 'bin/doctor.js', 'bin/launch.js',
  'binding.gyp', 'install/find-libtorch.js', 'native/addon.cc', 'native/common.h', `prebuilds/${tuple}/libtorch.json`];
for (const r of required) if (!paths.includes(r)) problems.push(`missing ${r}`);
if (!paths.some((f) => f.startsWith(`prebuilds/${tuple}/`) && f.endsWith('.node'))) problems.push(`no prebuilds/${tuple}/*.node`);
// Anything else is a mistake: tests, fixtures, build trees, maps of sources not shipped, dev scripts.
const allowed = [/^(package\.json|README\.md|LICENSE|binding\.gyp)$/, /^dist\/.+\.(js|d\.ts)$/, /^dist\/package-kind\.json$/, /^native\/[\w-]+\.(cc|h)$/,
  /^install\/find-libtorch\.js$/, /^bin\/torch-napi\.js$/, /^prebuilds\/[\w-]+\/[\w.-]+\.(node|json)$/];
for (const f of paths) if (!allowed.some((re) => re.test(f))) problems.push(`unexpected ${f}`);
// dist/ is compiled in place, so a file whose source is gone would linger there: every shipped .js needs a lib/ source.
for (const f of paths.filter((f) => /^dist\/.+\.js$/.test(f))) {
  if (!fs.existsSync(f.replace(/^dist\//, 'lib/').replace(/\.js$/, '.ts'))) problems.push(`stale ${f} (no lib/ source)`);
}
console.log(`  ${p.filename}: ${p.entryCount} files, ${(p.size / 1048576).toFixed(2)} MiB packed, ` +
  `${(p.unpackedSize / 1048576).toFixed(2)} MiB unpacked`);
if (problems.length) { console.error('tarball contents:\n  ' + problems.join('\n  ')); process.exit(1); }
JS
tarball="$tmp/$(node -p "require('$tmp/pack.json')[0].filename")"
# prepack marks the tarball as a package (dist/package-kind.json); postpack takes the mark off this checkout.
[ ! -e "$root/dist/package-kind.json" ] || fail "postpack left dist/package-kind.json in the checkout"

say "install the tarball into a new project with --ignore-scripts (as when npm does not run install scripts)"
app="$tmp/app"
mkdir -p "$app" && cd "$app"
npm init -y >/dev/null
npm install --ignore-scripts --no-package-lock "$tarball" >/dev/null
pkgdir="$app/node_modules/torch-napi"
[ ! -e "$pkgdir/build" ] || fail "an install without scripts has a build/ dir"

cat > cjs.js <<'JS'
const torch = require('torch-napi');
const addonFile = Object.keys(require.cache).find((f) => f.endsWith('.node')) || 'nothing';
if (!addonFile.includes('/prebuilds/')) throw new Error(`loaded ${addonFile}, not the prebuild`);
const x = torch.tensor([[1, 2], [3, 4]], { requiresGrad: true });
x.mul(x).sum().backward();
const g = Array.from(x.grad.data()).join(',');
if (g !== '2,4,6,8') throw new Error('grad ' + g);
console.log(`  CJS ok: ${require('path').relative(process.cwd(), addonFile)}, libtorch ${torch.libtorchVersion}, grad ${g}`);
JS
node cjs.js
[ ! -e "$pkgdir/build" ] || fail "loading created build/"

# Node's ESM imports the CommonJS dist/ with named exports found by cjs-module-lexer; every CJS export must be there.
cat > esm.mjs <<'JS'
import * as torch from 'torch-napi';
import { tensor, nn, optim, Tensor } from 'torch-napi';
import { createRequire } from 'module';
const cjs = createRequire(import.meta.url)('torch-napi');
const missing = Object.keys(cjs).filter((k) => !(k in torch));
if (missing.length) throw new Error('not importable by name from ESM: ' + missing.join(', '));
const y = new nn.Linear(3, 2).forward(tensor([[1, 2, 3]]));
if (!(y instanceof Tensor) || y.shape.join('x') !== '1x2') throw new Error('nn.Linear from ESM: ' + y.shape);
if (typeof optim.SGD !== 'function' || torch.tensor([1, 2]).add(1).data().join(',') !== '2,3') throw new Error('ESM');
console.log(`  ESM ok: ${Object.keys(cjs).length} named exports`);
JS
node esm.mjs

# The published types, as a strict consumer sees them, from CommonJS and from ESM (package.json "exports").
cat > consumer.ts <<'TS'
import * as torch from 'torch-napi';
import { tensor, Tensor, nn, optim } from 'torch-napi';
const fc1 = new nn.Linear(4, 8);
const fc2 = new nn.Linear(8, 1);
const opt = new optim.SGD([...fc1.parameters(), ...fc2.parameters()], { lr: 0.1 });
const x: Tensor = torch.randn(16, 4);
const loss: Tensor = fc2.forward(fc1.forward(x).relu()).sub(tensor(1)).pow(2).mean();
loss.backward();
opt.step();
const v: number | boolean = loss.item();
const dt: torch.DType = torch.float32;
// @ts-expect-error: a tensor is not a number
const bad: number = torch.zeros(2);
export { v, dt, bad };
TS
cp consumer.ts consumer.mts
# The types use Buffer, util and Symbol.dispose: a consumer has @types/node (here: the project's own copy).
cat > tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "noEmit": true, "module": "nodenext", "moduleResolution": "nodenext",
    "target": "es2022", "types": ["node"], "typeRoots": ["$root/node_modules/@types"], "skipLibCheck": false },
  "files": ["consumer.ts", "consumer.mts"] }
JSON
"$tsc" -p tsconfig.json || fail "tsc --strict on a consumer of the published types"
echo "  types ok: tsc --strict --noEmit (CJS consumer.ts + ESM consumer.mts)"

npx --no-install torch-napi doctor > doctor.txt || { cat doctor.txt; fail "torch-napi doctor"; }
grep -q '(prebuild)' doctor.txt || { cat doctor.txt; fail "doctor does not report the prebuild"; }
echo "  doctor: $(grep '^verdict' doctor.txt)"

say "npm rebuild torch-napi (the install script): loads the prebuild, compiles nothing"
npm rebuild torch-napi >/dev/null
[ ! -e "$pkgdir/build" ] || fail "the install script compiled although the prebuild loads"
node cjs.js

say "a prebuild whose libtorch is missing fails with the explanation"
# Rename the libtorch it needs (same length, so the ELF stays valid): what a machine without that libtorch sees.
node -e '
const fs = require("fs"); const f = process.argv[1]; const b = fs.readFileSync(f);
let n = 0; for (let i = b.indexOf("libtorch"); i >= 0; i = b.indexOf("libtorch", i + 1)) { b.write("libtorcX", i); n++; }
if (!n) throw new Error("no libtorch name in " + f); fs.writeFileSync(f, b);' "$pkgdir/$(cd "$pkgdir" && ls prebuilds/"$tuple"/*.node)"
if node -e "require('torch-napi')" 2> err.txt; then fail "a prebuild without its libtorch loaded"; fi
for want in 'could not load the native addon' 'libtorcX' '(prebuild)' 'built against: libtorch' 'fix: this prebuild needs libtorch' \
  'npm rebuild torch-napi --build-from-source'; do
  grep -qF -- "$want" err.txt || { cat err.txt; fail "the load error does not say: $want"; }
done
sed 's/^/  | /' err.txt | head -8
if npx --no-install torch-napi doctor > doctor.txt; then fail "doctor exits 0 when the addon does not load"; fi
grep -q '^verdict: NOT WORKING — .*fix: this prebuild needs' doctor.txt || { cat doctor.txt; fail "doctor's verdict"; }
echo "  doctor: $(grep '^verdict' doctor.txt | cut -c1-150)..."

if [ "$FROM_SOURCE" = 1 ]; then
  say "npm install --build-from-source (node-gyp against the libtorch find-libtorch.js finds)"
  src="$tmp/src" && mkdir -p "$src" && cd "$src" && npm init -y >/dev/null
  export JOBS="${JOBS:-2}"
  lock=()
  if [ -e /tmp/tnapi-build.lock ] && command -v flock >/dev/null; then lock=(flock /tmp/tnapi-build.lock); fi
  "${lock[@]}" npm install --build-from-source --no-package-lock --foreground-scripts "$tarball" > build.log 2>&1 ||
    { tail -30 build.log; fail "npm install --build-from-source"; }
  grep -E '^(> node-gyp-build|gyp info ok)' build.log | sed 's/^/  /' 
  [ -f node_modules/torch-napi/build/Release/torch_napi.node ] || fail "--build-from-source built no build/Release/torch_napi.node"
  cp "$app/cjs.js" . && sed -i "s#/prebuilds/#/build/Release/#; s#not the prebuild#not the local build#" cjs.js && node cjs.js
  npx --no-install torch-napi doctor | grep -E '^(addon|verdict)' | sed 's/^/  /'
fi
say "test:pack OK"
