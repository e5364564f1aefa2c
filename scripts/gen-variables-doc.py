#!/usr/bin/env python3
"""Generate docs/variables.md from every role's meta/argument_specs.yml.

    .venv/bin/python scripts/gen-variables-doc.py          # rewrite docs/variables.md
    .venv/bin/python scripts/gen-variables-doc.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "variables.md"
ROLES = ["ca", "nginx", "registry", "client_trust", "keepalived"]


def _text(value) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return " ".join(str(value or "").split()).replace("|", "\\|")


def _default(spec: dict) -> str:
    if "default" not in spec:
        return ""
    value = spec["default"]
    if isinstance(value, (dict, list)):
        rendered = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    else:
        rendered = str(value)
    rendered = rendered.replace("|", "\\|")
    if len(rendered) > 80:
        rendered = rendered[:77] + "..."
    return f"`{rendered}`" if rendered else "`\"\"`"


def _type(spec: dict) -> str:
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = f"list({spec['elements']})"
    if spec.get("choices"):
        kind += ": " + ", ".join(f"`{c}`" for c in spec["choices"])
    return kind


def render() -> str:
    out = [
        "# Variable reference",
        "",
        "Generated from each role's `meta/argument_specs.yml` by `scripts/gen-variables-doc.py`",
        "(a unit test fails when this file is stale). Shared `dockyard_*` facts are described in",
        "[inventory.md](inventory.md); role defaults that point at them say so.",
        "",
    ]
    for role in ROLES:
        spec_file = REPO / "roles" / role / "meta" / "argument_specs.yml"
        specs = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"]
        out += [f"## `dockyard.registry.{role}`", "", _text(specs.get("short_description")), ""]
        out += ["| variable | type | required | default | description |", "|---|---|---|---|---|"]
        for name, spec in sorted(specs.get("options", {}).items()):
            required = "yes" if spec.get("required") else ""
            secret = " **(secret: `no_log`)**" if spec.get("no_log") else ""
            out.append(f"| `{name}` | {_type(spec)} | {required} | {_default(spec)} | {_text(spec.get('description'))}{secret} |")
        out.append("")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run scripts/gen-variables-doc.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
