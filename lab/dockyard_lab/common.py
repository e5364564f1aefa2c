"""Settings and process helpers every part of the lab uses.

Where the lab lives (``LAB_DIR``, ``IMAGES_DIR``, ``CACHE``), what it is called (``PREFIX``,
``NETWORK``, ``LABEL``; each overridable with a ``DOCKYARD_LAB_*`` environment variable), and how
commands run: ``run`` (a failed command exits with its stderr), ``docker`` (the Docker CLI from
``$DOCKER`` or ``PATH``) and ``log``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent.parent
REPO = LAB_DIR.parent
IMAGES_DIR = LAB_DIR / "images"
CACHE = Path(os.environ.get("DOCKYARD_LAB_CACHE", LAB_DIR / ".cache"))
SUITE = os.environ.get("DOCKYARD_LAB_SUITE", "bookworm")
NETWORK = os.environ.get("DOCKYARD_LAB_NETWORK", "dockyard-lab")
# Image repository prefix; another prefix (with another DOCKYARD_LAB_CACHE) builds a second,
# independent set of lab images next to the first, e.g. to time a cold build.
PREFIX = os.environ.get("DOCKYARD_LAB_PREFIX", "dockyard-lab")
LABEL = "org.dockyard.lab"
RECIPE_LABEL = "org.dockyard.lab.recipe"


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def docker_bin() -> str:
    """The Docker CLI to drive the engine with (DOCKER env var, else the first on PATH)."""
    return os.environ.get("DOCKER", shutil.which("docker") or "docker")


def run(cmd, *, check=True, capture=False, input_=None, cwd=None, env=None):
    cmd = [str(c) for c in cmd]
    res = subprocess.run(
        cmd, check=False, text=True, cwd=cwd, env=env, input=input_,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and res.returncode != 0:
        detail = (res.stderr or "").strip() if capture else ""
        raise SystemExit(f"[lab] command failed ({res.returncode}): {' '.join(cmd)}\n{detail}")
    return res


def docker(*args, check=True, capture=True, input_=None):
    return run([docker_bin(), *args], check=check, capture=capture, input_=input_)
