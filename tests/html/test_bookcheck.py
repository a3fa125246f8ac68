"""Each check of bookcheck catches what it exists to catch."""

from pathlib import Path

import bookcheck


def test_external_loads_found_in_tags_and_styles():
    html = """<html><head>
      <script src="https://cdn.example.org/mathjax.js"></script>
      <link rel="stylesheet" href="//fonts.example.org/font.css">
      <link rel="next" href="https://example.org/not-fetched.html">
      <style>body { background: url('https://img.example.org/bg.png') }</style>
    </head><body><img src="local.png"><script src="_static/local.js"></script>
      <a href="https://example.org/">a link is not a load</a></body></html>"""
    found = bookcheck.external_loads(html)
    assert found == [
        "loads https://cdn.example.org/mathjax.js",
        "loads //fonts.example.org/font.css",
        "loads https://img.example.org/bg.png",
    ]
    assert bookcheck.external_css_loads(
        "@import 'https://x.example/y.css'; a { b: url(local.svg) }"
    ) == ["loads https://x.example/y.css"]


def test_broken_links_found(tmp_path):
    (tmp_path / "other.html").write_text('<p id="here">x</p>')
    page = tmp_path / "page.html"
    html = """<a href="other.html#here">ok</a><a href="#top">self</a>
              <p id="top"></p>
              <a href="missing.html">no file</a><a href="other.html#gone">no
              anchor</a>
              <a href="https://example.org/">external</a>
              <a href="mailto:a@b.c">mail</a>"""
    page.write_text(html)
    problems = bookcheck.broken_links(page, html, bookcheck.ids_reader())
    assert problems == [
        "link to a missing file: missing.html",
        "link to a missing anchor: other.html#gone",
    ]
    assert Path(tmp_path / "other.html").exists()
