"""How tests and benchmarks run Ansible's command-line tools with the project's environment.

The one place that knows it: the checkout linked as ``ansible_collections/dockyard/registry``
under ``.cache/collections`` (what ``ansible.cfg`` uses; a copy that already sits under
``ansible_collections/dockyard/registry``, as in ansible-test, is used as it is), the tools next
to the running Python (the project's ``.venv``), ``ANSIBLE_CONFIG``, no colours.

Used by ``tests/conftest.py`` (import path), the unit and convention tests, ``bench/`` and the
molecule verifiers (``from ansible_collections.dockyard.registry.tests.harness import ...`` once
``.cache/collections`` is on ``sys.path``). Standard library only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def collections_root() -> Path:
    """The directory holding ``ansible_collections/dockyard/registry`` (the link is made if missing)."""
    parts = REPO.parts
    if len(parts) >= 3 and parts[-3] == "ansible_collections" and parts[-2:] == ("dockyard", "registry"):
        return REPO.parent.parent.parent
    root = REPO / ".cache" / "collections"
    link = root / "ansible_collections" / "dockyard" / "registry"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(os.path.relpath(REPO, link.parent), link)
        except FileExistsError:
            pass
    return root


def ansible_tool(name: str) -> str:
    """``ansible-playbook`` (or another tool) next to this Python, else the one on PATH."""
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return str(local)
    return shutil.which(name) or name


def ansible_env(**overrides: str) -> dict:
    """``os.environ`` plus the project's Ansible settings (this Python's tools first on PATH), then
    ``overrides``."""
    env = dict(os.environ)
    env.update({
        "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(collections_root()),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
    })
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def run_ansible(tool: str, *args: str, env: dict | None = None, timeout: float = 600,
                **kwargs) -> subprocess.CompletedProcess:
    """Run ``tool args...`` from the repository root with ``ansible_env(**env)``; never raises on
    a non-zero exit. Output is captured as text unless ``stdout`` is given (e.g. a log file)."""
    if "stdout" not in kwargs:
        kwargs["capture_output"] = True
    return subprocess.run([ansible_tool(tool), *[str(a) for a in args]], cwd=str(REPO),
                          env=ansible_env(**(env or {})), text=True, timeout=timeout, check=False, **kwargs)


def run_playbook(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``ansible-playbook args...`` (see ``run_ansible``)."""
    return run_ansible("ansible-playbook", *args, **kwargs)
