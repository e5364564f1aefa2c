#!/usr/bin/env bash
# ansible-test sanity for plugins/: ansible-test needs the collection at
# ansible_collections/dockyard/registry/ inside a git work tree, so copy the tracked and
# untracked-but-not-ignored files there (a temp dir), then run it with --venv (its own pinned
# test requirements, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockyard-sanity.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DEST="$WORK/ansible_collections/dockyard/registry"
mkdir -p "$DEST"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$DEST/"
cd "$DEST"
git init -q && git add -A
PY=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)
"$REPO/.venv/bin/ansible-test" sanity --venv --python "$PY" --color no "$@" plugins/
