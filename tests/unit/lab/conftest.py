"""The lab's Python (``lab/labctl.py`` and the ``lab/dockyard_lab`` package) is importable here."""

from __future__ import annotations

import sys
from pathlib import Path

LAB = Path(__file__).resolve().parents[3] / "lab"
if str(LAB) not in sys.path:
    sys.path.insert(0, str(LAB))
