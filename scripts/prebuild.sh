#!/usr/bin/env bash
# Builds the prebuilt addon that `npm pack` ships: `prebuildify --napi --strip` (node-gyp, binding.gyp)
# against the libtorch install/find-libtorch.js finds, into prebuilds/<platform>-<arch>/.
#
# The build runs in a copy of the project, because build/ here belongs to cmake-js (`npm run build`)
# and node-gyp would replace it; only prebuilds/ is copied back. Next to the .node it writes
# libtorch.json: the libtorch it was built against and what the binary needs at load time (the
# libtorch sonames, its runpath, the newest glibc/libstdc++ symbol versions), which the load error
# and `torch-napi doctor` print. `dist/` must be built first (`npm run build:ts`).
#   bash scripts/prebuild.sh          build, then print what the .node records (readelf -d)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d /tmp/torch-napi-prebuild.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
source "$root/scripts/copy-tree.sh"
copy_tree "$tmp"
rm -rf "$tmp/prebuilds"
# node-gyp needs Node's headers; use the installed ones rather than downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
export JOBS="${JOBS:-2}"   # node-gyp's make -j

cd "$tmp"
npx --no-install prebuildify --napi --strip

tuple="$(node -p 'process.platform + "-" + process.arch')"
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

rm -rf "$root/prebuilds/$tuple"
mkdir -p "$root/prebuilds"
cp -r "$out" "$root/prebuilds/$tuple"
echo "prebuild: $(cd "$root" && ls -l "prebuilds/$tuple"/*.node)"
readelf -d "$root/prebuilds/$tuple"/*.node | grep -E 'NEEDED|RPATH|RUNPATH'
# Debian's libtorch has versioned sonames (libtorch.so.1.13): the prebuild then loads only with that
# libtorch. A libtorch download or pip wheel has unversioned ones (libtorch.so): such a prebuild would
# try whatever libtorch.so the user has (RTLD_NOW in lib/native.ts turns an ABI mismatch into a load error).
node -e 'const i = require(process.argv[1]); if (i.libtorchSonames.some((n) => /\.so$/.test(n))) console.warn("prebuild: WARNING: unversioned libtorch sonames; this prebuild is not tied to libtorch " + i.version);' \
  "$root/prebuilds/$tuple/libtorch.json"
node -e 'const i = require(process.argv[1]); console.log(`built against libtorch ${i.version} (${i.source}, C++11 ABI ${i.abi}); needs ${i.libtorchSonames.join(" ")}, glibc ${i.glibc}, GLIBCXX ${i.glibcxx}`)' \
  "$root/prebuilds/$tuple/libtorch.json"
