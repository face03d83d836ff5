"""The attention explorer as HTML: one self-contained page (no network, no external file) or a notebook cell.

    Explorer(panels).document() -> str   a whole HTML page;  .save(path) writes it
    Explorer(panels)._repr_html_() -> str  the same explorer as a fragment, for Jupyter: each one has its own id,
                                           its styles scoped to .vb-explorer and its script in its own closure
    served_document(title, modalities, max_bytes) -> str   vit-bert explore's page: an input box, panels fetched on submit

``panels``: one ``page_data.panel_data`` dict per input (several: side by side, e.g. a co-trained model's image
and sentence). The script and styles are the package's assets/explorer.js and explorer.css, inlined.
"""

from __future__ import annotations

import html
import json
import uuid
from importlib.resources import files
from pathlib import Path

ASSETS = files("vit_bert.viz") / "assets"


def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def script_json(value) -> str:
    """JSON that cannot end the <script> element it sits in."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


class Explorer:
    def __init__(self, panels: list[dict], title: str = "vit_bert attention explorer"):
        self.panels = panels
        self.title = title

    def fragment(self) -> str:
        node = f"vb-{uuid.uuid4().hex[:12]}"
        return (
            f"<style>{asset('explorer.css')}</style>\n"
            f'<div id="{node}" class="vb-explorer">loading the attention explorer…</div>\n'
            f'<script type="application/json" id="{node}-data">{script_json(self.panels)}</script>\n'
            f"<script>(function () {{\n{asset('explorer.js')}\n"
            f'mountExplorer(document.getElementById("{node}"), JSON.parse(document.getElementById("{node}-data").textContent));\n'
            "})();</script>"
        )

    def document(self) -> str:
        return html_page(self.title, "", self.fragment())

    def _repr_html_(self) -> str:
        return self.fragment()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.document(), encoding="utf-8")
        return path


def served_document(title: str, modalities: set[str], max_bytes: int) -> str:
    inputs = []
    if "text" in modalities:
        inputs.append('<input name="sentence" size="60" placeholder="a sentence"> <button data-kind="text">explore the sentence</button>')
    if "image" in modalities:
        inputs.append('<input name="image" type="file" accept="image/*"> <button data-kind="image">explore the image</button>')
    body = (f'<form id="vb-form">{" <br> ".join(inputs)} <small>(at most {max_bytes / 1e6:g} MB)</small></form>\n'
            '<p id="vb-status"></p>\n<div id="vb-root" class="vb-explorer"></div>\n'
            f"<script>(function () {{\n{asset('explorer.js')}\n{asset('serve.js')}\n}})();</script>")
    return html_page(title, f"<style>{asset('explorer.css')} .vb-error {{ color: #b00; }}</style>", body)


def html_page(title: str, head: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'  # no favicon request
            f"<title>{html.escape(title)}</title>{head}</head>\n<body>\n<h2>{html.escape(title)}</h2>\n{body}\n</body></html>\n")
