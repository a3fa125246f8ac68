"""Render every page of the built book in headless Chromium.

A page fails on any console error, and when the code of a notebook cell
scrolls sideways at the reading width.

(Pages: every HTML file outside ``_static/``, which holds theme fragments, not
pages.)

Run with ``make browser-check`` after ``make book``. Needs Chromium
(Debian: ``apt-get install chromium``; or set CHROMIUM to its path). Each page
is opened from disk (file://, as a reader offline would) and saved as a PNG
under ``_build/screenshots/``. A page fails when the browser reports a script
error or a resource it could not load (any attempt to reach the network fails
here too, since Chromium runs with background networking off and the book must
not need the network), or when the screenshot is missing or nearly empty.

A page also fails when, at 1280 px, a block of code or of printed output is
wider than its column (its ``scrollWidth`` exceeds its ``clientWidth``), so
that a reader would scroll sideways inside it: a notebook cell's code or
output, a code block of a Markdown page, a table (its scrolling container).
Code must fit at the project's line length (79, checked on the sources by ruff
and the hygiene checks) at the font size of ``book/_static/book.css``; printed
output is brought within the column where it is printed. Blocks that the style
sheet wraps on purpose (error reports, the messages of the error index, and the
output of cells tagged ``wrap-output``) do not scroll, so they pass. The page
is opened from a copy with a small script added that measures every such block
after loading and reports the offenders on the console, each with the longest
line of its block.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1280,1600",
    "--virtual-time-budget=3000",
]
#: Console text that means something on the page went wrong.
BAD = (
    "Uncaught",
    "Failed to load resource",
    "net::ERR_",
    "is not defined",
    "SyntaxError",
    "TypeError",
)
MIN_PNG_BYTES = 20_000  # a blank 1280x1600 page compresses to far less

#: What the measuring script measures: code, printed output and tables.
MEASURED = ", ".join(
    [
        "div.cell_input pre",
        "div.cell_output pre",
        "div.highlight pre",
        "div.pst-scrollable-table-container",
    ]
)

_MEASURE = """<script>
window.addEventListener("load", () => {
  const wide = [];
  for (const pre of document.querySelectorAll("MEASURED")) {
    if (pre.scrollWidth <= pre.clientWidth + 1) continue;
    const longest = pre.textContent.split("\\n")
      .reduce((a, b) => (b.length > a.length ? b : a), "");
    wide.push([pre.scrollWidth - pre.clientWidth, longest.trim()]);
  }
  console.log("WIDE-BLOCKS " + JSON.stringify(wide));
});
</script>""".replace("MEASURED", MEASURED)


def chromium():
    candidate = (
        os.environ.get("CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not candidate:
        sys.exit(
            "Chromium not found: install it (Debian/Ubuntu: apt-get install "
            "chromium) or set CHROMIUM."
        )
    return candidate


def wide_blocks(console):
    """The code blocks the measuring script found scrolling, as problems."""
    for line in console:
        if "WIDE-BLOCKS " in line:
            payload = line.split("WIDE-BLOCKS ", 1)[1]
            payload = payload[: payload.rindex("]") + 1]
            return [
                f"block scrolls by {pixels} px; its longest line: "
                f"{text[:70]!r}"
                for pixels, text in json.loads(payload)
            ]
    return ["the width measurement did not report (script not run?)"]


def render(browser, page):
    rel = page.relative_to(HTML)
    shot = SHOTS / rel.with_suffix(".png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    # A sibling copy, so that the page's relative links and styles still
    # resolve.
    html = page.read_text(encoding="utf-8")
    # A page without a body is a redirect (the book's index.html): nothing to
    # measure there.
    has_body = "</body>" in html
    measured = page.with_name(f".measure-{page.name}")
    measured.write_text(
        html.replace("</body>", _MEASURE + "</body>"), encoding="utf-8"
    )
    try:
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run(
                [
                    browser,
                    *FLAGS,
                    f"--user-data-dir={profile}",
                    f"--screenshot={shot}",
                    measured.as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
    finally:
        measured.unlink()
    console = [
        line for line in result.stderr.splitlines() if "CONSOLE" in line
    ]
    problems = [
        line.split("] ", 1)[-1]
        for line in console
        if any(bad in line for bad in BAD) and "WIDE-BLOCKS" not in line
    ]
    if has_body:
        problems += wide_blocks(console)
    if result.returncode != 0:
        problems.append(f"chromium exited with {result.returncode}")
    if not shot.exists() or shot.stat().st_size < MIN_PNG_BYTES:
        problems.append("no screenshot, or a nearly empty one")
    return rel.as_posix(), problems


def main():
    if not (HTML / "index.html").exists():
        sys.exit("No built book: run `make book` first.")
    browser = chromium()
    pages = sorted(
        p
        for p in HTML.rglob("*.html")
        if "_static" not in p.relative_to(HTML).parts
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda page: render(browser, page), pages))
    failed = [(rel, problems) for rel, problems in results if problems]
    for rel, problems in results:
        print(f"{'FAIL' if problems else 'ok  '} {rel}")
        for problem in problems:
            print(f"       {problem}")
    print(
        f"\n{len(pages) - len(failed)} of {len(pages)} pages rendered without "
        f"errors; screenshots in {SHOTS.relative_to(ROOT)}/"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
