"""The book: the last run's executed notebooks as a static HTML site, and the figure gallery.

``python3 run_all.py --book`` builds ``build/book/<profile>/`` with Sphinx and
MyST-NB (the notebooks are not executed again: their stored outputs are
rendered) from what the last run of that profile left:

* a landing page with the project's statement and a card per notebook (its
  statement, its key figure, its claims' tally),
* one page per executed notebook, outputs and figures included,
* a scoreboard page: the claims grouped by kind (theorem, sanity, finding) with
  predicted, measured and the verdict, and per-seed agreement where a
  ``--seeds`` run of the profile exists.

Math is typeset by MathJax 2 from the files the ``jupyter-server-mathjax``
package ships (the same copy classic Jupyter serves), copied next to the pages,
so no page refers to a remote script, style or font.

:func:`write_gallery` writes ``figures/README.md`` (each figure, its one-line
caption, its notebook's claim table), which the runner refreshes after every
paper run so that a reader browsing the repository sees every figure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..record import REPO_ROOT, atomic_write_text, format_value

KINDS = ("theorem", "sanity", "finding")
KIND_TITLES = {"theorem": "Theorem checks", "sanity": "Sanity checks (hold by construction)",
               "finding": "Findings (beyond the papers)", None: "Unclassified (legacy notebooks)"}


# --------------------------------------------------------------------------- reading a run

def _results(figures: Path, stem: str) -> dict | None:
    """The notebook's ``results.json`` (its first output folder), or None if it has not run."""
    path = figures / stem / "results.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _cell_text(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def notebook_statement(path: Path) -> tuple[str, str]:
    """The notebook's title (its first heading) and statement (the first paragraph after it)."""
    nb = json.loads(path.read_text())
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        lines = _cell_text(cell).strip().splitlines()
        if not lines:
            continue
        title = lines[0].lstrip("#").strip() if lines[0].startswith("#") else path.stem
        para: list[str] = []
        for ln in lines[1:] if lines[0].startswith("#") else lines:
            if not ln.strip():
                if para:
                    break
                continue
            if ln.startswith("#"):
                if para:
                    break
                continue
            para.append(ln.strip())
        return title, " ".join(para)
    return path.stem, ""


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claim_table(verdicts: list[dict], *, seeds: dict | None = None) -> str:
    """A Markdown table of verdicts: kind, claim, predicted, measured, agrees (and seeds agreeing)."""
    head = "| kind | claim | predicted | measured | agrees |"
    rule = "|---|---|---|---|---|"
    if seeds:
        head += " seeds agreeing |"
        rule += "---|"
    rows = [head, rule]
    for v in verdicts:
        claim = v.get("claim", "")
        if v.get("case"):
            claim = claim if str(v["case"]) in claim else f"{claim} ({v['case']})"
        agrees = "not evaluated" if v.get("status") == "not evaluated" else ("yes" if v.get("agrees") else "**no**")
        row = (f"| {v.get('kind') or '-'} | {_cell(claim)} | {_cell(format_value(v.get('predicted')))} | "
               f"{_cell(format_value(v.get('measured')))} | {agrees} |")
        if seeds:
            row += f" {seeds.get((v.get('id'), v.get('case')), '-')} |"
        rows.append(row)
    return "\n".join(rows)


def tally(verdicts: list[dict]) -> str:
    """``"7 of 9 claims agree (theorem 3/4, sanity 2/2, finding 2/3)"``."""
    if not verdicts:
        return "no claims recorded"
    parts = []
    for kind in (*KINDS, None):
        vs = [v for v in verdicts if v.get("kind") == kind]
        if vs:
            parts.append(f"{kind or 'unclassified'} {sum(bool(v.get('agrees')) for v in vs)}/{len(vs)}")
    agree = sum(bool(v.get("agrees")) for v in verdicts)
    return f"{agree} of {len(verdicts)} claims agree ({', '.join(parts)})"


def seed_agreement(build: Path) -> dict:
    """``{(notebook, id, case): "2/3"}`` from the profile's ``--seeds`` scoreboard, if there is one."""
    path = build / "seeds" / "scoreboard.json"
    if not path.is_file():
        return {}
    out = {}
    for row in json.loads(path.read_text()):
        runs = row.get("seeds") or {}
        vs = [v for v in runs.values() if isinstance(v, dict)]
        if not vs:
            continue
        first = vs[0]
        key = (row.get("notebook"), first.get("id"), first.get("case"))
        out[key] = f"{sum(bool(v.get('agrees')) for v in vs)}/{len(vs)}"
    return out


# --------------------------------------------------------------------------- the gallery

def gallery_markdown(figures: Path) -> str:
    """``figures/README.md``: every figure (PNG) with its caption, and each notebook's claim table."""
    lines = ["# Figures", "",
             "Regenerated by `python3 run_all.py` (paper profile) after every run; do not edit by hand. "
             "Each notebook's figures, with a one-line caption, and its claim table (predicted, measured, agrees).",
             ""]
    for folder in sorted(p for p in figures.iterdir() if p.is_dir() and not p.name.startswith(".")):
        res = _results(figures, folder.name) or {}
        lines += [f"## {folder.name}", ""]
        if res:
            lines += [f"Profile `{res.get('profile')}`, seed {res.get('seed')}; {tally(res.get('verdicts', []))}.", ""]
        captions = res.get("captions", {})
        for png in sorted(folder.glob("*.png")):
            caption = captions.get(png.stem) or png.stem.replace("_", " ")
            lines += [f"![{_cell(caption)}]({folder.name}/{png.name})", "", f"*{png.stem}*: {caption}", ""]
        if res.get("verdicts"):
            lines += [claim_table(res["verdicts"]), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_gallery(figures: Path) -> Path:
    """Write ``<figures>/README.md`` atomically and return its path."""
    path = Path(figures) / "README.md"
    atomic_write_text(path, gallery_markdown(Path(figures)))
    return path


# --------------------------------------------------------------------------- the site

CONF = '''
project = "ilib"
author = "the ilib authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"
nb_render_markdown_format = "myst"
nb_ipywidgets_js = {}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_dmath_double_inline = True
html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["ilib-book.css"]
html_theme_options = {"font_family": "Georgia, serif", "head_font_family": "Georgia, serif",
                      "code_font_family": "monospace", "page_width": "1100px",
                      "show_powered_by": False}
html_show_sourcelink = False
html_show_sphinx = False
html_show_copyright = False
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    # MyST marks the page tex2jax_ignore and its math with class "math" (MathJax 3 style); tell MathJax 2 the same
    "tex2jax": {"inlineMath": [["\\\\(", "\\\\)"]], "processEscapes": True,
                "processClass": "math|output_area|tex2jax_process|mathjax_process"},
    # as classic Jupyter configures the same copy: the STIX web fonts it ships, no local-font probing, no image fonts
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    # HTML-CSS everywhere (the NativeMML output would ask for TeX .otf fonts that the package does not ship)
    "MMLorHTML": {"prefer": {"MSIE": "HTML", "Firefox": "HTML", "Safari": "HTML", "Chrome": "HTML", "Opera": "HTML",
                             "other": "HTML"}},
    # its hidden MathML copy for screen readers would ask for the same missing .otf fonts
    "menuSettings": {"zoom": "None", "assistiveMML": False},
    "showMathMenu": False,
}
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure", "myst.xref_missing"]
exclude_patterns = ["_build"]
'''

CSS = """
.ilib-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 1em; }
.ilib-card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 0.9em; }
.ilib-card img { max-width: 100%; height: auto; }
.ilib-card p.ilib-tally { font-size: 90%; color: #555; }
"""


def _mathjax_dir() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise SystemExit("error: the book needs jupyter-server-mathjax (pip install -e .)") from exc
    path = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (path / "MathJax.js").is_file():
        raise SystemExit(f"error: jupyter-server-mathjax has no MathJax.js under {path}")
    return path


def _project_statement() -> str:
    readme = REPO_ROOT / "README.md"
    if not readme.is_file():
        return ""
    para: list[str] = []
    for ln in readme.read_text().splitlines()[1:]:
        if not ln.strip():
            if para:
                break
            continue
        if ln.startswith("#"):
            break
        para.append(ln.strip())
    return " ".join(para)


def _key_figure(figures: Path, stem: str, res: dict | None) -> Path | None:
    names = [f for f in (res or {}).get("figures", []) if f.endswith(".png")]
    for name in names:
        if (figures / stem / name).is_file():
            return figures / stem / name
    pngs = sorted((figures / stem).glob("*.png")) if (figures / stem).is_dir() else []
    return pngs[0] if pngs else None


def write_sources(src: Path, *, executed: Path, figures: Path, build: Path, profile: str) -> list[str]:
    """Write the Sphinx sources of the book into ``src``; returns the notebook stems included."""
    notebooks = sorted(executed.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"error: no executed notebooks in {executed}: run `python3 run_all.py --profile {profile}` first")
    (src / "notebooks").mkdir(parents=True)
    static = src / "_static"
    (static / "cards").mkdir(parents=True)
    shutil.copytree(_mathjax_dir(), static / "mathjax")
    (static / "ilib-book.css").write_text(CSS)
    (src / "conf.py").write_text(CONF)
    seeds = seed_agreement(build)

    cards, stems, boards = [], [], {k: [] for k in (*KINDS, None)}
    for path in notebooks:
        stem = path.stem
        stems.append(stem)
        shutil.copy2(path, src / "notebooks" / path.name)
        title, statement = notebook_statement(path)
        res = _results(figures, stem)
        verdicts = (res or {}).get("verdicts", [])
        key = _key_figure(figures, stem, res)
        card = [f"::::{{container}} ilib-card", f"**{{doc}}`{title} <notebooks/{stem}>`**", "", statement, ""]
        if key is not None:
            shutil.copy2(key, static / "cards" / f"{stem}.png")
            card += [f"```{{image}} _static/cards/{stem}.png", f":alt: {stem}: {key.stem}", "```", ""]
        card += ["```{container} ilib-tally", tally(verdicts) if res else "not run in this profile", "```", "::::", ""]
        cards += card
        for v in verdicts:
            boards.setdefault(v.get("kind"), []).append((stem, v))

    index = [f"# ilib: compressed sensing with deep generative priors, executable", "",
             _project_statement(), "",
             f"Executed notebooks of the last `{profile}` run, with their outputs and figures; the "
             "[scoreboard](scoreboard) lists every claim: what theory predicts, what was measured, and whether "
             "they agree.", "",
             "```{toctree}", ":maxdepth: 1", ":hidden:", "", "scoreboard",
             *[f"notebooks/{s}" for s in stems], "```", "",
             ":::::{container} ilib-cards", *cards, ":::::", ""]
    (src / "index.md").write_text("\n".join(index))

    board = ["# Theory scoreboard", "",
             "Every claim of every notebook in the last run, grouped by kind: `theorem` (a published statement the "
             "data could refute), `sanity` (holds by construction), `finding` (observed beyond the papers)."
             + (" The last column counts the seeds of the `--seeds` run on which the claim agreed." if seeds else ""),
             ""]
    for kind in (*KINDS, None):
        rows = boards.get(kind) or []
        if not rows:
            continue
        agree = sum(bool(v.get("agrees")) for _, v in rows)
        board += [f"## {KIND_TITLES[kind]}", "", f"{agree} of {len(rows)} agree.", ""]
        head = "| notebook | claim | source | predicted | measured | agrees |"
        rule = "|---|---|---|---|---|---|"
        if seeds:
            head, rule = head + " seeds agreeing |", rule + "---|"
        board += [head, rule]
        for stem, v in rows:
            claim = v.get("claim", "")
            if v.get("case") and str(v["case"]) not in claim:
                claim = f"{claim} ({v['case']})"
            agrees = "not evaluated" if v.get("status") == "not evaluated" else ("yes" if v.get("agrees") else "**no**")
            row = (f"| {{doc}}`{stem} <notebooks/{stem}>` | {_cell(claim)} | {_cell(v.get('source') or '-')} | "
                   f"{_cell(format_value(v.get('predicted')))} | {_cell(format_value(v.get('measured')))} | {agrees} |")
            if seeds:
                row += f" {seeds.get((stem, v.get('id'), v.get('case')), '-')} |"
            board.append(row)
        board.append("")
    (src / "scoreboard.md").write_text("\n".join(board))
    return stems


def build_book(profile: str = "paper", *, build: Path | None = None, figures: Path | None = None,
               out: Path | None = None, quiet: bool = True) -> Path:
    """Build the book of the last ``profile`` run; returns the landing page (``index.html``).

    The site is built in a private folder next to ``out`` and swapped in by
    renames, so an interrupted build never leaves a half-written book.
    """
    from sphinx.cmd.build import build_main

    build = Path(build or REPO_ROOT / "build" / profile).resolve()
    figures = Path(figures or (REPO_ROOT / "figures" if profile == "paper" else build / "figures")).resolve()
    out = Path(out or REPO_ROOT / "build" / "book" / profile).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    built = False
    try:
        write_sources(work / "src", executed=build / "executed", figures=figures, build=build, profile=profile)
        args = ["-b", "html", "-E", "-j", "auto", str(work / "src"), str(work / "html"), "-d", str(work / "doctrees")]
        rc = build_main((["-q"] if quiet else []) + args)
        if rc != 0 or not (work / "html" / "index.html").is_file():
            raise SystemExit(f"error: the book did not build (sphinx exit status {rc}); its sources are in {work / 'src'}")
        old = out.parent / f".{out.name}.old-{os.getpid()}-{time.time_ns()}"
        if out.exists():
            os.rename(out, old)
        os.rename(work / "html", out)
        shutil.rmtree(old, ignore_errors=True)
        built = True
    finally:
        if built or not (work / "src" / "conf.py").exists():
            shutil.rmtree(work, ignore_errors=True)
    return out / "index.html"
