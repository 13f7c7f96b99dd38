#!/usr/bin/env bash
# `npm run test:pack`: what a user installs works, on Debian 12 (libtorch 1.13, this machine) and
# Debian 13 (libtorch 2.6, the chroot of scripts/ci/test-libtorch2.sh), without compiling anything.
# Makes sure both prebuilds are there and newer than native/ (else builds them: scripts/prebuild.sh),
# packs the package, checks what the tarball holds, prints its size, runs `npm publish --dry-run`
# (nothing is sent), then runs scripts/ci/pack-consumer.sh on the host and in the chroot: new
# projects that install the tarball with --ignore-scripts and with scripts, check that no compiler
# ran, and check CommonJS require, ESM import, `tsc --strict` on a consumer, `torch-napi doctor`
# (which prebuild and why), a computation, and the load error of a prebuild whose libtorch is missing.
#   bash scripts/ci/test-pack.sh                       the above (~2 min; + a prebuild build when one is stale)
#   bash scripts/ci/test-pack.sh --host-only           no chroot: the tarball holds only this machine's prebuild
#   bash scripts/ci/test-pack.sh --build-from-source   also `npm install --build-from-source` on the host (2-3 min)
#   KEEP=1 bash scripts/ci/test-pack.sh                keep the temp dir
# The chroot part runs as root, in <root>/work/<this dir's name>-prebuild/pack-test (PREBUILD_CHROOT_DIR,
# as scripts/prebuild.sh), under flock /tmp/trixie.lock.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
FROM_SOURCE=0 CHROOT=1
for arg in "$@"; do
  case "$arg" in
    --build-from-source) FROM_SOURCE=1 ;;
    --host-only) CHROOT=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "test-pack.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
tmp="$(mktemp -d /tmp/torch-napi-pack.XXXXXX)"
[ "${KEEP:-0}" = 1 ] && echo "temp dir: $tmp" || trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
say() { printf '== [%ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
fail() { echo "test-pack: FAIL: $*" >&2; exit 1; }
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
cd "$root"

tuple="$(node -p 'process.platform + "-" + process.arch')"
host_mm="$(node install/find-libtorch.js --version | cut -d. -f1,2)"
# A prebuild older than the native sources would ship stale code: rebuild it.
stale() { [ ! -f "$1" ] || [ -n "$(find native binding.gyp install/find-libtorch.js -newer "$1" -type f | head -1)" ]; }
host_pb="prebuilds/$tuple/libtorch-$host_mm/torch-napi.node"
if stale "$host_pb"; then
  say "prebuild for libtorch $host_mm missing or older than native/: scripts/prebuild.sh"
  lock=()
  if [ -e /tmp/tnapi-build.lock ] && command -v flock >/dev/null; then lock=(flock /tmp/tnapi-build.lock); fi
  "${lock[@]}" bash scripts/prebuild.sh > "$tmp/prebuild.log" 2>&1 || { tail -40 "$tmp/prebuild.log"; fail "scripts/prebuild.sh"; }
fi
if [ "$CHROOT" = 1 ]; then
  lt2_pb="$(ls prebuilds/"$tuple"/libtorch-2.*/torch-napi.node 2>/dev/null | head -1 || true)"
  if [ -z "$lt2_pb" ] || stale "$lt2_pb"; then
    say "prebuild for libtorch 2.x missing or older than native/: scripts/prebuild.sh --libtorch2-only (the chroot)"
    bash scripts/prebuild.sh --libtorch2-only > "$tmp/prebuild2.log" 2>&1 || { tail -40 "$tmp/prebuild2.log"; fail "scripts/prebuild.sh --libtorch2-only"; }
  fi
fi
for f in prebuilds/"$tuple"/libtorch-*/torch-napi.node; do
  echo "  $f ($(stat -c %s "$f") bytes): $(node -e 'const i = require(process.argv[1]); console.log(`libtorch ${i.version} (${i.source}, C++11 ABI ${i.abi}), needs ${i.libtorchSonames.join(" ")}, glibc ${i.glibc}, GLIBCXX ${i.glibcxx}`)' "$root/$(dirname "$f")/libtorch.json")"
done

say "npm pack (prepack compiles lib/ into dist/)"
npm pack --json --pack-destination "$tmp" > "$tmp/pack.json"
node - "$tmp/pack.json" "$tuple" "$host_mm" "$CHROOT" <<'JS'
const fs = require('fs');
const [file, tuple, hostMm, chroot] = process.argv.slice(2);
const [p] = JSON.parse(fs.readFileSync(file, 'utf8'));
const paths = p.files.map((f) => f.path);
const problems = [];
// Everything a user needs: JS + types, the prebuild and what it was built against, and what
// `npm install --build-from-source` compiles with (node-gyp: binding.gyp, native/, find-libtorch.js).
const required = ['package.json', 'README.md', 'LICENSE', 'dist/package-kind.json', 'dist/index.js', 'dist/index.d.ts', 'dist/native.js', 'bin/torch-napi.js', 'bin/doctor.js', 'bin/launch.js',
  'binding.gyp', 'install/find-libtorch.js', 'install/check-prebuild.js', 'native/addon.cc', 'native/common.h',
  `prebuilds/${tuple}/libtorch-${hostMm}/torch-napi.node`, `prebuilds/${tuple}/libtorch-${hostMm}/libtorch.json`];
for (const r of required) if (!paths.includes(r)) problems.push(`missing ${r}`);
// One directory per libtorch, each with its addon and its record; libtorch 2.x too unless --host-only.
const dirs = [...new Set(paths.filter((f) => f.startsWith('prebuilds/')).map((f) => f.split('/').slice(0, 3).join('/')))];
for (const d of dirs) for (const f of ['torch-napi.node', 'libtorch.json']) if (!paths.includes(`${d}/${f}`)) problems.push(`missing ${d}/${f}`);
if (chroot === '1' && !dirs.some((d) => /\/libtorch-2\.\d+$/.test(d))) problems.push(`no prebuilds/${tuple}/libtorch-2.x/`);
// Anything else is a mistake: tests, fixtures, build trees, maps of sources not shipped, dev scripts.
const allowed = [/^(package\.json|README\.md|LICENSE|binding\.gyp)$/, /^dist\/.+\.(js|d\.ts)$/, /^dist\/package-kind\.json$/, /^native\/[\w-]+\.(cc|h)$/,
  /^install\/(find-libtorch|check-prebuild)\.js$/, /^bin\/[\w-]+\.js$/, /^prebuilds\/[\w-]+\/libtorch-\d+\.\d+\/(torch-napi\.node|libtorch\.json)$/];
for (const f of paths) if (!allowed.some((re) => re.test(f))) problems.push(`unexpected ${f}`);
// dist/ is compiled in place, so a file whose source is gone would linger there: every shipped .js needs a lib/ source.
for (const f of paths.filter((f) => /^dist\/.+\.js$/.test(f))) {
  if (!fs.existsSync(f.replace(/^dist\//, 'lib/').replace(/\.js$/, '.ts'))) problems.push(`stale ${f} (no lib/ source)`);
}
console.log(`  ${p.filename}: ${p.entryCount} files, ${(p.size / 1048576).toFixed(2)} MiB packed, ` +
  `${(p.unpackedSize / 1048576).toFixed(2)} MiB unpacked; prebuilds: ${dirs.map((d) => d.split('/').pop()).join(', ')}`);
if (problems.length) { console.error('tarball contents:\n  ' + problems.join('\n  ')); process.exit(1); }
JS
tarball="$tmp/$(node -p "require('$tmp/pack.json')[0].filename")"
# prepack marks the tarball as a package (dist/package-kind.json); postpack takes the mark off this checkout.
[ ! -e "$root/dist/package-kind.json" ] || fail "postpack left dist/package-kind.json in the checkout"

say "npm publish --dry-run (checks the tarball as the registry would take it; sends nothing)"
npm publish --dry-run --ignore-scripts "$tarball" > "$tmp/publish.log" 2>&1 || { cat "$tmp/publish.log"; fail "npm publish --dry-run"; }
grep -E 'package size|unpacked size|total files|\+ torch-napi@' "$tmp/publish.log" | sed 's/^npm notice /  /'

say "consumer checks on this machine (libtorch $host_mm)"
args=()
[ "$FROM_SOURCE" = 1 ] && args=(--build-from-source)
bash scripts/ci/pack-consumer.sh "$tarball" "$tmp/host" "$root/node_modules" "${args[@]}"

if [ "$CHROOT" = 1 ]; then
  R="${TRIXIE_ROOT:-/var/cache/torch-napi/trixie-root}"
  dir="${PREBUILD_CHROOT_DIR:-/work/$(basename "$root")-prebuild}"
  say "consumer checks in the Debian 13 chroot (libtorch 2.x): $R$dir/pack-test"
  rm -rf "$R$dir/pack-test" && mkdir -p "$R$dir/pack-test"
  cp "$tarball" scripts/ci/pack-consumer.sh "$R$dir/pack-test/"
  # typescript and @types/node for the consumer's tsc: the project's devDependencies there (kept between runs)
  cp package.json package-lock.json "$R$dir/"
  lock=()
  command -v flock >/dev/null && lock=(flock /tmp/trixie.lock)
  TRIXIE_PROJECT_DIR="$dir" "${lock[@]}" bash scripts/ci/test-libtorch2.sh --shell -- \
    "cd $dir && { cmp -s package-lock.json node_modules/.prebuild-lock || { npm ci --ignore-scripts >/dev/null && cp package-lock.json node_modules/.prebuild-lock; }; } && bash pack-test/pack-consumer.sh $dir/pack-test/$(basename "$tarball") $dir/pack-test $dir/node_modules" \
    > "$tmp/chroot.log" 2>&1 || { cat "$tmp/chroot.log"; fail "consumer checks in the chroot"; }
  sed -n '/^== \[/,$p' "$tmp/chroot.log"
fi
say "test:pack OK"
