"""Writes deploy/ansible/roles/yiwang_node/meta/argument_specs.yml from defaults/main.yml, where
the comment lines right above each variable are its description: one place to document a
variable, and Ansible checks the types before the role runs. `--check` exits 1 when the spec
is not what the defaults give (tests/test_deploy.py runs it)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROLE = Path(__file__).resolve().parent.parent / "deploy" / "ansible" / "roles" / "yiwang_node"
TYPES = {bool: "bool", int: "int", list: "list", dict: "dict", str: "str"}
SUMMARY = "One yiwang node: install, enroll, configure, run, check, rotate logs"
DESCRIPTION = (
    "Installs yiwang into a virtual environment (package index or an offline wheelhouse), creates the data "
    "directory and enrolls the node with a one-time token fetched from its parent host, writes its settings, "
    "publishes a province's division tree, runs it under systemd (hardened) or supervisord, checks its health "
    "and sets up log rotation. Idempotent."
)


def options(text: str) -> dict[str, dict[str, Any]]:
    defaults = yaml.safe_load(text)
    out: dict[str, dict[str, Any]] = {}
    comment: list[str] = []
    for line in text.splitlines():
        name = re.match(r"^(yiwang_node_\w+):", line)
        if line.startswith("# ---") or not line.strip():
            comment = []
        elif line.startswith("# "):
            comment.append(line[2:])
        elif name:
            if not comment:
                raise SystemExit(f"defaults/main.yml: {name.group(1)} has no comment above it")
            value = defaults[name.group(1)]
            option: dict[str, Any] = {"type": TYPES[type(value)], "default": value, "description": " ".join(comment)}
            if name.group(1) == "yiwang_node_code":
                option = {"type": "str", "required": True, "description": " ".join(comment)}
            if option["type"] == "list":
                option["elements"] = "str"
            out[name.group(1)] = option
            comment = []
    return out


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key, as yamllint wants


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    quoted = value == "" or any(c in value for c in ":{#")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"' if quoted else None)


_Dumper.add_representer(str, _string)


def render() -> str:
    spec = {
        "argument_specs": {
            "main": {
                "short_description": SUMMARY,
                "description": [DESCRIPTION],
                "options": options((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8")),
            }
        }
    }
    head = "---\n# Written by scripts/ansible_argspec.py from defaults/main.yml: edit the defaults, not this.\n"
    return head + yaml.dump(spec, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def main() -> None:
    target = ROLE / "meta" / "argument_specs.yml"
    text = render()
    if "--check" in sys.argv[1:]:
        if target.read_text(encoding="utf-8") != text:
            sys.exit(f"{target} is not what defaults/main.yml gives: run python scripts/ansible_argspec.py")
        return
    target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
