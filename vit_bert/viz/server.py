"""vit-bert explore SOURCE: the attention explorer served on 127.0.0.1, recomputed for each sentence or image sent.

    GET  /          the page: a sentence box and/or an image upload (what the model reads)
    POST /explore   body: a sentence (text/plain) or an image file's bytes (image/*) -> {"panels": [...]} (page_data)
                    a body over --max_bytes -> 413; an input the model cannot read -> 400; both {"error": one line}

The standard library's ThreadingHTTPServer: nothing more to install, and one person's browser on localhost is all
it serves (it binds 127.0.0.1 only, never another interface). Requests whose ``Host`` is not its own address (a
DNS-rebinding page) and POSTs whose ``Origin`` is another page's get 403. The model is loaded once; Ctrl-C stops the server.
"""

from __future__ import annotations

import json
import signal
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import ConfigError, DataError, VitBertError
from ..multitask import MultiTaskModel
from ..predict import load_source
from .explorer import input_panels
from .page import served_document

HOST = "127.0.0.1"
IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp"}


class ExplorerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, source: str, port: int, max_bytes: int, **panel_options):
        self.source, self.max_bytes, self.panel_options = source, max_bytes, panel_options
        self.model = load_source(source)
        tasks = self.model.tasks if isinstance(self.model, MultiTaskModel) else None
        self.modalities = {self.model.modality(t) for t in tasks} if tasks else {self.model.config.modality}
        self.lock = threading.Lock()  # one forward at a time: the model is shared
        try:
            super().__init__((HOST, port), ExplorerHandler)
        except OSError as err:
            raise ConfigError(f"cannot listen on {HOST}:{port} ({err.strerror}); pass another --port, or --port 0 for any free one") from None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def own_hosts(self) -> set[str]:
        port = self.server_address[1]
        return {f"{HOST}:{port}", f"localhost:{port}"}

    def foreign(self, headers) -> str | None:
        """Why a request is not from this server's own page (None when it is): another Host, or another Origin."""
        host, origin = headers.get("Host", ""), headers.get("Origin")
        if host.lower() not in self.own_hosts():
            return f"Host {host!r} is not this server ({self.url})"
        if origin is not None and origin.lower().rstrip("/") not in {f"http://{h}" for h in self.own_hosts()}:
            return f"Origin {origin!r} is another page; the explorer answers only its own page, {self.url}"
        return None

    def panels(self, body: bytes, content_type: str) -> list[dict]:
        kind = content_type.split(";")[0].strip().lower()
        with self.lock:
            if kind == "text/plain":
                if "text" not in self.modalities:
                    raise DataError(f"{self.source} reads images, not text: upload an image")
                try:
                    sentence = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise DataError("the sentence is not UTF-8 text") from None
                return input_panels(self.source, [sentence], model=self.model, **self.panel_options)
            if kind in IMAGE_TYPES and "image" not in self.modalities:
                raise DataError(f"{self.source} reads text, not images: send a sentence")
            if kind not in IMAGE_TYPES:
                raise DataError(f"expected a sentence (text/plain) or an image ({', '.join(IMAGE_TYPES)}); got {kind or 'no type'}")
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"upload{IMAGE_TYPES[kind]}"
                path.write_bytes(body)
                return input_panels(self.source, [str(path)], model=self.model, **self.panel_options)


class ExplorerHandler(BaseHTTPRequestHandler):
    server: ExplorerServer

    def _send(self, status: int, body: str, content_type: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"error": message}), "application/json")

    def do_GET(self) -> None:
        if (why := self.server.foreign(self.headers)) is not None:
            return self._error(403, why)
        if self.path not in ("/", "/index.html"):
            return self._error(404, f"no page {self.path}; the explorer is at /")
        title = f"{self.server.source}: attention explorer"
        self._send(200, served_document(title, self.server.modalities, self.server.max_bytes), "text/html; charset=utf-8")

    def do_POST(self) -> None:
        if (why := self.server.foreign(self.headers)) is not None:
            self.close_connection = True  # the body is not read
            return self._error(403, why)
        if self.path != "/explore":
            return self._error(404, f"POST /explore, not {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.max_bytes:
            self.close_connection = True  # the body is not read
            return self._error(413, f"the input is {length} bytes; this server takes at most {self.server.max_bytes} (--max_bytes)")
        if length == 0:
            return self._error(400, "the input is empty: send a sentence or an image")
        body = self.rfile.read(length)
        try:
            panels = self.server.panels(body, self.headers.get("Content-Type", ""))
        except VitBertError as err:
            return self._error(400, str(err))
        self._send(200, json.dumps({"panels": panels}), "application/json")


def serve(
    source: str, port: int = 8765, max_bytes: int = 5_000_000, task: str | None = None, tokenizer: str | None = None,
    mean: list[float] | None = None, std: list[float] | None = None, layer: int = -1, steps_layers: list[int] | None = None,
) -> None:
    """Serve the attention explorer on 127.0.0.1; type a sentence or upload an image and it is recomputed.

    Args:
        source: A checkpoint, model folder, weights file or preset name.
        port: The port on 127.0.0.1 (0: any free one).
        max_bytes: The largest input accepted, in bytes; a larger one is refused with a message.
        task: A co-trained model's task (default: the one task of each input's modality).
        tokenizer: tokenizer.json, vocab.txt, vocab.json (merges.txt beside it) or a folder, for text models that carry none.
        mean: Per-channel mean, for image weights trained outside vit_bert: [0.485,0.456,0.406].
        std: Per-channel std, with mean.
        layer: The layer shown first (-1: the last).
        steps_layers: The layers whose step-by-step arithmetic the page carries (default: all that fit in 4 MB, else --layer).
    """
    server = ExplorerServer(source, port, max_bytes, task=task, options=("cpu", tokenizer, mean, std), layer=layer, steps_layers=steps_layers)
    print(f"serving the attention explorer of {source} on {server.url} (Ctrl-C stops it)", flush=True)
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    # a shell's background job starts with SIGINT ignored; the handler before is put back (a notebook kernel's own)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler) if in_main_thread else None
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
        if previous is not None:  # None: no handler to put back (none was set, or one set outside Python)
            signal.signal(signal.SIGINT, previous)
