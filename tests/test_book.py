"""The book and the gallery: built from the smoke run, read in a real (headless) browser, nothing fetched remotely.

The browser is the system's Chromium (Debian: ``apt-get install chromium chromium-driver``), driven by
Selenium through the system's chromedriver; nothing is downloaded at run time. Without it the browser
test skips and says how to install it; ``python3 run_all.py --tests`` installs it where it can.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from ilib.harness import book

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "book" / "screenshots"
REMOTE = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)=["'](?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def smoke_book(smoke_run, tmp_path_factory):
    tmp, proc = smoke_run
    assert (tmp / "build" / "executed").is_dir(), proc.stdout[-2000:] + proc.stderr[-2000:]
    out = tmp_path_factory.mktemp("book") / "smoke"
    index = book.build_book("smoke", build=tmp / "build", figures=tmp / "figures", out=out)
    return tmp, out, index


@pytest.mark.notebooks
def test_the_book_has_a_landing_page_a_page_per_notebook_and_a_scoreboard(smoke_book):
    tmp, out, index = smoke_book
    executed = sorted((tmp / "build" / "executed").glob("*.ipynb"))
    assert executed
    landing = index.read_text()
    for nb in executed:
        assert (out / "notebooks" / f"{nb.stem}.html").is_file()
        assert f"notebooks/{nb.stem}.html" in landing, f"no card links to {nb.stem}"
    assert landing.count('class="ilib-card docutils') == len(executed)  # the cards, not their grid ("ilib-cards")
    assert "claims agree" in landing
    board = (out / "scoreboard.html").read_text()
    verdicts = [v for nb in executed for v in json.loads((tmp / "figures" / nb.stem / "results.json").read_text())["verdicts"]]
    kinds = {v.get("kind") for v in verdicts}
    for kind in kinds & {"theorem", "sanity", "finding"}:
        assert book.KIND_TITLES[kind] in board
    assert board.count("<tr") >= len(verdicts)


@pytest.mark.notebooks
def test_no_page_refers_to_a_remote_script_style_font_or_image(smoke_book):
    _, out, _ = smoke_book
    pages = list(out.rglob("*.html"))
    assert pages
    for page in pages:
        hits = REMOTE.findall(page.read_text())
        assert not hits, f"{page.relative_to(out)} loads remote resources: {hits[:3]}"
    assert (out / "_static" / "mathjax" / "MathJax.js").is_file()
    for css in out.rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", css.read_text()), f"{css.name} imports remote CSS"


def test_the_gallery_lists_every_figure_with_its_caption_and_claims(tmp_path):
    fig = tmp_path / "figures" / "99_demo"
    fig.mkdir(parents=True)
    for name in ("a_curve", "b_map"):
        (fig / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    verdicts = [{"id": "c", "case": None, "kind": "theorem", "claim": "a | b holds", "predicted": 1.0,
                 "measured": 0.98, "agrees": True}]
    (fig / "results.json").write_text(json.dumps({"profile": "paper", "seed": 0, "verdicts": verdicts,
                                                   "captions": {"a_curve": "the curve against its bound"}}))
    text = book.write_gallery(tmp_path / "figures").read_text()
    assert "![the curve against its bound](99_demo/a_curve.png)" in text
    assert "(99_demo/b_map.png)" in text and "*b_map*" in text
    assert "a \\| b holds" in text and "1 of 1 claims agree (theorem 1/1)" in text


def test_the_committed_gallery_shows_every_committed_figure():
    gallery = ROOT / "figures" / "README.md"
    assert gallery.is_file(), "figures/README.md is written by run_all.py after each paper run"
    text = gallery.read_text()
    missing = [str(p.relative_to(ROOT / "figures")) for p in sorted((ROOT / "figures").glob("*/*.png"))
               if f"({p.parent.name}/{p.name})" not in text]
    assert not missing, f"figures/README.md does not show {missing}"


def _browser():
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("no Chromium/chromedriver: install them with `apt-get install chromium chromium-driver` "
                    "(Debian/Ubuntu) to run the browser test")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e .[test])")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


# Sphinx loads MathJax with ``async``: the page's load event can come before the script has run, so wait for it
# (up to 60 s) before concluding that it is missing
TYPESET = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function wait() {
  if (window.MathJax && MathJax.Hub && MathJax.Hub.Queue) { MathJax.Hub.Queue(() => done("typeset")); return; }
  if (Date.now() - t0 > 60000) { done("no MathJax"); return; }
  setTimeout(wait, 100);
})();
"""

PAGE_FACTS = """
const clone = document.body.cloneNode(true);
clone.querySelectorAll("pre, code, script, style, .highlight, .MathJax_Preview, .MathJax, .MathJax_Display")
     .forEach(e => e.remove());
return {
  typeset: document.querySelectorAll(".MathJax, .MathJax_Display").length,
  mathSpans: document.querySelectorAll(".math").length,
  text: clone.innerText,
  images: Array.from(document.images).map(i => [i.getAttribute("src"), i.complete, i.naturalWidth, i.naturalHeight]),
};
"""


@pytest.mark.notebooks
def test_in_a_real_browser_math_is_typeset_figures_load_and_nothing_leaves_the_machine(smoke_book):
    tmp, out, index = smoke_book
    driver = _browser()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        driver.set_script_timeout(300)
        pages = [index, out / "scoreboard.html", *sorted((out / "notebooks").glob("*.html"))]
        shot_notebook = True
        for page in pages:
            driver.get(page.as_uri())
            name = page.relative_to(out)
            if driver.execute_script(PAGE_FACTS)["mathSpans"]:  # Sphinx loads MathJax only on pages with math
                assert driver.execute_async_script(TYPESET) == "typeset", f"{name}: MathJax did not load"
            facts = driver.execute_script(PAGE_FACTS)
            if facts["mathSpans"]:
                assert facts["typeset"] > 0, f"{name}: math spans but nothing typeset"
            raw = re.findall(r"\$[^$\n]{1,80}\$|\\\((?:[^)]|\)(?!\\)){1,80}\\\)", facts["text"])
            assert not raw, f"{name}: raw TeX left in the page text: {raw[:3]}"
            bad = [src for src, complete, w, h in facts["images"] if not (complete and w > 0 and h > 0)]
            assert not bad, f"{name}: images that did not load: {bad}"
            if page == index:
                assert facts["images"], "the landing page shows no figure"
                driver.save_screenshot(str(SHOTS / "landing.png"))
            elif page.parent.name == "notebooks" and shot_notebook:
                assert facts["typeset"] > 0, f"{name}: a notebook page with no typeset math"
                driver.save_screenshot(str(SHOTS / "notebook.png"))
                shot_notebook = False
        failed = [e["message"] for e in driver.get_log("browser") if e.get("source") == "network"
                  and not e["message"].startswith("about:")]
        assert not failed, f"resources that failed to load: {failed[:3]}"
        urls = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        assert urls, "the browser log recorded no requests at all"
        remote = sorted({u for u in urls if not u.startswith(("file:", "data:", "blob:", "about:"))})
        assert not remote, f"requests left the machine: {remote[:5]}"
    finally:
        driver.quit()
    assert (SHOTS / "landing.png").stat().st_size > 0 and (SHOTS / "notebook.png").stat().st_size > 0
