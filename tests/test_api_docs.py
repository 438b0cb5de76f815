"""docs/api.md documents names as ``rf.<name>``: each must exist on the top-level package.

The core section names them ``rf.X``; the analysis section says its functions and result classes are
"also exported as rf.<name>"; result classes documented as ``Name(field, ...)`` in the core and
analysis sections (e.g. ``DataSpectrum``) and ``DISAGREEMENT_KINDS`` are reachable the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import rfshift as rf

API = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")


def _section(title_start: str) -> str:
    parts = re.split(r"^## ", API, flags=re.M)
    return next(p for p in parts if p.startswith(title_start))


def documented_top_level_names() -> set[str]:
    names = set(re.findall(r"\brf\.([A-Za-z_][A-Za-z0-9_]*)", API))
    core, analysis = _section("Core"), _section("`rfshift.analysis`")
    # analysis: every ### heading (function or class) and every result class `Name(...)`
    names |= set(re.findall(r"^### `(?:class )?([A-Za-z_][A-Za-z0-9_]*)", analysis, flags=re.M))
    for text in (core, analysis):
        names |= set(re.findall(r"`([A-Z][A-Za-z0-9]*)\(", text))
        names |= set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", text))  # constants, e.g. DISAGREEMENT_KINDS
    return names


def test_api_md_parses_enough_names():
    names = documented_top_level_names()
    assert {"asymptotics", "regret", "deviation", "DataSpectrum", "DISAGREEMENT_KINDS"} <= names
    assert len(names) > 30


def test_every_documented_rf_name_exists():
    missing = sorted(n for n in documented_top_level_names() if not hasattr(rf, n))
    assert missing == [], f"documented as rf.<name> in docs/api.md but missing: {missing}"
    public = set(rf.__all__)
    not_listed = sorted(n for n in documented_top_level_names()
                        if n not in public and not n.startswith("__"))
    assert not_listed == [], f"exported but not in rfshift.__all__: {not_listed}"


ROOT = Path(__file__).resolve().parent.parent
_REF = re.compile(r"(?<![A-Z])(theory|validation)(?:\.md)?\)?[ ,]*(?:§|section )\s*(\d+(?:\.\d+)?)"
                  r"((?:\s*(?:[–-]|,|and|or)\s*§?\d+(?:\.\d+)?)*)")


def _headings(name: str) -> set[str]:
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    return set(re.findall(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", text, flags=re.M))


def test_section_references_into_theory_and_validation_resolve():
    """Every "docs/theory.md §N" / "validation §N.M" in the docs and the code names a real heading
    (lower-case theory/validation only: THEORY.md is the separate contract)."""
    heads = {"theory": _headings("theory.md"), "validation": _headings("validation.md")}
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for sub in ("rfshift", "tests", "benchmarks", "examples", "app"):
        files += sorted((ROOT / sub).rglob("*.py"))
    bad, seen = [], 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        for m in _REF.finditer(text):
            for num in [m.group(2), *re.findall(r"\d+(?:\.\d+)?", m.group(3) or "")]:
                seen += 1
                if num not in heads[m.group(1)]:
                    line = text[:m.start()].count("\n") + 1
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {m.group(1)} §{num}")
    assert seen > 50
    assert bad == [], f"section references with no such heading: {bad}"
