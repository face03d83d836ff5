"""The attention explorer page: its data (fast) and the page itself in headless Chromium (slow).

The browser tests need Debian's chromium (``.ci/run`` installs it) and the playwright package, which drives that
browser; nothing downloads a browser of its own. They fail, not skip, when Chromium is missing.
"""

import base64
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import write_png

import vit_bert
from vit_bert.commands import main as vit_bert_main
from vit_bert.config import DataContract
from vit_bert.errors import ConfigError, SourceNotFoundError
from vit_bert.multitask import MultiTaskModel, task_configs
from vit_bert.tokenizer import train_wordpiece
from vit_bert.viz import attention_rollout, explore, trace_layer
from vit_bert.viz.explorer import read_input
from vit_bert.viz.page_data import chosen_steps_layers
from vit_bert.viz.page_encoding import base85, dequantised_rows, quantised_rows
from vit_bert.viz.server import ExplorerServer, serve
from vit_bert.predict import InputReader, Predictor, expand_inputs

TEXTS = ["a good film", "a bad film", "the plot was dull", "the acting was fine"]
SENTENCE = "the film was good"


def image_model(**overrides):
    model = vit_bert.build_model("vit-ti/16", **{"img_size": 64, "depth": 3, "num_classes": 3, "reg_tokens": 2, **overrides})
    model.set_data_contract(DataContract("image", ["cat", "dog", "owl"], in_chans=3, img_size=64, mean=[0.5] * 3, std=[0.5] * 3))
    return model


@pytest.fixture(scope="module")
def text_source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert")
    tokenizer = train_wordpiece(TEXTS, vocab_size=60)
    model = vit_bert.build_model("bert-tiny", vocab_size=tokenizer.get_vocab_size(), depth=3)
    model.save_pretrained(folder, tokenizer=tokenizer, class_names=["neg", "pos"])
    return str(folder)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "photo.png"
    torch.manual_seed(0)
    write_png(torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8), str(path))
    return str(path)


def unpack(blob: dict) -> np.ndarray:
    """The page's decoding, in Python: base85 -> inflate -> byte planes -> values."""
    planes = np.frombuffer(zlib.decompress(base64.b85decode(blob["data"])), dtype=np.uint8)
    size = np.dtype(blob["dtype"]).itemsize
    return planes.reshape(size, -1).T.copy().view(np.dtype(blob["dtype"]).newbyteorder("<")).reshape(blob["shape"])


# ---- the data, without a browser


def test_base85_is_the_standard_librarys():
    for data in (b"", b"a", b"abcd", bytes(range(256)) * 3 + b"xy"):
        assert base85(data) == base64.b85encode(data).decode()


def test_quantised_rows_read_back_within_row_max_over_510():
    weights = torch.rand(2, 3, 7, 7).softmax(dim=-1)
    codes, scales = quantised_rows(weights)
    assert codes.dtype == np.uint8 and codes.max() == 255
    back = dequantised_rows(codes, scales)
    assert np.all(np.abs(back - weights.numpy()) <= scales[..., None] / 510 + 1e-7)


def test_steps_layers_default_to_all_that_fit_and_are_checked():
    assert chosen_steps_layers(4, 20, 256, -1, None) == [0, 1, 2, 3]
    assert chosen_steps_layers(12, 197, 768, -1, None) == [11]  # ViT-B: one layer's X, Q, K, V are 2.4 MB
    assert chosen_steps_layers(4, 20, 256, -1, [-1, 0, 0]) == [0, 3]
    with pytest.raises(ConfigError, match="steps layer 7 does not exist; the model has 4 layers"):
        chosen_steps_layers(4, 20, 256, -1, [7])


def test_image_panel_holds_every_layer_and_head_and_the_traced_arithmetic(photo):
    model = image_model()
    [panel] = explore(model, photo).panels
    predictor = Predictor("m", model=model)
    batch, image, _ = read_input(predictor, photo)
    with torch.no_grad():
        _, attentions = model.eval()(**batch, return_attention=True)
        logits = model(**batch)[0].softmax(dim=-1)
    stored = dequantised_rows(unpack(panel["attention"]), unpack(panel["scales"]))
    assert stored.shape == (3, 3, 1 + 2 + 16, 19)
    assert np.abs(stored - torch.stack([a[0] for a in attentions]).numpy()).max() < 1 / 510 + 1e-6
    assert panel["tokens"] == ["[CLS]", "reg0", "reg1"] and panel["prefix"] == 3 and panel["grid"] == [4, 4]
    assert [(p["label"], round(p["probability"], 6)) for p in panel["prediction"]] == [
        (["cat", "dog", "owl"][i], round(float(logits[i]), 6)) for i in logits.argsort(descending=True)]
    assert panel["steps_layers"] == [0, 1, 2]
    trace = trace_layer(model, batch, 1, 2, out=lambda *_: None)
    assert np.allclose(unpack(panel["Q"])[1, 2], trace["Q"].numpy(), atol=1e-6)
    assert np.allclose(unpack(panel["X"])[1], trace["X"].numpy(), atol=1e-6)
    assert np.allclose(unpack(panel["cls"]), trace["cls"].numpy(), atol=1e-6)
    assert panel["image"].startswith("data:image/png;base64,")


def test_a_model_without_a_class_token_gets_the_mean_row_not_a_patch_called_cls(photo):
    model = image_model(class_token=False, reg_tokens=0, pool="mean")
    [panel] = explore(model, photo).panels
    assert panel["class_token"] is False and panel["pool"] == "mean" and panel["tokens"] == [] and panel["prefix"] == 0
    batch, _, _ = read_input(Predictor("m", model=model), photo)
    with torch.no_grad():
        _, attentions = model.eval()(**batch, return_attention=True)
    rollout = attention_rollout([a[:1] for a in attentions])[0]
    assert np.allclose(unpack(panel["rollout"])[-1], rollout.mean(dim=0).numpy(), atol=1e-6)


def test_a_page_is_one_file_with_no_address_to_fetch(text_source, tmp_path):
    page = explore(text_source, SENTENCE, "a bad film")
    document = page.save(tmp_path / "page.html").read_text()
    assert len(page.panels) == 2 and [p["tokens"][0] for p in page.panels] == ["[CLS]", "[CLS]"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(""", document)  # nothing from elsewhere
    assert "</script>" not in json.dumps(page.panels) and document.count("<script") == 2
    first, second = page._repr_html_(), page._repr_html_()
    assert re.search(r'id="(vb-\w+)"', first).group(1) != re.search(r'id="(vb-\w+)"', second).group(1)


def test_a_sentence_too_long_to_be_a_file_name_is_read_as_a_sentence(text_source):
    sentence = " ".join(["a good film"] * 40)  # 439 characters: stat() of it as a path raises "File name too long"
    [panel] = explore(text_source, sentence).panels
    assert panel["tokens"][:2] == ["[CLS]", "a"] and panel["title"].startswith("'a good film a good film")
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        expand_inputs([sentence], "image")


def test_served_inputs_over_the_limit_or_of_the_wrong_kind_get_one_line(text_source, photo):
    server = ExplorerServer(text_source, 0, 1000, task=None, options=("cpu", None, None, None), layer=-1, steps_layers=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        def post(body: bytes, kind: str):
            request = urllib.request.Request(server.url + "explore", data=body, headers={"Content-Type": kind}, method="POST")
            try:
                with urllib.request.urlopen(request) as response:
                    return response.status, json.load(response)
            except urllib.error.HTTPError as err:
                return err.code, json.load(err)

        assert server.server_address[0] == "127.0.0.1"
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:\d+ .*pass another --port"):
            ExplorerServer(text_source, server.server_address[1], 1000, task=None, options=("cpu", None, None, None), layer=-1, steps_layers=None)
        status, answer = post(SENTENCE.encode(), "text/plain; charset=utf-8")
        assert status == 200 and answer["panels"][0]["tokens"][0] == "[CLS]"
        status, answer = post(b"x" * 1001, "text/plain")
        assert status == 413 and "1001 bytes; this server takes at most 1000" in answer["error"]
        status, answer = post(open(photo, "rb").read()[:900], "image/png")
        assert status == 400 and "reads text, not images" in answer["error"]
        status, answer = post(b"\xff\xfe", "text/plain")
        assert status == 400 and "not UTF-8" in answer["error"]
    finally:
        server.shutdown()
        server.server_close()



def test_serve_stops_on_sigint_and_puts_back_the_handler_it_replaced(text_source, monkeypatch, capsys):
    def interrupted(self, *args, **kwargs):  # SIGINT arriving while it serves: Python's handler raises in the main thread
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        raise KeyboardInterrupt

    def notebook_kernels_own(signum, frame):
        raise AssertionError("not called")

    monkeypatch.setattr(ExplorerServer, "serve_forever", interrupted)
    before = signal.signal(signal.SIGINT, notebook_kernels_own)
    try:
        serve(text_source, port=0)
        assert signal.getsignal(signal.SIGINT) is notebook_kernels_own
    finally:
        signal.signal(signal.SIGINT, before)
    assert capsys.readouterr().out.splitlines()[-1] == "stopped"

def test_served_image_upload_is_recomputed_through_the_image_model(photo, tmp_path):
    image_model().save_pretrained(tmp_path / "vit")
    server = ExplorerServer(str(tmp_path / "vit"), 0, 1_000_000, task=None, options=("cpu", None, None, None), layer=-1, steps_layers=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.modalities == {"image"}
        with urllib.request.urlopen(server.url) as response:
            page = response.read().decode()
        assert 'name="image" type="file"' in page and 'name="sentence"' not in page
        request = urllib.request.Request(server.url + "explore", data=b"a good film", headers={"Content-Type": "text/plain"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 400 and "reads images, not text" in json.load(refused.value)["error"]
        request = urllib.request.Request(server.url + "explore", data=open(photo, "rb").read(), headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(request) as response:
            [panel] = json.load(response)["panels"]
        assert panel["modality"] == "image" and panel["grid"] == [4, 4] and panel["tokens"] == ["[CLS]", "reg0", "reg1"]
        assert panel["prediction"] == explore(str(tmp_path / "vit"), photo).panels[0]["prediction"]  # the same weights, read from disk
    finally:
        server.shutdown()
        server.server_close()


# ---- the page in headless Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("the explorer's browser tests need Chromium: apt-get install -y chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Page:
    """A page opened offline: any request that is not the file itself, and any console error, fails the test."""

    def __init__(self, browser, url: str, offline: bool = True):
        self.context = browser.new_context(offline=offline, viewport={"width": 1300, "height": 900})
        self.page = self.context.new_page()
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)

    def ready(self, root: str = ".vb-explorer"):
        self.page.wait_for_selector(f"{root}[data-ready='1']", timeout=30_000)
        return self.page.locator(root).first

    def numbers(self, selector: str) -> list[float]:
        return [float(x) for x in self.page.locator(selector).all_inner_texts()]

    def vector(self, panel, step: str) -> np.ndarray:
        box = panel.locator(f"[data-step='{step}'] .vb-vector")
        if box.locator(".vb-all").count():
            box.locator(".vb-all").click()
        return np.array([float(v) for v in box.locator(".vb-values").inner_text().strip("[]").split(",")])

    def close(self):
        assert not self.errors, self.errors
        self.context.close()


def check_arithmetic(session: Page, panel, trace: dict, query: int):
    """The step-by-step panel against the model's own tensors (trace_layer), to the 4 decimals shown."""
    rows = panel.locator(".vb-scores tr[data-j]")
    assert rows.count() == trace["scores"].shape[0]
    shown = {name: np.array([float(t) for t in panel.locator(f".vb-scores .vb-{name}").all_inner_texts()]) for name in ("score", "softmax")}
    assert np.abs(shown["score"] - trace["scores"][query].numpy()).max() < 2e-4
    assert np.abs(shown["softmax"] - trace["weights"][query].numpy()).max() < 2e-4
    assert np.abs(session.vector(panel, "q") - trace["Q"][query].numpy()).max() < 2e-4
    assert np.abs(session.vector(panel, "x") - trace["X"][query].numpy()).max() < 2e-4
    assert np.abs(session.vector(panel, "out") - trace["out"][query].numpy()).max() < 2e-4
    assert np.abs(session.vector(panel, "cls") - trace["cls"].numpy()).max() < 2e-4
    assert float(panel.locator(".vb-check").get_attribute("data-drift")) < float(trace["weights"][query].max()) / 510 + 1e-5


@pytest.mark.slow
def test_text_page_in_chromium_clicks_match_the_model(browser, text_source, tmp_path):
    path = tmp_path / "text.html"
    vit_bert_main(["viz", text_source, SENTENCE, "--html", str(path)])
    session = Page(browser, path.as_uri())
    panel = session.ready().locator(".vb-panel").first
    predictor = Predictor(text_source)
    batch, _, tokens = read_input(predictor, SENTENCE)
    assert session.page.locator(".vb-token-left").all_inner_texts() == tokens
    (label, probability), = predictor([SENTENCE])
    assert panel.locator(".vb-best").inner_text() == f"{label} {100 * probability:.1f}%"

    panel.locator(".vb-layer").select_option("1")
    panel.locator(".vb-head").select_option("1")
    panel.locator(".vb-token-left[data-index='2']").click()
    with torch.no_grad():
        _, attentions = predictor.model(**batch, return_attention=True)
    row = attentions[1][0, 1, 2]
    for cell in panel.locator(".vb-row tr[data-j]").all():
        assert abs(float(cell.locator(".vb-w").inner_text()) - float(row[int(cell.get_attribute("data-j"))])) < 1e-4 + float(row.max()) / 510
    check_arithmetic(session, panel, trace_layer(predictor.model, batch, 1, 1, out=lambda *_: None), query=2)

    panel.locator(".vb-thumb[data-layer='0'][data-head='1']").click()  # the model view opens a layer and head
    assert panel.locator(".vb-layer").input_value() == "0" and panel.locator(".vb-head").input_value() == "1"
    panel.locator(".vb-chip[data-head='0']").click()
    assert panel.locator(".vb-chip.vb-on").count() == 1
    session.page.screenshot(path=str(tmp_path / "text.png"), full_page=True)
    assert (tmp_path / "text.png").stat().st_size > 10_000
    assert session.requests == [path.as_uri()]
    session.close()


@pytest.mark.slow
def test_a_local_rotary_layer_keeps_its_window_in_the_pages_arithmetic(browser, tmp_path):
    """ModernBERT's layout at a tiny size: layer 1 reads only keys at most 2 positions away; the page's softmax must too."""
    tokenizer = train_wordpiece(TEXTS, vocab_size=60)
    model = vit_bert.build_model("modern-mini", vocab_size=tokenizer.get_vocab_size(), dim=64, depth=2, heads=2,
                                 local_window=4, global_every=2, num_classes=2)
    model.save_pretrained(tmp_path / "modern", tokenizer=tokenizer, class_names=["neg", "pos"])
    sentence = "the acting was fine and the plot was dull"
    path = explore(str(tmp_path / "modern"), sentence, layer=1).save(tmp_path / "modern.html")
    session = Page(browser, path.as_uri())
    panel = session.ready().locator(".vb-panel").first
    panel.locator(".vb-head").select_option("1")
    panel.locator(".vb-token-left[data-index='6']").click()
    predictor = Predictor(str(tmp_path / "modern"))
    batch, _, _ = read_input(predictor, sentence)
    trace = trace_layer(predictor.model, batch, 1, 1, out=lambda *_: None)
    check_arithmetic(session, panel, trace, query=6)
    softmax = [float(t) for t in panel.locator(".vb-scores .vb-softmax").all_inner_texts()]
    assert all(w == 0 for j, w in enumerate(softmax) if abs(j - 6) > 2) and sum(w > 0 for w in softmax) == 5
    assert "rotary positions" in panel.locator("[data-step='q']").inner_text()
    session.close()



@pytest.mark.slow
def test_a_masked_token_models_page_says_it_predicts_nothing_and_its_arithmetic_holds(browser, tmp_path):
    tokenizer = train_wordpiece(TEXTS, vocab_size=60)
    vit_bert.build_model("bert-tiny", head="mlm", vocab_size=tokenizer.get_vocab_size()).save_pretrained(tmp_path / "mlm", tokenizer=tokenizer)
    sentence = "the acting was fine"
    path = explore(str(tmp_path / "mlm"), sentence).save(tmp_path / "mlm.html")
    session = Page(browser, path.as_uri())
    panel = session.ready().locator(".vb-panel").first
    assert panel.locator(".vb-prediction").inner_text() == "masked-token model (no class prediction)"
    assert panel.locator(".vb-best").count() == 0
    panel.locator(".vb-head").select_option("1")
    panel.locator(".vb-token-left[data-index='2']").click()
    reader = InputReader(str(tmp_path / "mlm"))
    batch, _, _ = read_input(reader, sentence)
    check_arithmetic(session, panel, trace_layer(reader.model, batch, -1, 1, out=lambda *_: None), query=2)
    session.close()

@pytest.mark.slow
def test_image_page_in_chromium_points_at_patches_and_prefix_tokens(browser, photo, tmp_path):
    model = image_model()
    path = explore(model, photo, layer=0).save(tmp_path / "image.html")
    session = Page(browser, path.as_uri())
    panel = session.ready().locator(".vb-panel").first
    assert panel.locator(".vb-prefix").count() == 3
    predictor = Predictor("m", model=model)
    batch, _, _ = read_input(predictor, photo)
    with torch.no_grad():
        _, attentions = model(**batch, return_attention=True)

    panel.locator(".vb-layer").select_option("2")
    panel.locator(".vb-head").select_option("1")
    canvas = panel.locator("canvas.vb-image")
    box = canvas.bounding_box()
    row_index, column = 2, 3  # a 4 x 4 grid: click the middle of patch (2, 3)
    canvas.click(position={"x": box["width"] * (column + 0.5) / 4, "y": box["height"] * (row_index + 0.5) / 4})
    query = 3 + row_index * 4 + column
    assert f"patch ({row_index}, {column})" in panel.locator(".vb-row b").inner_text()
    row = attentions[2][0, 1, query]
    shown = {int(tr.get_attribute("data-j")): float(tr.locator(".vb-w").inner_text()) for tr in panel.locator(".vb-row tr[data-j]").all()}
    assert len(shown) == 10 and all(abs(v - float(row[j])) < 1e-4 + float(row.max()) / 510 for j, v in shown.items())
    check_arithmetic(session, panel, trace_layer(model, batch, 2, 1, out=lambda *_: None), query=query)

    panel.locator(".vb-prefix[data-index='1']").click()  # a register as the query
    assert "reg0" in panel.locator(".vb-row b").inner_text()
    panel.locator(".vb-mode").select_option("rollout")
    session.page.screenshot(path=str(tmp_path / "image.png"), full_page=True)
    assert session.requests[0] == path.as_uri() and all(r.startswith("data:") for r in session.requests[1:])
    session.close()


@pytest.mark.slow
def test_two_explorers_in_one_notebook_page_keep_their_own_state(browser, text_source, photo, tmp_path):
    cells = [explore(text_source, SENTENCE)._repr_html_(), explore(image_model(), photo)._repr_html_()]
    path = tmp_path / "notebook.html"
    path.write_text("<!DOCTYPE html><html><body>" + "".join(f'<div class="cell">{c}</div>' for c in cells) + "</body></html>")
    session = Page(browser, path.as_uri())
    session.page.wait_for_function("document.querySelectorAll(\".vb-explorer[data-ready='1']\").length == 2", timeout=30_000)
    first, second = session.page.locator(".vb-panel").all()
    first.locator(".vb-layer").select_option("0")
    assert second.locator(".vb-layer").input_value() == "2" and first.locator(".vb-layer").input_value() == "0"
    session.close()


@pytest.mark.slow
def test_cotrained_model_shows_an_image_and_a_sentence_through_one_encoder(browser, photo, tmp_path):
    tokenizer = train_wordpiece(TEXTS, vocab_size=60)
    (tmp_path / "tok.json").write_text(tokenizer.to_str())
    configs = task_configs({"dim": 64, "depth": 2, "heads": 2}, {
        "digits": {"modality": "image", "num_classes": 3, "img_size": 64, "patch_size": 16},
        "reviews": {"modality": "text", "num_classes": 2, "vocab_size": tokenizer.get_vocab_size()},
    })
    model = MultiTaskModel(configs)
    path = explore(model, photo, SENTENCE, tokenizer=str(tmp_path / "tok.json"), mean=[0.5] * 3, std=[0.5] * 3).save(tmp_path / "co.html")
    session = Page(browser, path.as_uri())
    panels = session.ready().locator(".vb-panel")
    assert [p.get_attribute("data-modality") for p in panels.all()] == ["image", "text"]
    assert "task digits" in panels.nth(0).locator("h3").inner_text() and "task reviews" in panels.nth(1).locator("h3").inner_text()
    session.close()


@pytest.mark.slow
def test_served_page_takes_an_uploaded_image(browser, photo, tmp_path):
    image_model().save_pretrained(tmp_path / "vit")
    server = ExplorerServer(str(tmp_path / "vit"), 0, 1_000_000, task=None, options=("cpu", None, None, None), layer=-1, steps_layers=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        session = Page(browser, server.url, offline=False)
        session.page.set_input_files("[name=image]", photo)
        session.page.click("button[data-kind=image]")
        panel = session.ready("#vb-root").locator(".vb-panel")
        assert panel.get_attribute("data-modality") == "image" and panel.locator(".vb-prefix").count() == 3
        [expected] = explore(str(tmp_path / "vit"), photo).panels
        best = expected["prediction"][0]
        assert panel.locator(".vb-best").inner_text() == f"{best['label']} {100 * best['probability']:.1f}%"
        session.close()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_served_page_recomputes_a_submitted_sentence_and_stops_on_ctrl_c(browser, text_source):
    # Started as a shell's background job is started, with SIGINT ignored: the server still stops on it.
    server = subprocess.Popen([sys.executable, "-c", "from vit_bert.commands import main; main()", "explore", text_source, "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        first = server.stdout.readline()
        url = re.search(r"on (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops it\)", first)
        assert url, first + server.stderr.read()
        session = Page(browser, url.group(1), offline=False)
        session.page.fill("[name=sentence]", "a bad film")
        session.page.click("button[data-kind=text]")
        panel = session.ready("#vb-root").locator(".vb-panel")
        (label, probability), = Predictor(text_source)(["a bad film"])
        assert panel.locator(".vb-best").inner_text() == f"{label} {100 * probability:.1f}%"
        assert "'a bad film'" in panel.locator("h3").inner_text()
        session.close()
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=30)
    assert server.returncode == 0 and out.strip().endswith("stopped")


def test_served_explorer_refuses_foreign_hosts_and_origins_and_pixel_bombs(photo, tmp_path):
    image_model().save_pretrained(tmp_path / "vit")
    server = ExplorerServer(str(tmp_path / "vit"), 0, 1_000_000, task=None, options=("cpu", None, None, None), layer=-1, steps_layers=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")  # 400 M pixels in a few kB (1 bit a pixel while drawn)

    def ask(method: str, body: bytes | None = None, **headers):
        request = urllib.request.Request(server.url + ("explore" if method == "POST" else ""), data=body, method=method,
                                         headers={"Content-Type": "image/png", **headers})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)["error"]

    try:
        port = server.server_address[1]
        status, why = ask("GET", Host="evil.example")
        assert status == 403 and "Host 'evil.example' is not this server" in why
        status, why = ask("POST", open(photo, "rb").read(), Origin="http://evil.example")
        assert status == 403 and "Origin 'http://evil.example' is another page" in why
        assert ask("POST", open(photo, "rb").read(), Origin=f"http://127.0.0.1:{port}")[0] == 200  # its own page
        assert ask("GET", Host=f"localhost:{port}")[0] == 200
        status, why = ask("POST", bomb.getvalue())
        assert status == 400 and "400,000,000 pixels, over the limit of 89,478,485; raise --max_image_pixels" in why
    finally:
        server.shutdown()
        server.server_close()
