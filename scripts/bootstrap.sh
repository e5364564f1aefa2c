#!/usr/bin/env bash
# Set up everything the lab and the tests need on a Debian 12 machine, idempotently:
#   - Debian packages (as root): make, docker.io, debootstrap, python3-venv, git, ...
#   - a running Docker engine (starts dockerd itself when there is no systemd)
#   - .venv with the pinned Python requirements (requirements/test.txt)
#   - the checkout linked as ansible_collections/dockyard/registry under .cache/collections
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
is_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }

# --- Debian packages ---------------------------------------------------------------------------
PKGS=(make git docker.io debootstrap python3-venv python3-pip ca-certificates curl openssl
      apache2-utils wrk rsync)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if is_root && is_debian; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing packages: ${missing[*]}. Install them (Debian: sudo apt-get install -y ${missing[*]}) or run this as root on Debian."
  fi
fi

# --- Docker engine -----------------------------------------------------------------------------
docker_ok() { timeout 10 docker info >/dev/null 2>&1; }
if ! docker_ok; then
  if ! is_root; then
    die "no Docker engine is reachable. Start one (sudo systemctl start docker) or run this as root on Debian."
  fi
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    say "starting docker.service"
    systemctl start docker
  elif command -v dockerd >/dev/null; then
    mkdir -p /var/log/dockyard
    say "starting dockerd (no systemd here); log: /var/log/dockyard/dockerd.log, pid: /var/run/docker.pid"
    nohup dockerd --pidfile /var/run/docker.pid >>/var/log/dockyard/dockerd.log 2>&1 &
  else
    die "dockerd not found; install docker.io"
  fi
  for _ in $(seq 1 60); do docker_ok && break; sleep 1; done
  docker_ok || die "the Docker engine did not come up; see /var/log/dockyard/dockerd.log"
fi

# --- Python venv -------------------------------------------------------------------------------
PY=${PYTHON:-python3}
stamp_want=$(cat requirements/*.txt | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements 2>/dev/null)" != "$stamp_want" ]; then
  say "creating .venv from requirements/test.txt"
  "$PY" -m venv .venv
  # pip's output (incl. warnings about this machine's pip config) goes to a log, shown on failure.
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -r requirements/test.txt; } \
       >.venv/pip-install.log 2>&1; then
    cat .venv/pip-install.log >&2
    die "pip install -r requirements/test.txt failed (log above)"
  fi
  echo "$stamp_want" > .venv/.requirements
fi

# --- Collection link ---------------------------------------------------------------------------
mkdir -p .cache/collections/ansible_collections/dockyard
ln -sfn ../../../.. .cache/collections/ansible_collections/dockyard/registry
[ -f .cache/collections/ansible_collections/dockyard/registry/galaxy.yml ] || die "collection link is broken"
say "ready: $(docker version --format 'docker {{.Server.Version}}'), $(.venv/bin/ansible --version | sed -n 1p)"
