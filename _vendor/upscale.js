/* The book's in-browser super-resolution (book/upscale.md): ONNX Runtime Web (WebAssembly) runs
 * the networks that scripts/web_models.py exported, on an image the reader picks. Nothing
 * leaves the browser. Every network takes RGB in [0, 1] and returns RGB in [0, 1] (see
 * sr_lib.export.OnRGB), so this file only moves pixels: decode, run, draw.
 * window.srweb.last holds the latest result for the book's browser test. */
(function () {
  "use strict";
  const root = document.getElementById("srweb");
  if (!root) return;
  // the book's _static/ folder, as an absolute URL (ONNX Runtime resolves relative paths
  // against its own script's folder, not the page's)
  const base = new URL(root.dataset.static, location.href).href;
  // LR pixels: the network runs on the page's own thread, so a run must take seconds
  const MAX_PIXELS = 300 * 300;
  const $ = (sel) => root.querySelector(sel);
  const status = $(".srweb-status");
  const sessions = {};
  let manifest = null;
  let current = null; // {name, image: ImageData}
  let token = 0; // the latest run; an older run that finishes later draws nothing

  const api = { last: null, error: null, runs: 0 };
  window.srweb = api;

  function say(text, kind) {
    status.textContent = text;
    status.dataset.kind = kind || "info";
    if (kind === "error") api.error = text;
  }

  function mb(bytes) {
    return (bytes / 1e6).toFixed(1) + " MB";
  }

  function tooLarge(name, width, height) {
    return (
      `${name} is ${width} x ${height} = ${(width * height).toLocaleString()} pixels; this ` +
      `page upscales images of up to ${MAX_PIXELS.toLocaleString()} pixels (300 x 300, for ` +
      "example), so that a run takes seconds. Crop or shrink the image first, or run the " +
      "network in Python (sr_lib) for large images."
    );
  }

  async function decode(name, blob) {
    // colourSpaceConversion "none": the file's own values, as Python's imageio reads them
    const bitmap = await createImageBitmap(blob, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
    if (bitmap.width * bitmap.height > MAX_PIXELS) {
      throw new RangeError(tooLarge(name, bitmap.width, bitmap.height));
    }
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.fillStyle = "#fff"; // transparent parts are shown over white, as most viewers do
    ctx.fillRect(0, 0, bitmap.width, bitmap.height);
    ctx.drawImage(bitmap, 0, 0);
    return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  }

  function toTensor(image) {
    const { width, height, data } = image;
    const n = width * height;
    const out = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      out[i] = data[4 * i] / 255;
      out[n + i] = data[4 * i + 1] / 255;
      out[2 * n + i] = data[4 * i + 2] / 255;
    }
    return new ort.Tensor("float32", out, [1, 3, height, width]);
  }

  function toImage(tensor) {
    const [, , height, width] = tensor.dims;
    const n = width * height;
    const src = tensor.data;
    const image = new ImageData(width, height);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        image.data[4 * i + c] = Math.round(Math.min(1, Math.max(0, src[c * n + i])) * 255);
      }
      image.data[4 * i + 3] = 255;
    }
    return image;
  }

  async function session(model) {
    if (!sessions[model.id]) {
      sessions[model.id] = ort.InferenceSession.create(base + "srweb/" + model.file, {
        executionProviders: ["wasm"],
        graphOptimizationLevel: "all",
      });
      sessions[model.id].catch(() => delete sessions[model.id]); // a failure is retried
    }
    return sessions[model.id];
  }

  async function upscale(model, image) {
    const s = await session(model);
    const feed = { lr: toTensor(image) };
    const t0 = performance.now();
    const result = await s.run(feed);
    const ms = performance.now() - t0;
    return { image: toImage(result.sr), ms };
  }

  function draw(canvas, image) {
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.getContext("2d").putImageData(image, 0, 0);
    // enlarged small results show their pixels; results wider than the column are smoothed
    const shown = $(".srweb-compare").clientWidth || image.width;
    canvas.classList.toggle("srweb-enlarged", shown > image.width);
  }

  function busy(on) {
    for (const el of root.querySelectorAll("input, select, button")) el.disabled = on;
  }

  function setSplit(fraction) {
    const f = Math.min(1, Math.max(0, fraction));
    $(".srweb-top").style.clipPath = `inset(0 0 0 ${(f * 100).toFixed(2)}%)`;
    $(".srweb-handle").style.left = `${(f * 100).toFixed(2)}%`;
    $(".srweb-split").value = String(Math.round(f * 1000));
  }

  async function run() {
    if (!current || !manifest) return;
    const model = manifest.models.find((m) => m.id === $(".srweb-model").value);
    const bicubic = manifest.models.find((m) => m.id === "bicubic_x2");
    const { width, height } = current.image;
    const mine = ++token;
    api.error = null;
    say(`Upscaling ${current.name} (${width} x ${height}) x${model.scale} with ${model.label}...`);
    busy(true);
    try {
      await new Promise((resolve) => setTimeout(resolve, 30)); // let the message show first
      const ref = await upscale(bicubic, current.image);
      const out = model.id === bicubic.id ? ref : await upscale(model, current.image);
      if (mine !== token) return; // a newer run replaced this one
      draw($(".srweb-bottom"), ref.image);
      draw($(".srweb-top"), out.image);
      $(".srweb-label-left").textContent = `bicubic (${ref.ms.toFixed(0)} ms)`;
      $(".srweb-label-right").textContent = `${model.label} (${out.ms.toFixed(0)} ms)`;
      $(".srweb-view").hidden = false;
      setSplit(0.5);
      const threads = ort.env.wasm.numThreads;
      say(
        `${current.name}: ${width} x ${height} -> ${out.image.width} x ${out.image.height}. ` +
          `${model.label}: ${out.ms.toFixed(0)} ms; bicubic: ${ref.ms.toFixed(0)} ms ` +
          `(ONNX Runtime Web, WebAssembly, ${threads} thread${threads === 1 ? "" : "s"}, ` +
          "in this browser). Drag across the image to compare.",
        "done"
      );
      api.runs += 1;
      api.last = {
        model: model.id,
        name: current.name,
        width: out.image.width,
        height: out.image.height,
        ms: out.ms,
        rgba: out.image.data,
      };
    } catch (err) {
      say(`The network could not run: ${err && err.message ? err.message : err}`, "error");
    } finally {
      busy(false);
    }
  }

  async function pick(name, blob) {
    try {
      current = { name, image: await decode(name, blob) };
    } catch (err) {
      current = null;
      $(".srweb-view").hidden = true; // no earlier result beside a message about this image
      say(err instanceof RangeError ? err.message : `${name} could not be read as an ` +
          `image (${err.message || err}); pick a PNG, JPEG or WebP file.`, "error");
      return;
    }
    await run();
  }

  function dragging() {
    const view = $(".srweb-compare");
    const move = (event) => {
      const box = view.getBoundingClientRect();
      setSplit((event.clientX - box.left) / box.width);
    };
    view.addEventListener("pointerdown", (event) => {
      view.setPointerCapture(event.pointerId);
      move(event);
      view.addEventListener("pointermove", move);
    });
    view.addEventListener("pointerup", () => view.removeEventListener("pointermove", move));
    $(".srweb-split").addEventListener("input", (e) => setSplit(e.target.value / 1000));
  }

  async function start() {
    if (location.protocol === "file:") {
      say("Browsers do not run WebAssembly from files opened directly. Serve the book's " +
          "folder instead: python -m http.server --directory _build/html, then open " +
          "http://localhost:8000/book/upscale.html.", "error");
      return;
    }
    if (typeof ort === "undefined") {
      say("ONNX Runtime Web is not part of this build (scripts/fetch_ortweb.sh installs it " +
          "when the book is built).", "error");
      return;
    }
    try {
      const response = await fetch(base + "srweb/manifest.json");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      manifest = await response.json();
    } catch (err) {
      say("This build has no networks for the page (scripts/web_models.py writes them when " +
          `the book is built): ${err.message || err}`, "error");
      return;
    }
    ort.env.wasm.wasmPaths = base + "ortweb/";
    // threads need a cross-origin-isolated page (special server headers); one always works
    ort.env.wasm.numThreads = self.crossOriginIsolated ? navigator.hardwareConcurrency : 1;
    const select = $(".srweb-model");
    for (const m of manifest.models) {
      select.add(new Option(m.label, m.id, false, m.id !== "bicubic_x2" && !select.value));
    }
    const best = manifest.models.find((m) => m.id === "ch00_vdsr_x2") || manifest.models[0];
    select.value = best.id;
    const samples = $(".srweb-sample");
    for (const s of manifest.samples) samples.add(new Option(s.name, s.file));
    const list = $(".srweb-sources");
    for (const m of manifest.models) {
      const item = document.createElement("li");
      item.textContent = `${m.label}: ${m.source} (${mb(m.bytes)} of ONNX)`;
      list.appendChild(item);
    }
    const sizes = manifest.bytes;
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    $(".srweb-size").textContent =
      `This page adds ${mb(total)} to the book: ` +
      Object.entries(sizes).map(([k, v]) => `${k} ${mb(v)}`).join(", ") +
      `. Samples: ${manifest.samples_source}.`;
    $(".srweb-file").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (file) pick(file.name, file);
    });
    $(".srweb-load").addEventListener("click", async () => {
      if (samples.selectedIndex < 0) return;
      const name = samples.options[samples.selectedIndex].text;
      try {
        const response = await fetch(base + "srweb/" + samples.value);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        await pick(name, await response.blob());
      } catch (err) {
        say(`The sample ${name} could not be loaded (${err.message || err}).`, "error");
      }
    });
    select.addEventListener("change", run);
    $(".srweb-run").addEventListener("click", run);
    dragging();
    $(".srweb-controls").hidden = false;
    say("Ready: pick an image file or a sample. Everything runs in this browser; nothing is " +
        "uploaded.", "done");
  }

  start();
})();
