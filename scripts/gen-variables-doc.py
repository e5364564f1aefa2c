#!/usr/bin/env python3
"""Generate every variable table from the roles' meta/argument_specs.yml (the single source of
each default and description): docs/variables.md, and the table between the BEGIN/END markers in
each role's README.md.

    .venv/bin/python scripts/gen-variables-doc.py          # rewrite what is out of date
    .venv/bin/python scripts/gen-variables-doc.py --check  # exit 1 when something is out of date

Roles are discovered: every directory under roles/ with a meta/argument_specs.yml. Section
comments in the options (``# --- Storage ---``) become sub-headings; options keep the spec's order.
Ansible markup in descriptions (C(), V(), O(), I(), B(), U(), L()) is rendered as Markdown.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "variables.md"
BEGIN = "<!-- BEGIN generated variables: scripts/gen-variables-doc.py from meta/argument_specs.yml; do not edit -->"
END = "<!-- END generated variables -->"
_SECTION = re.compile(r"^ {6}# -+ *(?P<title>[^-].*?) *-*$")
_OPTION = re.compile(r"^ {6}(?P<name>[A-Za-z_]\w*):")
_MARKUP = re.compile(r"\b(?P<kind>[CVOIBUEMP]|RV|L)\((?P<body>[^)]*)\)")
_LONG = 120


def roles(repo: Path = REPO) -> list:
    """Every role of the collection: the directories under roles/ with meta/argument_specs.yml."""
    return sorted(p.parent.parent.name for p in (repo / "roles").glob("*/meta/argument_specs.yml"))


def load(role: str, repo: Path = REPO) -> tuple:
    """(the spec's ``main`` entry point, [(section title or "", [option names])]) in file order."""
    text = (repo / "roles" / role / "meta" / "argument_specs.yml").read_text()
    main = yaml.safe_load(text)["argument_specs"]["main"]
    options = main.get("options") or {}
    sections, seen = [("", [])], []
    for line in text.splitlines():
        section, option = _SECTION.match(line), _OPTION.match(line)
        if section:
            sections.append((section.group("title")[:1].upper() + section.group("title")[1:], []))
        elif option and option.group("name") in options and option.group("name") not in seen:
            sections[-1][1].append(option.group("name"))
            seen.append(option.group("name"))
    sections[-1][1].extend(name for name in options if name not in seen)  # indented otherwise
    return main, [(title, names) for title, names in sections if names]


def _plain(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def markdown(value) -> str:
    """A description (str or list of paragraphs) as one Markdown table cell."""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    text = " ".join(str(value or "").split())
    out, pos = [], 0
    for match in _MARKUP.finditer(text):
        out.append(_plain(text[pos:match.start()]))
        kind, body = match.group("kind"), match.group("body")
        if kind in ("C", "V", "O", "RV", "E", "P", "M"):
            out.append(_code(body))
        elif kind == "I":
            out.append(f"*{_plain(body)}*")
        elif kind == "B":
            out.append(f"**{_plain(body)}**")
        elif kind == "U":
            out.append(f"<{body}>")
        else:  # L(text,url)
            label, _sep, url = body.rpartition(",")
            out.append(f"[{_plain(label.strip())}]({url.strip()})")
        pos = match.end()
    out.append(_plain(text[pos:]))
    return "".join(out)


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a folded or wrapped YAML scalar: its line breaks would end the table row
        value = re.sub(r"[ \t]*\n\s*", " ", value).strip()
    return '""' if value == "" else str(value)


def default(spec: dict) -> str:
    if "default" not in spec or spec["default"] is None:
        return ""
    value = spec["default"]
    if isinstance(value, (dict, list)):
        rendered = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        if len(rendered) > _LONG and isinstance(value, dict):
            return "keys " + ", ".join(_code(str(k)) for k in value) + " (see `defaults/main.yml`)"
        if len(rendered) > _LONG:
            rendered = rendered[:_LONG - 3] + "..."
    else:
        rendered = _scalar(value)
    return _code(rendered)


def kind(spec: dict) -> str:
    name = spec.get("type", "str")
    if name == "list" and spec.get("elements"):
        name = f"list({spec['elements']})"
    if spec.get("choices"):
        name += ": " + ", ".join(_code(_scalar(c)) for c in spec["choices"])
    return name


def tables(role: str, repo: Path = REPO) -> list:
    """The role's variable tables (one per section, ``###`` headings) as Markdown lines."""
    main, sections = load(role, repo)
    options = main.get("options") or {}
    out = []
    for title, names in sections:
        if title:
            out += [f"### {title}", ""]
        out += ["| variable | type | required | default | description |", "|---|---|---|---|---|"]
        for name in names:
            spec = options[name]
            secret = " **Secret** (`no_log`): vault it." if spec.get("no_log") else ""
            required = "yes" if spec.get("required") else ""
            out.append(f"| `{name}` | {kind(spec)} | {required} | {default(spec)} | {markdown(spec.get('description'))}{secret} |")
        out.append("")
    return out[:-1]


def render_reference(repo: Path = REPO) -> str:
    out = [
        "# Variable reference",
        "",
        "Generated from each role's `meta/argument_specs.yml` by `scripts/gen-variables-doc.py` (so are the",
        "tables in the role READMEs; a unit test fails when one is stale). Shared `dockyard_*` facts are",
        "described in [inventory.md](inventory.md); role defaults that point at them say so.",
        "",
    ]
    for role in roles(repo):
        main, _sections = load(role, repo)
        out += [f"## `dockyard.registry.{role}`", "", markdown(main.get("short_description")), ""]
        out += [line.replace("### ", "#### ", 1) if line.startswith("### ") else line for line in tables(role, repo)]
        out.append("")
    return "\n".join(out)


def render_readme(role: str, text: str, repo: Path = REPO) -> str:
    """The README text with the generated table between the markers; without markers, a
    ``## Variables`` section with them is appended (move it where it belongs)."""
    block = "\n".join([BEGIN, "", *tables(role, repo), "", END])
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n## Variables\n\n" + block + "\n"


def outputs(repo: Path = REPO) -> dict:
    """path -> (wanted text, a note when the file needs more than a rewrite)."""
    wanted = {repo / "docs" / "variables.md": (render_reference(repo), "")}
    for role in roles(repo):
        readme = repo / "roles" / role / "README.md"
        text = readme.read_text() if readme.exists() else f"# dockyard.registry.{role}\n"
        note = "" if BEGIN in text and END in text else "it has no BEGIN/END markers"
        wanted[readme] = (render_readme(role, text, repo), note)
    return wanted


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated table is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, (text, note) in outputs().items():
        current = path.read_text() if path.exists() else None
        if current == text and not note:
            continue
        stale.append(f"{path.relative_to(REPO)}" + (f" ({note})" if note else ""))
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print("out of date (run scripts/gen-variables-doc.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    for line in stale:
        if "markers" in line:
            print(f"{line}: a generated '## Variables' section was appended; move it and the markers where "
                  "the table belongs and remove any hand-written table", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
