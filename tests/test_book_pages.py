"""notebooks/pages.py: an executed notebook made into a page (parameters folded, a profile banner)."""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import pages  # noqa: E402


def notebook():
    nb = nbformat.v4.new_notebook()
    title = nbformat.v4.new_markdown_cell("(label)=\n# A chapter\n\nIts first paragraph.")
    params = nbformat.v4.new_code_cell("n = 10")
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell("n = 2")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells = [title, params, injected, nbformat.v4.new_code_cell("print(n)")]
    return nb


def test_prepare_page_folds_parameters_drops_the_injected_copy_and_adds_a_banner():
    nb = pages.prepare_page(notebook(), "quick")
    sources = [c.source for c in nb.cells]
    assert sources[0] == "(label)=\n# A chapter"
    assert "**quick** profile" in sources[1] and nb.cells[1].metadata["tags"] == [pages.BANNER_TAG]
    assert sources[2] == "Its first paragraph."
    tags = {c.source: c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"}
    assert "hide-input" in tags["n = 10"] and "remove-cell" in tags["n = 2"] and tags["print(n)"] == []
    again = pages.prepare_page(nb, "full")  # a second pass replaces the banner, adds nothing else
    banners = [c for c in again.cells if pages.BANNER_TAG in c.metadata.get("tags", [])]
    assert len(banners) == 1 and banners[0] is again.cells[1]
    assert "**full** profile" in again.cells[1].source and len(again.cells) == len(sources)
    assert again.cells[0].source == "(label)=\n# A chapter"
