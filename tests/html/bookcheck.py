"""Checks on the built HTML book: no network loads, no broken internal links.

The functions take a page's HTML text (or a CSS text) and return problems as
strings; ``test_built_book.py`` runs them over ``_build/html`` and
``test_bookcheck.py`` shows each one catching what it exists to catch.
"""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

#: Attributes through which a browser fetches something while showing a page.
RESOURCE_ATTRIBUTES = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
    "embed": "src",
    "object": "data",
    "track": "src",
    "input": "src",
}
#: <link rel=...> values that make the browser fetch the target.
FETCHING_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "preload",
    "modulepreload",
    "prefetch",
    "manifest",
    "apple-touch-icon",
    "preconnect",
    "dns-prefetch",
}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


def is_external(url):
    return url.startswith("//") or urlparse(url).scheme in {"http", "https"}


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.resources, self.links, self.ids, self.styles = [], [], set(), []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag in RESOURCE_ATTRIBUTES and attrs.get(RESOURCE_ATTRIBUTES[tag]):
            self.resources.append(attrs[RESOURCE_ATTRIBUTES[tag]])
        if tag == "link" and attrs.get("href"):
            rels = set((attrs.get("rel") or "").lower().split())
            (self.resources if rels & FETCHING_RELS else self.links).append(
                attrs["href"]
            )
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if attrs.get("style"):
            self.styles.append(attrs["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def parse(html):
    parser = _PageParser()
    parser.feed(html)
    return parser


def external_loads(html):
    """Network addresses the page would fetch when shown: problem strings."""
    page = parse(html)
    found = [url for url in page.resources if is_external(url)]
    found += [
        url
        for style in page.styles
        for url in css_urls(style)
        if is_external(url)
    ]
    return [f"loads {url}" for url in found]


def css_urls(css):
    return [a or b for a, b in CSS_URL.findall(css)]


def external_css_loads(css):
    return [f"loads {url}" for url in css_urls(css) if is_external(url)]


def broken_links(page_path, html, ids_of):
    """Internal links of one page whose file or #anchor does not exist.

    ``ids_of(path)`` returns the set of ids in the page at ``path`` (or None
    if there is no such file).
    """
    problems = []
    for href in parse(html).links:
        parsed = urlparse(href)
        if is_external(href) or parsed.scheme in {
            "mailto",
            "javascript",
            "data",
        }:
            continue
        target = (
            (page_path.parent / unquote(parsed.path)).resolve()
            if parsed.path
            else page_path.resolve()
        )
        if target.is_dir():
            target = target / "index.html"
        ids = ids_of(target)
        if ids is None:
            problems.append(f"link to a missing file: {href}")
        elif parsed.fragment and unquote(parsed.fragment) not in ids:
            problems.append(f"link to a missing anchor: {href}")
    return problems


def ids_reader():
    """``ids_of(path)`` for :func:`broken_links`, caching each page's ids."""
    cache = {}

    def ids_of(path):
        path = Path(path)
        if path not in cache:
            if not path.exists():
                cache[path] = None
            elif path.suffix == ".html":
                cache[path] = parse(
                    path.read_text(encoding="utf-8", errors="replace")
                ).ids
            else:
                cache[path] = set()
        return cache[path]

    return ids_of
