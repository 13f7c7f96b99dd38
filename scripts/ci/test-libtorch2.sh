#!/usr/bin/env bash
# Builds and tests torch-napi against libtorch 2.x (Debian 13 "trixie": libtorch 2.6, Node 20)
# inside a chroot, on a Debian/Ubuntu host with any libtorch (or none) installed.
#
#   sudo bash scripts/ci/test-libtorch2.sh                 # prepare (or reuse) the root, npm ci, build, test
#   sudo bash scripts/ci/test-libtorch2.sh --prepare-only  # only create/refresh the root (steps 1-3)
#   sudo bash scripts/ci/test-libtorch2.sh --shell         # interactive shell in the prepared root
#   sudo bash scripts/ci/test-libtorch2.sh --shell -- CMD  # run CMD (bash -c) in the prepared root
#   sudo bash scripts/ci/test-libtorch2.sh --fresh         # delete the root first and build it again
#   sudo bash scripts/ci/test-libtorch2.sh --prebuild      # build the libtorch 2.x prebuild (scripts/prebuild.sh,
#                                                          # node-gyp) instead of cmake-js, test with it, and copy
#                                                          # it to this checkout's prebuilds/ (CI: one build, which
#                                                          # `npm run test:pack` then ships and tests)
#
# Steps:
#   1. debootstrap --variant=minbase trixie into $TRIXIE_ROOT (default /var/cache/torch-napi/trixie-root),
#      reused on later runs; a stamp file inside the root marks it complete, and a root without the
#      stamp (an interrupted run) is deleted and made again.
#   2. apt-get install --no-install-recommends libtorch-dev libgloo-dev python3-torch python3-safetensors
#      libopenblas0-pthread nodejs npm g++ cmake make python3 ca-certificates (redone when that list changes).
#   3. mounts /proc, /sys, /dev, /dev/pts into the root (always unmounted again on exit) and copies
#      /etc/resolv.conf in.
#   4. copies this checkout (tracked + untracked-but-not-ignored files) to <root>/work/torch-napi.
#   5. inside: npm ci --ignore-scripts, npm run build, doctor, npm test; exits with npm test's exit code.
#      With --prebuild: npm run build:ts + scripts/prebuild.sh instead of npm run build (the tests then load
#      the prebuild), and prebuilds/<platform>-<arch>/libtorch-2.x/ is copied back to the checkout.
#
# Nothing is cached outside the root: from nothing, a run takes about 3-4 minutes (debootstrap
# 0.5-1.5 min, packages 1-2 min, npm ci + build + test ~1 min); with the root reused, about 1 min.
# Environment: TRIXIE_ROOT (the root), TRIXIE_MIRROR (default http://deb.debian.org/debian),
# TRIXIE_PROJECT_DIR (the copy inside the root, default /work/torch-napi).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
ROOT="${TRIXIE_ROOT:-/var/cache/torch-napi/trixie-root}"
MIRROR="${TRIXIE_MIRROR:-http://deb.debian.org/debian}"
SUITE=trixie
PROJECT_DIR="${TRIXIE_PROJECT_DIR:-/work/torch-napi}"   # inside the root
# libopenblas0-pthread: libtorch only Depends on libblas3 | libblas.so.3, and without Recommends apt
# picks netlib's reference BLAS (very slow matmul); a normal install gets OpenBLAS, as Debian 12 does.
# python3-safetensors: the format's reference library, to read what we write and write what we read.
PACKAGES=(libtorch-dev libgloo-dev python3-torch python3-safetensors libopenblas0-pthread nodejs npm g++ cmake make python3 ca-certificates)
MIN_NODE=18.17.0

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

ORIG_ARGS=("$@")
MODE=test          # test | prepare | shell
FRESH=0
PREBUILD=0
SHELL_CMD=()
while [ $# -gt 0 ]; do
  case "$1" in
    --shell) MODE=shell ;;
    --prepare-only) MODE=prepare ;;
    --keep) FRESH=0 ;;                  # the default: reuse a complete root
    --fresh) FRESH=1 ;;
    --prebuild) PREBUILD=1 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; SHELL_CMD=("$@"); break ;;
    *)
      if [ "$MODE" = shell ]; then SHELL_CMD=("$@"); break; fi
      echo "test-libtorch2: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -ne 0 ]; then
  echo "test-libtorch2: this script must run as root (debootstrap, chroot and mount need it)." >&2
  echo "  try: sudo bash $0 ${ORIG_ARGS[*]}" >&2
  exit 2
fi

# ---------------------------------------------------------------------------------------------
T0=$SECONDS
STEP_T0=$SECONDS
section() {
  echo
  echo "=============================================================================="
  echo "== $*"
  echo "=============================================================================="
  STEP_T0=$SECONDS
}
took() { echo "-- ($1 took $((SECONDS - STEP_T0)) s)"; }

ROOT="$(realpath -m "$ROOT")"
case "$ROOT" in
  /|/usr|/usr/*|/etc|/etc/*|/bin|/sbin|/lib|/lib64|/boot|/dev|/dev/*|/proc|/proc/*|/sys|/sys/*|/home|/root)
    echo "test-libtorch2: refusing to use '$ROOT' as the chroot directory" >&2; exit 2 ;;
esac
STAMP="$ROOT/.torch-napi-root-complete"      # debootstrap finished
PKG_STAMP="$ROOT/.torch-napi-packages"        # the package list that was installed

# Every mount point at or under $1 (default: the root), from /proc/mounts.
mounts_under() {
  awk -v r="${1:-$ROOT}" '{ p = $2; gsub(/\\040/, " ", p); if (p == r || index(p, r "/") == 1) print p }' /proc/mounts
}

MOUNTED=()
unmount_all() {
  local i m
  # ours, in reverse order
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    m="${MOUNTED[$i]}"
    if mountpoint -q "$m" 2>/dev/null; then
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "warning: could not unmount $m" >&2
    fi
  done
  MOUNTED=()
  # and anything else left under the root (e.g. from a run that was killed with SIGKILL)
  while read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "warning: could not unmount $m" >&2
  done < <(mounts_under "$ROOT" | sort -r)
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  unmount_all
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# rm -rf that can never walk into /dev, /proc, ... of the host through a bind mount.
safe_rm() {
  local target="$1"
  [ -e "$target" ] || return 0
  if [ "$target" = "$ROOT" ] && [ -n "$(mounts_under "$ROOT")" ]; then unmount_all; fi
  if [ -n "$(mounts_under "$target")" ]; then
    echo "test-libtorch2: something is mounted under $target, not deleting it:" >&2
    mounts_under "$target" >&2
    exit 1
  fi
  rm -rf --one-file-system -- "$target"
}

do_mount() {   # do_mount <dir inside the root> <mount args...>
  local dir="$ROOT$1"; shift
  mkdir -p "$dir"
  if mountpoint -q "$dir"; then return 0; fi
  mount "$@" "$dir" || return 1
  MOUNTED+=("$dir")
}

mount_all() {
  do_mount /proc -t proc proc
  do_mount /sys -t sysfs sysfs 2>/dev/null || do_mount /sys --bind /sys
  do_mount /dev --bind /dev
  do_mount /dev/pts --bind /dev/pts
}

CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Runs a command in the root with a clean environment (no LIBTORCH, Torch_DIR, npm_config_*, ...).
in_root() {
  chroot "$ROOT" /usr/bin/env -i \
    HOME=/root PATH="$CHROOT_PATH" LANG=C.UTF-8 TERM="${TERM:-dumb}" CI=true \
    DEBIAN_FRONTEND=noninteractive \
    npm_config_cafile=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false \
    "$@"
}

# ---------------------------------------------------------------------------------------------
section "1. trixie root: $ROOT"
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debootstrap not found; installing it"
  if ! apt-get install -y --no-install-recommends debootstrap; then
    apt-get update
    apt-get install -y --no-install-recommends debootstrap
  fi
fi
unmount_all   # leftovers from a killed run
if [ "$FRESH" = 1 ] && [ -e "$ROOT" ]; then
  echo "--fresh: deleting $ROOT"
  safe_rm "$ROOT"
fi
if [ -e "$ROOT" ] && [ ! -f "$STAMP" ]; then
  echo "$ROOT exists but is incomplete (no $(basename "$STAMP")): deleting it"
  safe_rm "$ROOT"
fi
if [ -f "$STAMP" ]; then
  echo "reusing $ROOT (created $(cat "$STAMP"))"
else
  mkdir -p "$(dirname "$ROOT")"
  echo "debootstrap --variant=minbase $SUITE $ROOT $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$STAMP"
fi
took "debootstrap"

# ---------------------------------------------------------------------------------------------
section "2-3. mounts, network, packages"
mount_all
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || echo "warning: could not copy /etc/resolv.conf" >&2
# services must not start inside the chroot
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

WANT="${PACKAGES[*]}"
if [ -f "$PKG_STAMP" ] && [ "$(cat "$PKG_STAMP")" = "$WANT" ]; then
  echo "packages already installed: $WANT"
else
  rm -f "$PKG_STAMP"
  in_root dpkg --configure -a          # finishes an install that an earlier run left half done
  in_root apt-get update
  in_root apt-get install -y --no-install-recommends "${PACKAGES[@]}"
  in_root apt-get clean
  echo "$WANT" > "$PKG_STAMP"
fi
took "package installation"

# npm verifies TLS against this bundle (npm_config_cafile): use the host's, which may hold CAs the
# host trusts beyond Debian's set (a company's TLS-inspecting proxy, ...). ca-certificates triggers
# regenerate the root's copy, so this is done on every run, after apt.
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
fi

echo
echo "-- checks"
in_root python3 -c 'import torch; print("python3 torch", torch.__version__, "cxx11_abi", torch.compiled_with_cxx11_abi())'
NODE_VERSION="$(in_root node -p 'process.versions.node')"
echo "node $NODE_VERSION, npm $(in_root npm --version 2>/dev/null || echo '?')"
if [ "$(printf '%s\n%s\n' "$MIN_NODE" "$NODE_VERSION" | sort -V | head -n1)" != "$MIN_NODE" ]; then
  echo "test-libtorch2: node $NODE_VERSION in the root is older than $MIN_NODE" >&2
  exit 1
fi
[ -s "$ROOT/etc/ssl/certs/ca-certificates.crt" ] || {
  echo "test-libtorch2: $ROOT/etc/ssl/certs/ca-certificates.crt is missing (ca-certificates)" >&2; exit 1; }

if [ "$MODE" = prepare ]; then
  echo
  echo "root prepared in $((SECONDS - T0)) s: $ROOT"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
DEST="$ROOT$PROJECT_DIR"
copy_project() {
  section "4. copying the project: $REPO -> $DEST"
  safe_rm "$DEST"
  mkdir -p "$DEST"
  if command -v git >/dev/null 2>&1 &&
     [ "$(git -c safe.directory="$REPO" -C "$REPO" rev-parse --show-toplevel 2>/dev/null)" = "$REPO" ]; then
    echo "git checkout: copying tracked and untracked-but-not-ignored files"
    # --ignore-failed-read: files deleted in the work tree but still in the index
    git -c safe.directory="$REPO" -C "$REPO" ls-files -z --cached --others --exclude-standard |
      tar -C "$REPO" --ignore-failed-read --no-recursion --null -cf - -T - |
      tar -C "$DEST" -xf -
  else
    echo "not a git checkout: copying everything but node_modules, build, dist, dist-test"
    tar -C "$REPO" --exclude=./node_modules --exclude=./build --exclude='./build-*' \
      --exclude=./dist --exclude=./dist-test --exclude=./.git -cf - . |
      tar -C "$DEST" -xf -
  fi
  echo "$(find "$DEST" -type f | wc -l) files copied"
  took "copy"
}

if [ "$MODE" = shell ]; then
  # keep an existing copy (and its build/ and node_modules/) for debugging
  if [ -d "$DEST" ]; then echo "(keeping the existing copy in $DEST)"; else copy_project; fi
  section "shell in $ROOT (cwd $PROJECT_DIR)"
  if [ ${#SHELL_CMD[@]} -gt 0 ]; then
    set +e
    in_root /bin/bash -c "cd $PROJECT_DIR && ${SHELL_CMD[*]}"
    exit $?
  fi
  set +e
  in_root /bin/bash -c "cd $PROJECT_DIR && exec /bin/bash -i"
  exit $?
fi

copy_project

# ---------------------------------------------------------------------------------------------
run_in_project() { in_root /bin/bash -c "cd $PROJECT_DIR && $*"; }

section "environment inside the root"
echo "Debian      $(cat "$ROOT/etc/debian_version")"
echo "node        $NODE_VERSION"
echo "npm         $(in_root npm --version)"
echo "g++         $(in_root g++ -dumpfullversion)"
echo "cmake       $(in_root cmake --version | head -n1)"
echo "mounted     $(mounts_under "$ROOT" | sed "s|^$ROOT||" | tr '\n' ' ')"
echo -n "libtorch    "
run_in_project 'node install/find-libtorch.js --version' || echo "(not found by install/find-libtorch.js)"

section "5a. npm ci --ignore-scripts"
run_in_project 'npm ci --ignore-scripts'
took "npm ci"

if [ "$PREBUILD" = 1 ]; then
  section "5b. npm run build:ts + scripts/prebuild.sh (the libtorch 2.x prebuild, node-gyp)"
  run_in_project 'npm run build:ts && bash scripts/prebuild.sh'
  took "build"
  TUPLE="$(in_root node -p 'process.platform + "-" + process.arch')"
  for d in "$DEST/prebuilds/$TUPLE"/libtorch-*; do
    mkdir -p "$REPO/prebuilds/$TUPLE"
    rm -rf "$REPO/prebuilds/$TUPLE/$(basename "$d")"
    cp -r "$d" "$REPO/prebuilds/$TUPLE/"
    echo "copied to $REPO/prebuilds/$TUPLE/$(basename "$d")"
  done
else
  section "5b. npm run build"
  run_in_project 'npm run build'
  took "build"
fi

section "5c. the CPU and libtorch's kernels here (torch-napi doctor)"
run_in_project 'node bin/torch-napi.js doctor' || echo "(doctor exited $?)"

section "5d. npm test"
set +e
run_in_project 'npm test'
TEST_RC=$?
set -e
took "tests"

section "result: npm test exited with $TEST_RC (libtorch $(run_in_project 'node install/find-libtorch.js --version' 2>/dev/null || echo '?'), node $NODE_VERSION; total $((SECONDS - T0)) s)"
exit "$TEST_RC"
