"""Keep what nbval executed, so that one execution serves both the tests and the book.

``make test`` runs every notebook once, under nbval (``pytest --nbval-lax notebooks/_prepared``).
nbval collects each cell's outputs to compare them; with ``CGP_NBVAL_SAVE_DIR`` set, this plugin
writes them back into the notebook and saves it there, as papermill would have, once every cell
of the notebook has run. The book is then built from those files, without a second execution.
A notebook with a failed cell is not saved (and ``make test`` fails).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pages
import pytest

SAVE_DIR_ENV = "CGP_NBVAL_SAVE_DIR"


class _Keeper:
    def __init__(self, directory: Path):
        self.directory = directory
        self.notebooks: dict[int, dict] = {}  # id(IPyNbFile) -> {"file", "cells", "failed"}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if type(item).__name__ != "IPyNbCell" or call.when != "call":
            return
        report = outcome.get_result()
        entry = self.notebooks.setdefault(
            id(item.parent), {"file": item.parent, "count": 0, "failed": False, "seconds": 0.0}
        )
        entry["count"] += 1
        entry["seconds"] += report.duration
        if report.failed:
            entry["failed"] = True
        outputs = getattr(item, "test_outputs", None) or []
        # one output per message, as nbval collected them; the book merges consecutive streams
        # (nb_merge_streams in _config.yml)
        item.cell.outputs = [nbformat.from_dict(dict(out)) for out in outputs]
        item.cell.execution_count = entry["count"]
        for out in item.cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = entry["count"]

    def pytest_sessionfinish(self, session):
        self.directory.mkdir(parents=True, exist_ok=True)
        for entry in self.notebooks.values():
            nb_file = entry["file"]
            name = Path(str(nb_file.fspath)).name
            # each chapter's share of the CI budget (README, "CI budget")
            print(f"\n[nbval] {name}: its cells ran for {entry['seconds']:.0f} s", file=sys.stderr)
            nb = nb_file.nb
            code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
            if entry["failed"] or entry["count"] != code_cells:
                why = "a cell failed" if entry["failed"] else f"{entry['count']} of its {code_cells} code cells ran"
                print(f"\n[nbval] {name}: {why}, not saved", file=sys.stderr)
                continue
            nb.metadata.setdefault("language_info", {"name": "python"})
            pages.prepare_page(nb, os.environ.get("CGP_PROFILE") or "quick")
            target = self.directory / name
            nbformat.write(nb, str(target))
            print(f"\n[nbval] saved the executed {name} to {target}", file=sys.stderr)


def pytest_configure(config):
    directory = os.environ.get(SAVE_DIR_ENV)
    if directory and getattr(config.option, "nbval_lax", False):
        config.pluginmanager.register(_Keeper(Path(directory).resolve()), "cgp_nbval_keeper")
