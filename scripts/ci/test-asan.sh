#!/usr/bin/env bash
# Runs the mocha suite against an AddressSanitizer (+ LeakSanitizer) build of the native addon.
#   bash scripts/ci/test-asan.sh [mocha spec globs...]     (npm run test:asan; default: the whole suite)
# Env: JOBS (parallel compiles, default 2), ASAN_NO_LEAKS=1 (skip LeakSanitizer).
#
# The addon is compiled with clang++-14 -fsanitize=address into build-asan/ (build/ belongs to the
# normal build). libtorch and node are not instrumented. The tests run under build-asan/node, a
# copy of node whose first DT_NEEDED is clang's ASan runtime (patchelf): unlike LD_PRELOAD, this
# reaches the node children the tests spawn (process.execPath) but not their python3 and compiler
# children. They run in a copy of the project (build-asan/tree) whose build/Release/torch_napi.node
# is the ASan addon, so that the ordinary loader (node-gyp-build) picks it up unchanged.
# LeakSanitizer runs at the exit of the mocha process (scripts/ci/asan.supp: V8's own leaks); the
# summary at the end separates leaks in native/ from the rest. Takes ~5 min (+3 min to compile).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="$root/build-asan"
CXX=clang++-14

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
need=()
command -v "$CXX" >/dev/null 2>&1 || need+=(clang-14)
[ -f "$("$CXX" -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)" ] || need+=(libclang-rt-14-dev)
command -v patchelf >/dev/null 2>&1 || need+=(patchelf)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "test-asan.sh: install clang 14 and its ASan runtime (${need[*]}) first" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || [ -n "$SUDO" ] || { echo "test-asan.sh: need root (or sudo) to install ${need[*]}" >&2; exit 1; }
  echo "== apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; }
fi
runtime="$("$CXX" -print-file-name=libclang_rt.asan-x86_64.so)"
[ -f "$runtime" ] || { echo "test-asan.sh: no ASan runtime at $runtime (libclang-rt-14-dev)" >&2; exit 1; }

# ---- build (incremental: an object is rebuilt when its .cc or any native/*.h changed since its
# compile started; the object's mtime is set to that start) ----------------------------------------
mkdir -p "$out/obj" "$out/Release"
read -r -a inc <<<"$(node install/find-libtorch.js --include)"
read -r -a libs <<<"$(node install/find-libtorch.js --libs)"
libdir="$(node install/find-libtorch.js --libdir)"
defs=()
for d in $(node install/find-libtorch.js --defines); do defs+=("-D$d"); done
flags=(-std=gnu++17 -fPIC -g -O1 -fno-omit-frame-pointer -fsanitize=address
  -DNAPI_EXPERIMENTAL -DNAPI_VERSION=2147483647 -DNODE_ADDON_API_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
  -DBUILDING_NODE_EXTENSION "${defs[@]}"
  -I"$root/node_modules/node-api-headers/include" -I"$root/node_modules/node-addon-api"
  -Wall -Wno-unused-function -Wno-sign-compare -Wno-deprecated-declarations -fvisibility=hidden)
for i in "${inc[@]}"; do flags+=(-isystem "$i"); done
# Fallbacks for headers some libtorch packages lack (as CMakeLists.txt and binding.gyp add them).
flags+=(-idirafter "$root/native/compat")

stale=()
newest_h=$(stat -c %Y native/*.h | sort -n | tail -1)
for src in native/*.cc; do
  obj="$out/obj/$(basename "$src" .cc).o"
  if [ ! -f "$obj" ] || [ "$(stat -c %Y "$src")" -ge "$(stat -c %Y "$obj")" ] || [ "$newest_h" -ge "$(stat -c %Y "$obj")" ]; then
    stale+=("$src")
  fi
done
t0=$(date +%s)
if [ ${#stale[@]} -gt 0 ]; then
  echo "== compiling ${#stale[@]} file(s) with $CXX -fsanitize=address (waiting for /tmp/tnapi-build.lock)"
  printf '%s\n' "${flags[@]}" >"$out/flags.txt"
  # The lock: other builds of this tree share the machine; compile at low priority.
  export CXX out
  printf '%s\n' "${stale[@]}" | flock /tmp/tnapi-build.lock nice -n 10 xargs -P "${JOBS:-2}" -n 1 bash -c \
    'o="$out/obj/$(basename "$0" .cc).o"; s=$(date +%s); "$CXX" @"$out/flags.txt" -c "$0" -o "$o.tmp" && mv "$o.tmp" "$o" && touch -d "@$s" "$o" && echo "   $0"'
fi
objs=()
for src in native/*.cc; do objs+=("$out/obj/$(basename "$src" .cc).o"); done
nice -n 10 "$CXX" -shared -fsanitize=address -o "$out/Release/torch_napi.node" "${objs[@]}" \
  -L"$libdir" -Wl,-rpath,"$libdir" -Wl,--no-as-needed "${libs[@]}" -Wl,--as-needed
echo "== built $out/Release/torch_napi.node in $(( $(date +%s) - t0 )) s"
realnode="$(readlink -f "$(command -v node)")"
if [ ! -x "$out/node" ] || [ "$realnode" -nt "$out/node" ]; then
  cp "$realnode" "$out/node.tmp"
  patchelf --add-needed "$runtime" "$out/node.tmp"
  mv "$out/node.tmp" "$out/node"
fi

# ---- a copy of the project that loads the ASan addon ------------------------------------------
npx --no-install tsc -p tsconfig.test.json || echo '== tsc reported type errors (the JS was emitted; running it anyway)'
tree="$out/tree"
rm -rf "$tree"
mkdir -p "$tree/build/Release"
# Copies, not links: node resolves a linked file to its real path, whose ../dist would load the
# normal addon.
cp package.json .mocharc.json "$tree/"
for d in dist-test dist bin install scripts test examples; do [ -d "$d" ] && cp -r "$d" "$tree/$d"; done
ln -s "$root/node_modules" "$tree/node_modules"
cp "$out/Release/torch_napi.node" "$tree/build/Release/torch_napi.node"

# ---- run -----------------------------------------------------------------------------------------
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=('dist-test/test/**/*.test.js')
log="$out/asan"
rm -f "$log".*
opts="detect_leaks=$([ "${ASAN_NO_LEAKS:-0}" = 1 ] && echo 0 || echo 1):log_path=$log:abort_on_error=0"
opts="$opts:detect_stack_use_after_return=0:allow_user_segv_handler=1:handle_segv=1"
# Node and libtorch (not instrumented) pass std::containers across the boundary.
opts="$opts:detect_container_overflow=0:alloc_dealloc_mismatch=0"
# A failed huge allocation returns null as it does without ASan (libtorch then throws bad_alloc).
opts="$opts:allocator_may_return_null=1"
# Leaks alone do not change a process's exit status (the tests check their children's status);
# they are read from the reports below. Memory errors still exit with status 1.
lsan="suppressions=$root/scripts/ci/asan.supp:print_suppressions=0:exitcode=0"
# LeakSanitizer checks the mocha process only. In the children the tests spawn (writers killed
# mid-save, fuzz and crash-test scripts), memory errors are still caught, but a leak check at
# process.exit() costs about 45 s of scanning here (a natural exit: 2 s), past their timeouts.
cat >"$out/children-no-leaks.js" <<'JS'
process.env.ASAN_OPTIONS = (process.env.ASAN_OPTIONS || '').replace('detect_leaks=1', 'detect_leaks=0');
JS
cd "$tree"
echo "== mocha under ASan: ${specs[*]}"
t1=$(date +%s)
set +e
# the addon must be the one loaded: checked before the suite
ASAN_OPTIONS="$opts" LSAN_OPTIONS="$lsan" TORCH_NAPI_ASAN=1 \
  "$out/node" -e "
    require('./dist-test/lib');
    const f = Object.keys(require.cache).find((x) => x.endsWith('.node'));
    if (!f || !f.startsWith('$tree/')) { console.error('loaded the wrong addon: ' + f); process.exit(1); }
  "
check=$?
rc=1
if [ $check = 0 ]; then
  ASAN_OPTIONS="$opts" LSAN_OPTIONS="$lsan" TORCH_NAPI_ASAN=1 \
    "$out/node" "$root/node_modules/mocha/bin/mocha.js" --require "$out/children-no-leaks.js" --reporter dot "${specs[@]}"
  rc=$?
fi
set -e
echo "== mocha exit status $rc after $(( $(date +%s) - t1 )) s"
# ASan writes one report per process (node, and the children some tests spawn) to $log.<pid>.
# Memory errors anywhere fail the run. Leaks: LeakSanitizer cannot see pointers held by JS objects
# that are still alive at exit (node frees neither them nor the isolate), so it reports those as
# leaks too. A direct leak counts as ours when a frame of its allocation stack is in native/; the
# handles of tensors JS still referenced at exit (allocated in tnapi::Wrap) are listed apart:
# the suite checks with torch.memory() that collected and disposed tensors are freed.
node - "$log" <<'JS'
const fs = require('fs');
const path = require('path');
const base = process.argv[2];
const files = fs.readdirSync(path.dirname(base)).filter((f) => f.startsWith(path.basename(base) + '.')).map((f) => path.join(path.dirname(base), f));
let errors = 0, ours = 0, atExit = 0, others = 0;
const oursOut = [], atExitSites = new Map();
for (const f of files) {
  const text = fs.readFileSync(f, 'utf8');
  for (const m of text.matchAll(/^==\d+==ERROR: AddressSanitizer: [\s\S]*?(?=^SUMMARY|(?![\s\S]))/gm)) {
    errors++;
    console.log(`--- ${f}\n${m[0]}`);
  }
  for (const block of text.split(/\n(?=Direct leak|Indirect leak)/)) {
    if (!block.startsWith('Direct leak')) continue;
    const frames = block.split('\n').filter((l) => /^\s+#\d+/.test(l));
    if (!frames.some((l) => l.includes('/native/') || l.includes('torch_napi.node'))) { others++; continue; }
    if (frames.some((l) => / in tnapi::Wrap\(/.test(l))) {
      atExit++;
      const site = (frames.find((l) => l.includes('/native/') && !/tnapi::Wrap\(/.test(l)) || '?').replace(/^.* in /, '').replace(/\(Napi::CallbackInfo const&\)::\$_\d+::operator\(\)\(\) const/, '');
      atExitSites.set(site, (atExitSites.get(site) || 0) + 1);
      continue;
    }
    ours++;
    oursOut.push(`--- ${f}\n${block.trim()}`);
  }
}
console.log(`== ${files.length} sanitizer report file(s): ${errors} memory error(s); direct leaks: ${ours} in our code, ` +
  `${atExit} tensor handles alive at exit, ${others} elsewhere (node, V8, libtorch, child tools)`);
if (oursOut.length) console.log(oursOut.join('\n'));
if (process.env.ASAN_VERBOSE === '1')
  for (const [site, n] of [...atExitSites].sort((a, b) => b[1] - a[1])) console.log(`   alive at exit: ${n} x ${site}`);
process.exit(errors || ours ? 1 : 0);
JS
[ $? = 0 ] || exit 1
exit $rc
