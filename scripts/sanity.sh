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
# ansible-test --venv bootstraps pip in each new venv with a get-pip script from
# ci-files.testing.ansible.com, which offline machines cannot reach; ansible-test documents saving
# the script into its cache by hand. Ours runs the interpreter's bundled pip to install the pip
# release ansible-test asks for, from the configured PyPI index.
AT_REQS=$("$REPO/.venv/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py"))')
PIP_VERSION=$(grep -oP "pip='\K[0-9.]+" "$AT_REQS" | head -1)
GET_PIP="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
if [ ! -s "$GET_PIP" ]; then
  mkdir -p "$(dirname "$GET_PIP")"
  cp "$REPO/scripts/ansible-test-get-pip.py" "$GET_PIP"
fi
cd "$DEST"
git init -q && git add -A
PY=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)
"$REPO/.venv/bin/ansible-test" sanity --venv --python "$PY" --color no "$@" plugins/
