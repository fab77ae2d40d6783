"""Every macro of the dbt project is described in macros/_macros.yml, with its arguments."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

MACROS = Path(__file__).parents[2] / "dbt_project" / "macros"


def test_every_macro_is_described_with_its_arguments():
    defined = {}
    for path in MACROS.rglob("*.sql"):
        for m in re.finditer(r"\{%-?\s*macro\s+(\w+)\((.*?)\)\s*-?%\}", path.read_text(), re.S):
            args = [a.split("=")[0].strip() for a in m.group(2).split(",") if a.strip()]
            defined[m.group(1)] = args
    described = {
        m["name"]: [a["name"] for a in m.get("arguments", [])]
        for m in yaml.safe_load((MACROS / "_macros.yml").read_text())["macros"]
        if m.get("description", "").strip()
    }
    assert described == defined
