"""Sphinx extension: the ``scorecard`` directive lists every claim the chapters checked.

Each chapter saves its claims as JSON (``cgp_lib.repro.claims.Claims.save``) in
``$CGP_CLAIMS_DIR``, by default ``notebooks/_executed/claims`` beside the book's sources, in the
same build that executes it. The directive reads those files and writes, per chapter, a table
of claims (where the paper makes it, what it says, the paper's number, ours, the verdict) with a
link to the chapter's section of claims, under a line counting the verdicts. Nothing is typed by
hand: a chapter that saved no claims is absent, and a page holding the directive is read again
at every build so that it never shows the claims of an earlier one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from cgp_lib.repro.claims import CLAIMS_DIR_ENV, VERDICTS, load_all

_SPECIAL = re.compile(r"([\\`*_\[\]<>$|#])")


def _text(value) -> str:
    """A claim's text as Markdown: special characters escaped, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split())) or "-"


def claims_dir(srcdir: str) -> Path:
    return Path(os.environ.get(CLAIMS_DIR_ENV) or Path(srcdir) / "notebooks" / "_executed" / "claims")


class ScorecardDirective(SphinxDirective):
    """Every chapter's claims, one table per chapter, and the count of each verdict."""

    has_content = False

    def run(self):
        chapters = _chapters(self)
        folder = claims_dir(self.env.srcdir)
        rows = [row for chapter in chapters for row in chapter["claims"]]
        counts = {v: sum(row["verdict"] == v for row in rows) for v in VERDICTS}
        profiles = sorted({chapter["profile"] for chapter in chapters})
        lines = [
            f"**{len(rows)} claims** checked in {len(chapters)} chapters: "
            + ", ".join(f"**{counts[v]} {v}**" for v in VERDICTS)
            + f". Built with the {' and '.join(profiles)} profile{'s' if len(profiles) > 1 else ''}.",
            "",
        ]
        for chapter in chapters:
            lines += [
                f":::{{list-table}} {_text(chapter['chapter'])} ({chapter['profile']} profile)",
                ":header-rows: 1",
                ":widths: 8 34 22 24 12",
                ":width: 100%",
                f":name: scorecard-{chapter['label']}",
                "",
                "* - paper",
                "  - claim",
                "  - paper's number",
                "  - ours",
                "  - verdict",
            ]
            for row in chapter["claims"]:
                lines += [f"* - {_text(row['where'])}"] + [
                    f"  - {_text(row[key])}" for key in ("claim", "paper", "ours", "verdict")
                ]
            lines += [":::", "", f"How each was measured: {{ref}}`{chapter['label']}`.", ""]
        container = nodes.container(classes=["cgp-scorecard"])
        self.state.nested_parse(StringList(lines, source=str(folder)), self.content_offset, container)
        return [container]


class ScorecardSummaryDirective(SphinxDirective):
    """The counts of the scorecard in a few lines (for the landing page), linking to it."""

    has_content = False

    def run(self):
        chapters = _chapters(self)
        rows = [row for chapter in chapters for row in chapter["claims"]]
        lines = [
            f"Of the **{len(rows)} claims** of the paper checked in this build, "
            + ", ".join(f"{sum(r['verdict'] == v for r in rows)} {v}" for v in VERDICTS)
            + " (the {ref}`scorecard` lists them):",
            "",
        ]
        for chapter in chapters:
            verdicts = [row["verdict"] for row in chapter["claims"]]
            lines.append(
                f"- {_text(chapter['chapter'])}, {chapter['profile']} profile: "
                + ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS)
                + f" ({{ref}}`details <{chapter['label']}>`)"
            )
        container = nodes.container(classes=["cgp-scorecard-summary"])
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return [container]


def _chapters(directive: SphinxDirective) -> list[dict]:
    """The chapters' saved claims; the page is marked to be read again at every build."""
    env = directive.env
    env.note_dependency(__file__)
    docs = getattr(env, "cgp_scorecard_docs", set())
    docs.add(env.docname)
    env.cgp_scorecard_docs = docs
    folder = claims_dir(env.srcdir)
    chapters = load_all(folder) if folder.is_dir() else []
    if not chapters:
        raise directive.error(f"no claims in {folder}; execute the chapters first (make book or make test)")
    return chapters


def _always_outdated(app, env, added, changed, removed):
    """Pages with a scorecard are read again at every build: the claims come from outside the source."""
    return sorted(getattr(env, "cgp_scorecard_docs", set()) - set(removed))


def setup(app):
    app.add_directive("scorecard", ScorecardDirective)
    app.add_directive("scorecard-summary", ScorecardSummaryDirective)
    app.connect("env-get-outdated", _always_outdated)
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}
