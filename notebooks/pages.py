"""What an executed notebook needs before it becomes a page of the book.

Both ways of executing the chapters (``notebooks/execute.py`` with papermill, and ``make test``
with nbval, see ``notebooks/conftest.py``) pass the executed notebook through
:func:`prepare_page` before saving it:

* papermill's copy of the parameters (the cell tagged ``injected-parameters``) is removed from
  the page, and the chapter's own parameters cell is folded (``hide-input``): the values a
  profile sets are stated by the banner, not by two cells of assignments;
* a banner under the title says which profile built the page and how to build the other one.
"""

from __future__ import annotations

import nbformat

BANNER = {
    "quick": (
        "This page was built with the **quick** profile: a few instances and small networks, so "
        "that the whole book runs in minutes; most intervals are wide and most verdicts weak. "
        "`make book PROFILE=full` builds it at the paper's scale (run times in the README)."
    ),
    "full": (
        "This page was built with the **full** profile: the paper's scale (`make book PROFILE=full`). "
        "`make book` builds the quick one in minutes."
    ),
}
BANNER_TAG = "profile-banner"


def _add_tags(cell, *tags):
    existing = list(cell.metadata.get("tags", []))
    cell.metadata["tags"] = existing + [t for t in tags if t not in existing]


def prepare_page(nb, profile: str):
    """Fold the parameters, drop papermill's injected copy, add the profile banner (in place).

    Parameters
    ----------
    nb
        An executed notebook (``nbformat.NotebookNode``).
    profile
        The parameter profile it ran under (``notebooks/params/<profile>.yaml``).

    Returns
    -------
    nbformat.NotebookNode
        ``nb``; calling it twice changes nothing more.
    """
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            _add_tags(cell, "remove-cell")
        elif "parameters" in tags:
            _add_tags(cell, "hide-input")
    nb.cells = [c for c in nb.cells if BANNER_TAG not in c.metadata.get("tags", [])]
    text = BANNER.get(
        profile, f"This page was built with the **{profile}** profile (`notebooks/params/{profile}.yaml`)."
    )
    banner = nbformat.v4.new_markdown_cell(f":::{{note}}\n{text}\n:::")
    banner.metadata["tags"] = [BANNER_TAG]
    for i, cell in enumerate(nb.cells):
        lines = cell.source.splitlines()
        heading = next((j for j, line in enumerate(lines) if line.startswith("# ")), None)
        if cell.cell_type == "markdown" and heading is not None:
            # the title (with its label) stays, the banner follows it, then the rest of the cell
            cell.source = "\n".join(lines[: heading + 1])
            rest = "\n".join(lines[heading + 1 :]).strip("\n")
            nb.cells[i + 1 : i + 1] = [banner] + ([nbformat.v4.new_markdown_cell(rest)] if rest else [])
            break
    else:
        nb.cells.insert(0, banner)
    return nb
