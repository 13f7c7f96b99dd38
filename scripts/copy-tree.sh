#!/usr/bin/env bash
# Sourced by the scripts that build in a copy of the project (ci/check-gyp-build.sh, prebuild.sh):
# copy_tree DEST copies the project's source files (git's tracked and untracked-not-ignored
# files; outside git, everything but build outputs) into DEST and links node_modules there.
copy_tree() {
  local dest="$1" root
  root="$(pwd)"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # (a node_modules that is a symlink is not matched by .gitignore's node_modules/: leave it out)
    git ls-files -z --cached --others --exclude-standard | grep -zv '^node_modules$' |
      tar --null --ignore-failed-read -T - -cf - | tar -C "$dest" -xf -
  else
    tar --exclude=node_modules --exclude=build --exclude=dist --exclude=dist-test --exclude=prebuilds -cf - . | tar -C "$dest" -xf -
  fi
  ln -s "$root/node_modules" "$dest/node_modules"
}
