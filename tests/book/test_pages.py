"""The built book, opened in headless Chromium: every page shows its tables and figures,
no image is missing and no cell shows an error."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"

SKIP = {"genindex.html", "search.html", "_overflow_probe.html"}
PAGES = sorted(
    str(p.relative_to(HTML))
    for p in HTML.rglob("*.html")
    if p.name not in SKIP and "_static" not in p.parts and "_sources" not in p.parts
)
# Pages that must show results: (minimum tables, minimum figures)
EXPECTED = {
    "notebooks/_executed/breast_cancer.html": (2, 4),  # Table 2 and more; Figures 6-9
    "notebooks/_executed/mnist.html": (8, 6),  # Tables 1 and 3 and more; Figures 2-4, 10, 12, 13
    "notebooks/_executed/adult.html": (6, 2),  # Figure 1(b) table, summaries; Figure 5, summary figure
    "notebooks/_executed/crosscheck_adult.html": (3, 0),
    "notebooks/_executed/kmeans_prototypes.html": (6, 4),  # strategies, paired, location; Figs.
    "notebooks/_executed/saliency_recovery.html": (5, 5),  # deletion, recovery, claims; Figs.
    "notebooks/_executed/cifar10.html": (6, 2),  # models, AEs, settings, A-F, adversarial, variants, claims
    "notebooks/_executed/model_comparison.html": (5, 1),  # Table 4, sizes, rates, claims, carried; Fig. 11
}  # embeddings, agreement, alibi self-check


def fetch_status(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("Content-Type", "")


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_errors(site, browser, page):
    dom = BeautifulSoup(browser(f"{site}/{page}"), "html.parser")
    main = dom.find("main") or dom
    text = main.get_text(" ")
    assert "Traceback (most recent call last)" not in text, page
    assert not main.select(".output.error, .output.traceback, div.cell_output .traceback"), page
    assert "Error" not in " ".join(e.get_text() for e in main.select(".output.stderr")), page
    for img in main.find_all("img"):
        src = img.get("src", "")
        assert src, f"{page}: an image without src"
        if src.startswith("data:"):
            continue
        url = f"{site}/{Path(page).parent.as_posix()}/{src}".replace("/./", "/")
        status, kind = fetch_status(url)
        assert status == 200 and kind.startswith("image/"), f"{page}: image {src} -> {status} {kind}"
    outputs = main.select("div.cell_output")
    warned = [o.get_text(" ")[:200] for o in outputs if "warning" in o.get_text(" ").lower()]
    assert not warned, f"{page}: a cell prints a warning: {warned[0]!r}"
    cut = [td.get_text() for td in main.select("div.cell_output td, div.cell_output th")]
    cut = [text for text in cut if text.strip().endswith(("...", "…"))]
    assert not cut, f"{page}: a table cell is truncated: {cut[0]!r}"
    tables, figures = EXPECTED.get(page, (0, 0))
    assert len(main.find_all("table")) >= tables, f"{page}: expected at least {tables} tables"
    assert len(main.find_all("img")) >= figures, f"{page}: expected at least {figures} figures"


@pytest.mark.parametrize("page", PAGES)
def test_every_figure_has_a_numbered_caption(site, browser, page):
    """Each image of a page sits in a figure with a numbered caption ("Fig. 3 ..."), which the
    prose can refer to; a notebook's figures reach the page through {glue:figure}."""
    main = BeautifulSoup(browser(f"{site}/{page}"), "html.parser").find("main")
    numbers = []
    for img in main.find_all("img"):
        if "/_static/" in "/" + img.get("src", ""):
            continue  # the theme's own icons (the module index's +/- toggles), not figures
        figure = img.find_parent("figure")
        assert figure is not None, f"{page}: an image outside a figure: {img.get('src', '')[:60]!r}"
        caption = figure.find("figcaption")
        assert caption is not None and caption.get_text(strip=True), f"{page}: a figure without caption"
        number = caption.select_one(".caption-number")
        assert number is not None, f"{page}: an unnumbered figure: {caption.get_text(' ', strip=True)[:60]!r}"
        numbers.append(number.get_text(strip=True))
    assert len(numbers) == len(set(numbers)), f"{page}: figure numbers repeat: {numbers}"


@pytest.mark.parametrize("page", ["index.html", "book/intro.html", "book/scorecard.html", *EXPECTED])
def test_screenshot(site, browser, page):
    if page not in PAGES and page != "index.html":
        pytest.fail(f"{page} was not built")
    shot = SCREENSHOTS / (page.replace("/", "_").replace(".html", ".png"))
    browser(f"{site}/{page}", screenshot=shot)
    assert shot.exists() and shot.stat().st_size > 10_000, f"empty screenshot of {page}"


def test_api_reference_documents_every_public_name(site, browser):
    """The API page has an entry for each name in the modules' ``__all__``, with its docstring."""
    import importlib

    if "book/api.html" not in PAGES:
        pytest.fail("book/api.html was not built")
    dom = BeautifulSoup(browser(f"{site}/book/api.html"), "html.parser")
    anchors = {tag.get("id") for tag in dom.find_all(id=True)}
    missing = []
    for module in ("cgp_lib.repro.paper", "cgp_lib.repro.cache", "cgp_lib.repro.toy", "cgp_lib.repro.claims"):
        for name in importlib.import_module(module).__all__:
            if f"{module}.{name}" not in anchors:
                missing.append(f"{module}.{name}")
    assert "cgp_lib.explainer.CounterfactualProto.explain" in anchors
    assert not missing, f"not on the API page: {missing}"


# Pages whose formulas must render (the Method part): MathJax output present, no raw TeX left.
MATH_PAGES = [
    "notebooks/_executed/toy_objective.html",
    "notebooks/_executed/toy_fista.html",
    "notebooks/_executed/toy_prototypes.html",
    "notebooks/_executed/toy_blackbox.html",
    "book/method/metrics.html",
]


@pytest.mark.parametrize("page", MATH_PAGES)
def test_formulas_render_offline(site, browser, page):
    """MathJax is served from the build (_static/mathjax), not a CDN, and typesets every formula."""
    if page not in PAGES:
        pytest.fail(f"{page} was not built")
    dom = BeautifulSoup(browser(f"{site}/{page}"), "html.parser")
    scripts = [s.get("src", "") for s in dom.find_all("script")]
    mathjax = [src for src in scripts if "mathjax" in src.lower()]
    assert mathjax and not any(src.startswith(("http:", "https:", "//")) for src in mathjax), mathjax
    main = dom.find("main") or dom
    assert len(main.find_all("mjx-container")) >= 5, f"{page}: MathJax typeset no formula"
    for prose in main.select("p, li, dd, td"):
        text = prose.get_text(" ")
        assert "\\(" not in text and "\\[" not in text, f"{page}: raw TeX left: {text[:120]!r}"


def test_scorecard_lists_every_claim_the_chapters_saved(site, browser):
    """One table row per saved claim, the verdict counts on the scorecard and on the landing page."""
    from cgp_lib.repro.claims import VERDICTS, load_all

    chapters = load_all(ROOT / "notebooks" / "_executed" / "claims")
    assert {c["page"] for c in chapters} >= {"notebooks/_executed/mnist", "notebooks/_executed/breast_cancer"}
    rows = [row for c in chapters for row in c["claims"]]
    dom = BeautifulSoup(browser(f"{site}/book/scorecard.html"), "html.parser")
    main = dom.find("main") or dom
    body_rows = [tr for table in main.find_all("table") for tr in table.select("tbody tr")]
    assert len(body_rows) == len(rows)
    assert [tr.find_all("td")[-1].get_text(strip=True) for tr in body_rows] == [r["verdict"] for r in rows]
    text = " ".join(main.get_text(" ").split())
    assert f"{len(rows)} claims" in text
    for verdict in VERDICTS:
        assert f"{sum(r['verdict'] == verdict for r in rows)} {verdict}" in text
    landing = BeautifulSoup(browser(f"{site}/book/intro.html"), "html.parser").find("main")
    assert f"{len(rows)} claims" in " ".join(landing.get_text(" ").split())
    assert landing.find("img") is not None, "the landing page's figure is missing"


# Opens a page of the book in an iframe 1280 px wide, unfolds every folded cell, and lists the
# code blocks whose text is wider than the block (a line running past the page's edge).
OVERFLOW_PROBE = """<!doctype html><html><body>
<iframe id="page" style="width:1280px;height:1000px;border:0"></iframe>
<pre id="result">pending</pre>
<script>
const frame = document.getElementById("page");
frame.onload = () => {
  const doc = frame.contentDocument;
  doc.querySelectorAll("details").forEach((d) => { d.open = true; });
  const blocks = [...doc.querySelectorAll("main div.highlight pre")];
  const wide = blocks.filter((b) => b.scrollWidth > b.clientWidth + 1)
    .map((b) => b.textContent.split("\\n").reduce((a, l) => (l.length > a.length ? l : a), ""));
  document.getElementById("result").textContent = JSON.stringify({blocks: blocks.length, wide: wide});
};
frame.src = new URLSearchParams(location.search).get("page");
</script></body></html>"""


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith(("notebooks/", "book/"))])
def test_code_fits_the_page(site, browser, page):
    """No line of code runs past the edge of the page (code wraps; _static/cgp.css), folded cells
    included, in a window 1280 px wide."""
    import json

    probe = HTML / "_overflow_probe.html"
    probe.write_text(OVERFLOW_PROBE)
    dom = BeautifulSoup(browser(f"{site}/_overflow_probe.html?page=/{page}"), "html.parser")
    text = dom.find(id="result").get_text()
    assert text != "pending", f"{page}: the probe did not run (the page did not load in time)"
    result = json.loads(text)
    static = BeautifulSoup((HTML / page).read_text(), "html.parser").select("main div.highlight pre")
    assert result["blocks"] == len(static), f"{page}: {result['blocks']} of its {len(static)} code blocks measured"
    assert not result["wide"], f"{page}: {len(result['wide'])} code blocks too wide, e.g. {result['wide'][0][:100]!r}"
