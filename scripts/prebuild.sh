#!/usr/bin/env bash
# Builds the prebuilt addons that `npm pack` ships, one per supported libtorch ABI:
#   prebuilds/<platform>-<arch>/libtorch-<major.minor>/torch-napi.node + libtorch.json
# `prebuildify --napi --strip` (node-gyp, binding.gyp) against the libtorch install/find-libtorch.js
# finds. The loader (lib/prebuilds.ts) picks, at load time, the one whose libtorch sonames are on the
# machine; the install script (node-gyp-build, with package.json's prebuild.test) compiles only when
# none fits.
#
# The build runs in a copy of the project, because build/ here belongs to cmake-js (`npm run build`)
# and node-gyp would replace it; only the new prebuild is copied back. Next to the .node it writes
# libtorch.json: the libtorch it was built against and what the binary needs at load time (the
# libtorch sonames, its runpath, the newest glibc/libstdc++ symbol versions), which the loader
# chooses by and the load error and `torch-napi doctor` print.
#   bash scripts/prebuild.sh               this machine's libtorch (Debian 12: 1.13)
#   bash scripts/prebuild.sh --libtorch2   also libtorch 2.x: builds in the Debian 13 chroot of
#                                          scripts/ci/test-libtorch2.sh (as root; ~10 min from scratch)
#   bash scripts/prebuild.sh --libtorch2-only
# The chroot build runs in <root>/work/<this dir's name>-prebuild (PREBUILD_CHROOT_DIR), keeps its
# node_modules there between runs, and takes /tmp/trixie.lock (flock) while it uses the chroot.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
HOST=1 CHROOT=0
for arg in "$@"; do
  case "$arg" in
    --libtorch2) CHROOT=1 ;;
    --libtorch2-only) CHROOT=1 HOST=0 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "prebuild.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
tuple="$(node -p 'process.platform + "-" + process.arch')"

# Runs this script inside the Debian 13 chroot (libtorch 2.x) and copies its prebuild out.
build_in_chroot() {
  local R="${TRIXIE_ROOT:-/var/cache/torch-napi/trixie-root}"
  local dir="${PREBUILD_CHROOT_DIR:-/work/$(basename "$root")-prebuild}"
  local lock=()
  command -v flock >/dev/null && lock=(flock /tmp/trixie.lock)
  [ -d "$R" ] || { echo "prebuild.sh: no chroot at $R: run scripts/ci/test-libtorch2.sh --prepare-only first" >&2; exit 1; }
  echo "prebuild: libtorch 2.x in the chroot $R, in $dir"
  mkdir -p "$R$dir"
  # The sources only (as copy_tree: git's files); node_modules there is kept, npm ci'd when the lock file changes.
  find "$R$dir" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
  (cd "$root" && git ls-files -z --cached --others --exclude-standard | grep -zv "^node_modules$" | tar --null --ignore-failed-read -T - -cf -) | tar -C "$R$dir" -xf -
  TRIXIE_PROJECT_DIR="$dir" "${lock[@]}" bash "$root/scripts/ci/test-libtorch2.sh" --shell -- \
    "cd $dir && { cmp -s package-lock.json node_modules/.prebuild-lock || { npm ci --ignore-scripts && cp package-lock.json node_modules/.prebuild-lock; }; } && bash scripts/prebuild.sh"
  local built
  built="$(cd "$R$dir/prebuilds/$tuple" && ls -d libtorch-*)"
  mkdir -p "$root/prebuilds/$tuple"
  rm -rf "$root/prebuilds/$tuple/$built"
  cp -r "$R$dir/prebuilds/$tuple/$built" "$root/prebuilds/$tuple/$built"
  echo "prebuild: prebuilds/$tuple/$built (from the chroot)"
}

if [ "$HOST" = 0 ]; then build_in_chroot; exit 0; fi

tmp="$(mktemp -d /tmp/torch-napi-prebuild.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
source "$root/scripts/copy-tree.sh"
copy_tree "$tmp"
rm -rf "$tmp/prebuilds"
# node-gyp needs Node's headers; use the installed ones rather than downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
export JOBS="${JOBS:-2}"   # node-gyp's make -j
# ccache (when installed): the copy's path is new each time, so hash paths relative to it.
if [ -z "${CXX:-}" ] && command -v ccache >/dev/null; then export CC="ccache gcc" CXX="ccache g++" CCACHE_BASEDIR="$tmp"; fi

cd "$tmp"
npx --no-install prebuildify --napi --strip

out="$tmp/prebuilds/$tuple"
addon="$(ls "$out"/*.node)"
node - "$addon" "$out/libtorch.json" <<'JS'
const { execFileSync } = require('child_process');
const fs = require('fs');
const [addon, dest] = process.argv.slice(2);
const found = require('./install/find-libtorch.js').find();
delete found.tried;
const dyn = execFileSync('readelf', ['-d', addon], { encoding: 'utf8' });
const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
const runpath = (dyn.match(/\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]+)\]/) || [])[1] || null;
// The newest symbol versions the binary asks of the C and C++ runtimes: the oldest glibc/libstdc++ it loads with.
const syms = execFileSync('readelf', ['-V', '-W', addon], { encoding: 'utf8' });
const newest = (prefix) => [...syms.matchAll(new RegExp(`Name: ${prefix}_([0-9.]+)`, 'g'))]
  .map((m) => m[1]).sort((a, b) => {
    const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) - (pb[i] || 0);
    return 0;
  }).pop() || null;
const info = {
  ...found,
  libtorchSonames: needed.filter((n) => /^lib(torch|c10)/.test(n)),
  needed,
  runpath,
  glibc: newest('GLIBC'),
  glibcxx: newest('GLIBCXX'),
  cxxabi: newest('CXXABI'),
  napiVersion: require('./package.json').binary.napi_versions[0],
  builtWith: { node: process.version, date: new Date().toISOString().slice(0, 10) },
};
fs.writeFileSync(dest, JSON.stringify(info, null, 2) + '\n');
JS

# One directory per libtorch major.minor (its ABI): prebuilds/<tuple>/libtorch-1.13/.
sub="libtorch-$(node -p 'require(process.argv[1]).version.split(".").slice(0, 2).join(".")' "$out/libtorch.json")"
dest="$root/prebuilds/$tuple/$sub"
mkdir -p "$root/prebuilds/$tuple"
# the flat layout of earlier versions (prebuilds/<tuple>/*.node) would be shipped too: remove it
rm -rf "$dest" "$root/prebuilds/$tuple"/*.node "$root/prebuilds/$tuple/libtorch.json"
mkdir -p "$dest"
cp "$out"/*.node "$out/libtorch.json" "$dest/"
echo "prebuild: $(cd "$root" && ls -l "prebuilds/$tuple/$sub"/*.node)"
readelf -d "$dest"/*.node | grep -E 'NEEDED|RPATH|RUNPATH'
# Debian's libtorch has versioned sonames (libtorch.so.1.13): the prebuild then loads only with that
# libtorch. A libtorch download or pip wheel has unversioned ones (libtorch.so): such a prebuild would
# try whatever libtorch.so the user has (RTLD_NOW in lib/native.ts turns an ABI mismatch into a load error).
node -e 'const i = require(process.argv[1]); if (i.libtorchSonames.some((n) => /\.so$/.test(n))) console.warn("prebuild: WARNING: unversioned libtorch sonames; this prebuild is not tied to libtorch " + i.version);' \
  "$dest/libtorch.json"
node -e 'const i = require(process.argv[1]); console.log(`built against libtorch ${i.version} (${i.source}, C++11 ABI ${i.abi}); needs ${i.libtorchSonames.join(" ")}, glibc ${i.glibc}, GLIBCXX ${i.glibcxx}`)' \
  "$dest/libtorch.json"
if [ "$CHROOT" = 1 ]; then build_in_chroot; fi
