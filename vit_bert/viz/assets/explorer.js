// vit_bert attention explorer: mountExplorer(root, panels) draws one panel per input into root.
// Everything it needs is in `panels` (page_data.py): no network, no globals; two pages in one
// notebook each keep their own state. Blobs: little-endian byte planes (all first bytes, then all second,
// ...), zlib-deflated, in base85.

const B85 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
const B85_VALUE = new Uint8Array(128);
for (let i = 0; i < B85.length; i++) B85_VALUE[B85.charCodeAt(i)] = i;

function base85(text) { // Python's base64.b85decode: 5 characters -> 4 bytes, big-endian; a short last group padded with '~'
  const groups = Math.ceil(text.length / 5), pad = groups * 5 - text.length, out = new Uint8Array(groups * 4);
  for (let g = 0; g < groups; g++) {
    let value = 0;
    for (let c = 0; c < 5; c++) {
      const at = g * 5 + c;
      value = value * 85 + (at < text.length ? B85_VALUE[text.charCodeAt(at)] : 84);
    }
    out[4 * g] = value >>> 24; out[4 * g + 1] = (value >>> 16) & 255; out[4 * g + 2] = (value >>> 8) & 255; out[4 * g + 3] = value & 255;
  }
  return out.subarray(0, out.length - pad);
}

async function decodeBlob(b) {
  const raw = base85(b.data);
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate"));
  const planes = new Uint8Array(await new Response(stream).arrayBuffer());
  if (b.dtype === "uint8") return planes;
  const n = planes.length / 4, bytes = new Uint8Array(planes.length); // byte planes back to float32 values
  for (let p = 0; p < 4; p++) for (let i = 0; i < n; i++) bytes[4 * i + p] = planes[p * n + i];
  return new Float32Array(bytes.buffer);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const fmt = (v) => (Math.abs(v) >= 1e4 ? v.toExponential(3) : v.toFixed(4));
const HEAD_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];

// A vector shown shortened, all of it on demand.
function vectorView(name, values, note) {
  const shown = 6;
  const text = (n) => Array.from(values.slice(0, n), fmt).join(", ");
  const body = el("span", { class: "vb-values", "data-count": values.length }, `[${text(shown)}${values.length > shown ? ", …" : ""}]`);
  const box = el("div", { class: "vb-vector", "data-name": name }, el("b", {}, name), ` (${values.length} values${note ? "; " + note : ""}) `, body);
  if (values.length > shown) {
    box.append(el("button", { class: "vb-all", onclick: (e) => { body.textContent = `[${text(values.length)}]`; e.target.remove(); } }, "show all"));
  }
  return box;
}

class Panel {
  constructor(data, arrays) {
    Object.assign(this, data, arrays);
    this.layer = data.shown_layer;
    this.head = -1; // -1: the mean of the heads
    this.query = 0; // the token whose row and arithmetic are shown
    this.hover = null;
    this.visibleHeads = new Set(Array.from({ length: data.heads }, (_, h) => h));
    this.imageMode = "cls";
  }

  weight(layer, head, i, j) {
    const L = this.length, row = (layer * this.heads + head) * L + i;
    return (this.attention[row * L + j] * this.scales[row]) / 255;
  }

  row(layer, head, i) { // head -1: the mean over the heads
    const heads = head < 0 ? [...Array(this.heads).keys()] : [head];
    const out = new Float64Array(this.length);
    for (const h of heads) for (let j = 0; j < this.length; j++) out[j] += this.weight(layer, h, i, j) / heads.length;
    return out;
  }

  label(j) {
    if (this.modality === "text") return this.tokens[j];
    if (j < this.prefix) return this.tokens[j];
    const p = j - this.prefix, w = this.grid[1];
    return `patch (${Math.floor(p / w)}, ${p % w})`;
  }

  build() {
    const node = el("div", { class: "vb-panel", "data-modality": this.modality });
    const layerSelect = el("select", { class: "vb-layer", onchange: (e) => { this.layer = +e.target.value; this.refresh(); } },
      ...Array.from({ length: this.layers }, (_, l) => el("option", { value: l }, `layer ${l}`)));
    layerSelect.value = this.layer;
    const headSelect = el("select", { class: "vb-head", onchange: (e) => { this.head = +e.target.value; this.refresh(); } },
      el("option", { value: -1 }, "mean of heads"), ...Array.from({ length: this.heads }, (_, h) => el("option", { value: h }, `head ${h}`)));
    this.controls = { layerSelect, headSelect };
    node.append(el("h3", {}, this.title));
    if (this.prediction) {
      node.append(el("div", { class: "vb-prediction" }, "prediction: ",
        ...this.prediction.map((p, k) => el("span", { class: k ? "vb-class" : "vb-class vb-best", "data-label": p.label }, `${p.label} ${(100 * p.probability).toFixed(1)}%`))));
    } else if (this.prediction_note) {
      node.append(el("div", { class: "vb-prediction" }, this.prediction_note));
    }
    node.append(el("div", { class: "vb-controls" }, layerSelect, " ", headSelect));
    this.views = el("div", { class: "vb-views" });
    this.rowBox = el("div", { class: "vb-row" });
    this.steps = el("div", { class: "vb-steps" });
    node.append(el("div", { class: "vb-body" }, this.views, el("div", { class: "vb-side" }, this.rowBox, this.steps)));
    if (this.modality === "text") this.buildText(); else this.buildImage();
    this.refresh();
    return node;
  }

  // ---- text: head view (tokens twice, lines weighted by attention) and model view (layers x heads)
  buildText() {
    const L = this.length, lineHeight = 20;
    this.lines = el("canvas", { class: "vb-lines", width: 160, height: L * lineHeight });
    const column = (side) => el("div", { class: `vb-tokens vb-${side}` }, ...this.tokens.map((t, i) => {
      const token = el("div", { class: `vb-token vb-token-${side}`, "data-index": i }, t);
      if (side === "left") {
        token.addEventListener("mouseenter", () => { this.hover = i; this.drawLines(); });
        token.addEventListener("mouseleave", () => { this.hover = null; this.drawLines(); });
        token.addEventListener("click", () => { this.query = i; this.refresh(); });
      }
      return token;
    }));
    const chips = el("div", { class: "vb-chips" }, "heads drawn: ", ...Array.from({ length: this.heads }, (_, h) => {
      const chip = el("button", { class: "vb-chip vb-on", "data-head": h, style: `border-color:${HEAD_COLOURS[h % 16]}` }, `${h}`);
      chip.addEventListener("click", () => {
        this.visibleHeads.has(h) ? this.visibleHeads.delete(h) : this.visibleHeads.add(h);
        chip.classList.toggle("vb-on");
        this.drawLines();
      });
      return chip;
    }));
    this.models = el("div", { class: "vb-model-view", style: `grid-template-columns: auto repeat(${this.heads}, 48px)` });
    this.models.append(el("span", {}), ...Array.from({ length: this.heads }, (_, h) => el("span", { class: "vb-axis" }, `h${h}`)));
    this.thumbs = [];
    for (let l = 0; l < this.layers; l++) {
      this.models.append(el("span", { class: "vb-axis" }, `L${l}`));
      for (let h = 0; h < this.heads; h++) {
        const thumb = el("canvas", { class: "vb-thumb", width: L, height: L, "data-layer": l, "data-head": h, title: `layer ${l}, head ${h}` });
        thumb.addEventListener("click", () => this.open(l, h));
        this.drawMatrix(thumb, l, h);
        this.models.append(thumb);
        this.thumbs.push(thumb);
      }
    }
    this.matrix = el("canvas", { class: "vb-matrix", width: L, height: L });
    const headView = el("div", { class: "vb-head-view" }, column("left"), this.lines, column("right"));
    this.views.append(chips, headView,
      el("details", { class: "vb-model-details", open: "" }, el("summary", {}, "model view: every layer and head (click one to open it)"), this.models),
      el("div", { class: "vb-matrix-box" }, el("div", { class: "vb-matrix-title" }), this.matrix));
  }

  open(layer, head) {
    this.layer = layer; this.head = head;
    this.controls.layerSelect.value = layer; this.controls.headSelect.value = head;
    this.refresh();
  }

  drawMatrix(canvas, layer, head) {
    const L = this.length, ctx = canvas.getContext("2d"), image = ctx.createImageData(L, L);
    for (let i = 0; i < L; i++) {
      const row = this.row(layer, head, i);
      const top = Math.max(...row) || 1;
      for (let j = 0; j < L; j++) {
        const shade = 255 - Math.round((255 * row[j]) / top), at = 4 * (i * L + j);
        image.data.set([shade, shade, 255, 255], at);
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  drawLines() {
    const ctx = this.lines.getContext("2d"), L = this.length, lineHeight = 20, width = this.lines.width;
    ctx.clearRect(0, 0, width, this.lines.height);
    const queries = this.hover !== null ? [this.hover] : [...Array(L).keys()];
    const levels = 8, gain = (this.hover !== null ? 1.5 : 1) / Math.sqrt(this.visibleHeads.size);
    for (const h of this.visibleHeads) {
      // One path per head and weight level: a stroke per line would take most of a second for bert-base.
      const paths = Array.from({ length: levels }, () => new Path2D());
      for (const i of queries) for (let j = 0; j < L; j++) {
        const w = this.weight(this.layer, h, i, j);
        if (w < 0.01) continue;
        const path = paths[Math.min(levels - 1, Math.floor(w * levels))];
        path.moveTo(2, (i + 0.5) * lineHeight); path.lineTo(width - 2, (j + 0.5) * lineHeight);
      }
      ctx.strokeStyle = HEAD_COLOURS[h % 16];
      paths.forEach((path, level) => {
        const w = (level + 0.5) / levels;
        ctx.globalAlpha = Math.min(1, Math.max(0.05, w * gain)); ctx.lineWidth = 1 + 2 * w;
        ctx.stroke(path);
      });
    }
    ctx.globalAlpha = 1;
  }

  // ---- images: the picture with its patch grid, attention over it; prefix tokens beside the grid
  buildImage() {
    const [gh, gw] = this.grid, scale = Math.max(1, Math.floor(320 / Math.max(gh, gw)));
    this.cell = scale;
    this.canvas = el("canvas", { class: "vb-image", width: gw * scale, height: gh * scale });
    this.picture = new Image();
    this.picture.onload = () => this.drawImage();
    this.picture.src = this.image;
    const patch = (e) => {
      const box = this.canvas.getBoundingClientRect();
      const r = Math.floor(((e.clientY - box.top) / box.height) * gh), c = Math.floor(((e.clientX - box.left) / box.width) * gw);
      return this.prefix + Math.min(gh - 1, Math.max(0, r)) * gw + Math.min(gw - 1, Math.max(0, c));
    };
    this.canvas.addEventListener("mousemove", (e) => { this.hover = patch(e); if (this.imageMode === "pointer") this.drawImage(); });
    this.canvas.addEventListener("mouseleave", () => { this.hover = null; this.drawImage(); });
    this.canvas.addEventListener("click", (e) => { this.query = patch(e); this.imageMode = "query"; this.modeSelect.value = "query"; this.refresh(); });
    this.modeSelect = el("select", { class: "vb-mode", onchange: (e) => { this.imageMode = e.target.value; this.drawImage(); } },
      el("option", { value: "cls" }, this.class_token ? "[CLS] → patches" : "every token, averaged → patches (no [CLS])"),
      el("option", { value: "rollout" }, "rollout through this layer"),
      el("option", { value: "pointer" }, "the patch under the pointer"), el("option", { value: "query" }, "the chosen token (click a patch)"));
    this.prefixBox = el("div", { class: "vb-prefix-box" }, this.tokens.length ? "prefix tokens:" : "no prefix tokens", ...this.tokens.map((t, i) =>
      el("button", { class: "vb-prefix", "data-index": i, onclick: () => { this.query = i; this.imageMode = "query"; this.modeSelect.value = "query"; this.refresh(); } }, t)));
    this.views.append(el("div", { class: "vb-controls" }, "map: ", this.modeSelect), el("div", { class: "vb-image-view" }, this.canvas, this.prefixBox));
  }

  shownRow() { // the attention row drawn over the image, and its query (-1: the rollout)
    if (this.imageMode === "rollout") return [this.rollout.slice(this.layer * this.length, (this.layer + 1) * this.length), -1];
    if (this.imageMode === "cls" && !this.class_token) { // no [CLS]: every query's row, averaged
      const mean = new Float64Array(this.length);
      for (let i = 0; i < this.length; i++) this.row(this.layer, this.head, i).forEach((w, j) => { mean[j] += w / this.length; });
      return [mean, -1];
    }
    const q = this.imageMode === "cls" ? 0 : this.imageMode === "pointer" ? (this.hover ?? this.query) : this.query;
    return [this.row(this.layer, this.head, q), q];
  }

  drawImage() {
    if (!this.picture.complete) return;
    const ctx = this.canvas.getContext("2d"), [gh, gw] = this.grid, s = this.cell;
    ctx.imageSmoothingEnabled = false; // the pixels the model read, not a blur of them
    ctx.drawImage(this.picture, 0, 0, gw * s, gh * s);
    const [row, q] = this.shownRow(), patches = row.slice(this.prefix), top = Math.max(...patches) || 1;
    ctx.fillStyle = "#000";
    for (let p = 0; p < gh * gw; p++) { // the less attention, the darker; sqrt keeps the middle weights visible
      ctx.globalAlpha = 0.8 * (1 - Math.sqrt(patches[p] / top));
      ctx.fillRect((p % gw) * s, Math.floor(p / gw) * s, s, s);
    }
    ctx.globalAlpha = 0.35; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1;
    for (let r = 0; r <= gh; r++) { ctx.beginPath(); ctx.moveTo(0, r * s); ctx.lineTo(gw * s, r * s); ctx.stroke(); }
    for (let c = 0; c <= gw; c++) { ctx.beginPath(); ctx.moveTo(c * s, 0); ctx.lineTo(c * s, gh * s); ctx.stroke(); }
    ctx.globalAlpha = 1;
    if (q >= this.prefix) {
      const p = q - this.prefix;
      ctx.strokeStyle = "#ff0"; ctx.lineWidth = 2; ctx.strokeRect((p % gw) * s + 1, Math.floor(p / gw) * s + 1, s - 2, s - 2);
    }
    for (const button of this.prefixBox.querySelectorAll(".vb-prefix")) {
      const i = +button.dataset.index;
      button.textContent = `${this.tokens[i]} ${fmt(row[i])}`;
      button.classList.toggle("vb-query", i === q);
    }
  }

  // ---- the chosen query's row, and the arithmetic behind it
  refresh() {
    if (this.modality === "text") {
      this.drawLines();
      this.drawMatrix(this.matrix, this.layer, this.head);
      this.views.querySelector(".vb-matrix-title").textContent = `layer ${this.layer}, ${this.head < 0 ? "mean of heads" : "head " + this.head}: rows are queries`;
      for (const t of this.views.querySelectorAll(".vb-token-left")) t.classList.toggle("vb-query", +t.dataset.index === this.query);
      for (const t of this.thumbs) t.classList.toggle("vb-open", +t.dataset.layer === this.layer && +t.dataset.head === this.head);
    } else this.drawImage();
    this.showRow();
    this.showSteps();
  }

  showRow() {
    const row = this.row(this.layer, this.head, this.query);
    const order = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, 10);
    this.rowBox.replaceChildren(el("b", {}, `where ${this.label(this.query)} looks (layer ${this.layer}, ${this.head < 0 ? "mean of heads" : "head " + this.head}), the 10 largest weights:`),
      el("table", {}, ...order.map((j) => el("tr", { "data-j": j }, el("td", {}, this.label(j)), el("td", { class: "vb-w" }, fmt(row[j]))))));
  }

  showSteps() {
    const at = this.steps_layers.indexOf(this.layer), head = Math.max(0, this.head), i = this.query;
    const L = this.length, d = this.head_dim, D = this.dim;
    if (at < 0) {
      this.steps.replaceChildren(el("p", { class: "vb-missing" }, `The arithmetic of layer ${this.layer} is not stored in this page ` +
        `(stored: layers ${this.steps_layers.join(", ")}); write the page with --steps_layers ${this.layer} to see it.`));
      return;
    }
    const vec = (name, l, h, t) => this[name].subarray(((l * this.heads + h) * L + t) * d, ((l * this.heads + h) * L + t + 1) * d);
    const x = this.X.subarray((at * L + i) * D, (at * L + i + 1) * D), q = vec("Q", at, head, i);
    const window = this.windows[this.layer];
    const scores = new Float64Array(L), scaled = new Float64Array(L), weights = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      const k = vec("K", at, head, j);
      let s = 0;
      for (let c = 0; c < d; c++) s += q[c] * k[c];
      scores[j] = s;
      scaled[j] = window !== null && Math.abs(i - j) > Math.floor(window / 2) ? -Infinity : s / Math.sqrt(d);
    }
    const top = Math.max(...scaled);
    let total = 0;
    for (let j = 0; j < L; j++) { weights[j] = Math.exp(scaled[j] - top); total += weights[j]; }
    const out = new Float64Array(d);
    let drift = 0;
    for (let j = 0; j < L; j++) {
      weights[j] /= total;
      drift = Math.max(drift, Math.abs(weights[j] - this.weight(this.layer, head, i, j)));
      const v = vec("V", at, head, j);
      for (let c = 0; c < d; c++) out[c] += weights[j] * v[c];
    }
    const note = this.layer_notes[this.layer];
    const table = el("table", { class: "vb-scores" }, el("tr", {}, ...["key j", "k_j", "score q·k_j", `÷ √${d}`, "softmax"].map((h) => el("th", {}, h))),
      ...[...Array(L).keys()].map((j) => el("tr", { "data-j": j }, el("td", {}, this.label(j)),
        el("td", { class: "vb-k" }, `[${Array.from(vec("K", at, head, j).slice(0, 2), fmt).join(", ")}, …]`),
        el("td", { class: "vb-score" }, fmt(scores[j])), el("td", { class: "vb-scaled" }, fmt(scaled[j])),
        el("td", { class: "vb-softmax" }, fmt(weights[j])))));
    this.steps.replaceChildren(
      el("h4", {}, `The arithmetic: layer ${this.layer}, head ${head} of ${this.heads}${this.head < 0 ? " (choose a head above)" : ""}, query ${this.label(i)}`),
      el("ol", {},
        el("li", { "data-step": "x" }, vectorView("x", x, `the query's row of the layer input X (L = ${L}, D = ${D})`)),
        el("li", { "data-step": "q" }, vectorView("q = x W_Q + b_Q", q, `W_Q is D × d = ${D} × ${d}${note ? "; " + note : ""}`)),
        el("li", { "data-step": "scores" }, `every key k_j = x_j W_K + b_K, its score q·k_j, ÷ √${d} = ${Math.sqrt(d).toFixed(3)}, then a softmax over the row` +
          `${window !== null ? ` (keys beyond ${Math.floor(window / 2)} positions get weight 0)` : ""}:`, el("div", { class: "vb-scroll" }, table)),
        el("li", { "data-step": "out" }, vectorView("head output = Σ_j softmax_j v_j", out, `v_j = x_j W_V + b_V`)),
        el("li", { "data-step": "cls" }, this.pool === "cls" && this.class_token
          ? vectorView("[CLS] vector", this.cls, "token 0 of the encoder's normed output: what the classifier reads")
          : vectorView("token 0's output", this.cls, `token 0 of the encoder's normed output; this model's head reads the ${this.pool} pooling of the tokens instead`))),
      el("p", { class: "vb-check", "data-drift": drift }, `softmax recomputed here from q and the k's vs the stored attention row (8-bit, within row max / 510): max |difference| = ${drift.toExponential(1)}`));
  }
}

async function mountExplorer(root, panels) {
  root.classList.add("vb-explorer");
  root.dataset.ready = "0";
  const built = [];
  for (const data of panels) {
    const arrays = {};
    for (const name of ["attention", "scales", "rollout", "X", "Q", "K", "V", "cls"]) arrays[name] = await decodeBlob(data[name]);
    built.push(new Panel(data, arrays));
  }
  root.replaceChildren(...built.map((panel) => panel.build()));
  root.dataset.readyMs = performance.now().toFixed(0); // since the page began to load: the browser's own clock
  root.dataset.ready = "1";
  return built;
}
