"""Render every page of the built book in headless Chromium; fail on any console error.

(Pages: every HTML file outside ``_static/``, which holds theme fragments, not pages.)

Run with ``make browser-check`` after ``make book``. Needs Chromium
(Debian: ``apt-get install chromium``; or set CHROMIUM to its path). Each page
is opened from disk (file://, as a reader offline would) and saved as a PNG
under ``_build/screenshots/``. A page fails when the browser reports a script
error or a resource it could not load (any attempt to reach the network fails
here too, since Chromium runs with background networking off and the book must
not need the network), or when the screenshot is missing or nearly empty.
"""
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
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0", "--window-size=1280,1600",
         "--virtual-time-budget=3000"]
#: Console text that means something on the page went wrong.
BAD = ("Uncaught", "Failed to load resource", "net::ERR_", "is not defined", "SyntaxError", "TypeError")
MIN_PNG_BYTES = 20_000  # a blank 1280x1600 page compresses to far less


def chromium():
    candidate = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not candidate:
        sys.exit("Chromium not found: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM.")
    return candidate


def render(browser, page):
    rel = page.relative_to(HTML)
    shot = SHOTS / rel.with_suffix(".png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                                 page.as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    problems = [line.split("] ", 1)[-1] for line in console if any(bad in line for bad in BAD)]
    if result.returncode != 0:
        problems.append(f"chromium exited with {result.returncode}")
    if not shot.exists() or shot.stat().st_size < MIN_PNG_BYTES:
        problems.append("no screenshot, or a nearly empty one")
    return rel.as_posix(), problems


def main():
    if not (HTML / "index.html").exists():
        sys.exit("No built book: run `make book` first.")
    browser = chromium()
    pages = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda page: render(browser, page), pages))
    failed = [(rel, problems) for rel, problems in results if problems]
    for rel, problems in results:
        print(f"{'FAIL' if problems else 'ok  '} {rel}")
        for problem in problems:
            print(f"       {problem}")
    print(f"\n{len(pages) - len(failed)} of {len(pages)} pages rendered without errors; "
          f"screenshots in {SHOTS.relative_to(ROOT)}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
