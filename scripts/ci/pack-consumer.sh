#!/usr/bin/env bash
# The consumer checks of `npm run test:pack` (scripts/ci/test-pack.sh), on one machine: the host
# (libtorch 1.13) or the Debian 13 chroot (libtorch 2.6), which test-pack.sh runs this script in.
#   bash scripts/ci/pack-consumer.sh TARBALL WORKDIR TYPES_DIR [--build-from-source]
# TYPES_DIR: a node_modules with typescript and @types/node (the project's). In WORKDIR it makes new
# projects that install TARBALL and check, each without compiling (no build/, no node-gyp in the log):
#   1. `npm install --ignore-scripts`: CommonJS require (loads a prebuild, computes, autograd), ESM
#      import (every CJS export by name), `tsc --strict` on a CJS and an ESM consumer, `torch-napi doctor`
#      (reports the prebuild it chose); `npm rebuild torch-napi` (the install script) compiles nothing.
#   2. `npm install` with scripts (--foreground-scripts, log kept): the install script's test
#      (install/check-prebuild.js) finds a prebuild that loads, so node-gyp never runs.
#   3. a prebuild whose libtorch is missing fails with the explanation, not a bare dlopen message.
#   4. with --build-from-source: `npm install --build-from-source` compiles and loads build/Release.
set -euo pipefail
tarball="$1" work="$2" types="$3"
FROM_SOURCE=0
[ "${4:-}" = --build-from-source ] && FROM_SOURCE=1
start=$(date +%s)
say() { printf '== [%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
fail() { echo "pack-consumer: FAIL: $*" >&2; exit 1; }
# node-gyp (--build-from-source) uses the installed Node headers instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
libtorch="libtorch $(ls /usr/lib/*/libtorch_cpu.so.* 2>/dev/null | sed -n 's/.*libtorch_cpu\.so\.\([0-9]*\.[0-9]*\)$/\1/p' | tail -1)"

say "[$libtorch] npm install --ignore-scripts (as when npm does not run install scripts)"
app="$work/app"
rm -rf "$app" && mkdir -p "$app" && cd "$app"
npm init -y >/dev/null
npm install --ignore-scripts --no-package-lock "$tarball" >/dev/null
pkgdir="$app/node_modules/torch-napi"
[ ! -e "$pkgdir/build" ] || fail "an install without scripts has a build/ dir"

cat > cjs.js <<'JS'
const torch = require('torch-napi');
const addonFile = Object.keys(require.cache).find((f) => f.endsWith('.node')) || 'nothing';
const want = process.argv[2] || '/prebuilds/';
if (!addonFile.includes(want)) throw new Error(`loaded ${addonFile}, not ${want}`);
const x = torch.tensor([[1, 2], [3, 4]], { requiresGrad: true });
x.mul(x).sum().backward();
const g = Array.from(x.grad.data()).join(',');
if (g !== '2,4,6,8') throw new Error('grad ' + g);
const y = torch.arange(6, { dtype: torch.float32 }).reshape([2, 3]).matmul(torch.ones([3, 1])).data().join(',');
if (y !== '3,12') throw new Error('matmul ' + y);
console.log(`  CJS ok: ${require('path').relative(process.cwd(), addonFile)}, libtorch ${torch.libtorchVersion}, grad ${g}, matmul ${y}`);
JS
node cjs.js | tee cjs.txt
[ ! -e "$pkgdir/build" ] || fail "loading created build/"
chosen="$(sed -n 's#.*CJS ok: node_modules/torch-napi/\([^,]*\.node\),.*#\1#p' cjs.txt)"

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
    "target": "es2022", "types": ["node"], "typeRoots": ["$types/@types"], "skipLibCheck": false },
  "files": ["consumer.ts", "consumer.mts"] }
JSON
node "$types/typescript/bin/tsc" -p tsconfig.json || fail "tsc --strict on a consumer of the published types"
echo "  types ok: tsc --strict --noEmit (CJS consumer.ts + ESM consumer.mts)"

npx --no-install torch-napi doctor > doctor.txt || { cat doctor.txt; fail "torch-napi doctor"; }
grep -q '(prebuild)' doctor.txt || { cat doctor.txt; fail "doctor does not report the prebuild"; }
grep -q '^chosen because *its libtorch' doctor.txt || { cat doctor.txt; fail "doctor does not say why it chose the prebuild"; }
grep -E '^(addon|chosen because|not chosen|verdict)' doctor.txt | cut -c1-180 | sed 's/^/  doctor: /'

say "[$libtorch] npm rebuild torch-napi (the install script): loads the prebuild, compiles nothing"
npm rebuild torch-napi --foreground-scripts > rebuild.log 2>&1 || { cat rebuild.log; fail "npm rebuild"; }
[ ! -e "$pkgdir/build" ] || fail "the install script compiled although the prebuild loads"
! grep -qE 'gyp (info|ERR)|CXX\(target\)' rebuild.log || { cat rebuild.log; fail "npm rebuild ran node-gyp"; }
node cjs.js

say "[$libtorch] npm install with scripts: the install script finds the prebuild and compiles nothing"
app2="$work/app-scripts"
rm -rf "$app2" && mkdir -p "$app2" && cd "$app2"
npm init -y >/dev/null
npm install --foreground-scripts --no-package-lock "$tarball" > install.log 2>&1 || { cat install.log; fail "npm install"; }
grep -q 'node-gyp-build' install.log || { cat install.log; fail "the install script did not run"; }
! grep -qE 'gyp (info|ERR)|CXX\(target\)|g\+\+' install.log || { cat install.log; fail "the install compiled"; }
[ ! -e node_modules/torch-napi/build ] || fail "npm install created build/ although a prebuild loads"
grep -E '^> |^torch-napi:' install.log | sed 's/^/  log: /'
cp "$app/cjs.js" . && node cjs.js

say "[$libtorch] a prebuild whose libtorch is missing fails with the explanation"
cd "$app"
# Rename the libtorch it needs (same length, so the ELF stays valid): what a machine without that libtorch sees.
node -e '
const fs = require("fs"); const f = process.argv[1]; const b = fs.readFileSync(f);
let n = 0; for (let i = b.indexOf("libtorch"); i >= 0; i = b.indexOf("libtorch", i + 1)) { b.write("libtorcX", i); n++; }
if (!n) throw new Error("no libtorch name in " + f); fs.writeFileSync(f, b);' "$pkgdir/$chosen"
if node -e "require('torch-napi')" 2> err.txt; then fail "a prebuild without its libtorch loaded"; fi
for want in 'could not load the native addon' 'libtorcX' '(prebuild)' 'built against: libtorch' 'addons, in the order tried:' \
  'npm rebuild torch-napi --build-from-source'; do
  grep -qF -- "$want" err.txt || { cat err.txt; fail "the load error does not say: $want"; }
done
grep -qE 'fix: (this prebuild needs|these prebuilds need) libtorch' err.txt || { cat err.txt; fail "the load error's fix"; }
head -12 err.txt | cut -c1-200 | sed 's/^/  | /'
if npx --no-install torch-napi doctor > doctor.txt; then fail "doctor exits 0 when the addon does not load"; fi
grep -qE '^verdict: NOT WORKING — .*fix: (this prebuild needs|these prebuilds need)' doctor.txt || { cat doctor.txt; fail "doctor's verdict"; }
echo "  doctor: $(grep '^verdict' doctor.txt | cut -c1-150)..."

if [ "$FROM_SOURCE" = 1 ]; then
  say "[$libtorch] npm install --build-from-source (node-gyp against the libtorch find-libtorch.js finds)"
  src="$work/src" && rm -rf "$src" && mkdir -p "$src" && cd "$src" && npm init -y >/dev/null
  export JOBS="${JOBS:-2}"
  lock=()
  if [ -e /tmp/tnapi-build.lock ] && command -v flock >/dev/null; then lock=(flock /tmp/tnapi-build.lock); fi
  "${lock[@]}" npm install --build-from-source --no-package-lock --foreground-scripts "$tarball" > build.log 2>&1 ||
    { tail -30 build.log; fail "npm install --build-from-source"; }
  grep -E '^(> node-gyp-build|gyp info ok)' build.log | sed 's/^/  /'
  [ -f node_modules/torch-napi/build/Release/torch_napi.node ] || fail "--build-from-source built no build/Release/torch_napi.node"
  cp "$app/cjs.js" . && node cjs.js /build/Release/
  npx --no-install torch-napi doctor | grep -E '^(addon|chosen because|verdict)' | sed 's/^/  /'
fi
say "[$libtorch] consumer checks OK"
