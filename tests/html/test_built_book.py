"""The built book (_build/html; `make test` builds it first) reads offline."""

from pathlib import Path

import bookcheck
import pytest

HTML = Path(__file__).resolve().parents[2] / "_build" / "html"
PAGES = sorted(
    p
    for p in HTML.rglob("*.html")
    if "_static" not in p.relative_to(HTML).parts
)
STYLESHEETS = sorted(HTML.rglob("*.css"))


def test_the_book_is_built():
    assert (HTML / "index.html").exists(), (
        "no _build/html/index.html: run `make book` (make test runs it first)"
    )
    assert len(PAGES) > 10


@pytest.mark.parametrize(
    "page", PAGES, ids=lambda p: p.relative_to(HTML).as_posix()
)
def test_page_loads_nothing_from_the_network_and_links_resolve(page):
    html = page.read_text(encoding="utf-8", errors="replace")
    problems = bookcheck.external_loads(html) + bookcheck.broken_links(
        page, html, IDS
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "stylesheet", STYLESHEETS, ids=lambda p: p.relative_to(HTML).as_posix()
)
def test_stylesheet_loads_nothing_from_the_network(stylesheet):
    problems = bookcheck.external_css_loads(
        stylesheet.read_text(encoding="utf-8", errors="replace")
    )
    assert not problems, "\n".join(problems)


IDS = bookcheck.ids_reader()
