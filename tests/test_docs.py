"""Every document the code and the docs cite is in the repository (not only in someone's
checkout of a shared folder), and the contributor's guide names the commands that exist."""

from __future__ import annotations

import re

from tests.conftest import ROOT

CITED = re.compile(r"(?<![\w/.-])((?:docs/)?[A-Za-z_][\w-]*\.md)\b")
WHERE = ["src", "benchmarks", "tests", "docs"]
TOP = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md", "BENCHMARKS.md"]


def _citations() -> dict[str, set[str]]:
    """{cited name: files citing it} over the code and the docs."""
    files = [p for d in WHERE for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".md")]
    files += [ROOT / name for name in TOP]
    cited: dict[str, set[str]] = {}
    for path in files:
        for name in CITED.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return cited


def test_every_cited_document_exists() -> None:
    missing = {
        name: sorted(sources)
        for name, sources in _citations().items()
        if not (ROOT / name).is_file() and not (ROOT / "docs" / name).is_file()
    }
    assert not missing, f"cited but not in the repository: {missing}"


def test_the_design_notes_the_code_cites_are_found() -> None:
    # the citations this test exists for: the metric definitions and the operator's words
    cited = _citations()
    assert "docs/design.md" in cited and "docs/glossary.md" in cited
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    assert "CVR = buyers / UV" in design and "paid GMV = UV × CVR × ASP" in design


def test_contributing_names_commands_that_exist() -> None:
    guide = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"`make (\w+)`", guide):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is not in the Makefile"
    for folder in re.findall(r"`((?:src/dacu|tests|benchmarks|docs)/[\w/.]*)`", guide):
        assert (ROOT / folder).exists(), folder
