"""The in-browser upscaling page (book/upscale.md), tested as a reader uses it: headless
Chromium with every request outside the book's own local server blocked.

    python scripts/browser_upscale.py _build/html [--chromium /usr/bin/chromium] [--shots DIR]

It uploads a photograph through the page's file field, runs every network the build offers,
and checks that each output has twice the input's size and matches the same network run by
PyTorch (``sr_lib.export.OnRGB``, quantised to 8 bits like the page) to at least 50 dB PSNR.
It also drags the split, checks that an oversized image gets a message that names the limit,
and saves screenshots. Browsers do not run WebAssembly from ``file://`` pages, so the book is
served from 127.0.0.1, as a reader serving it offline would.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_models  # noqa: E402  (the networks the page offers, built the same way)

from sr_lib import catalog  # noqa: E402
from sr_lib.export import OnRGB  # noqa: E402

MIN_PSNR = 50.0
DRAWN_JS = """() => {
  const last = window.srweb.last, top = document.querySelector('.srweb-top');
  const bottom = document.querySelector('.srweb-bottom');
  if (top.width !== last.width || top.height !== last.height) return 'canvas size differs';
  if (bottom.width !== last.width || bottom.height !== last.height) return 'bicubic size differs';
  const shown = top.getContext('2d').getImageData(0, 0, top.width, top.height).data;
  for (let i = 0; i < shown.length; i++) {
    if (shown[i] !== last.rgba[i]) return `the network's canvas differs at byte ${i}`;
  }
  const label = document.querySelector('.srweb-label-right').textContent;
  const model = document.querySelector('.srweb-model');
  if (!label.startsWith(model.options[model.selectedIndex].text)) return `label ${label}`;
  return 'ok';
}"""


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test prints its own lines
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def photo(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A crop of a real photograph (scikit-image's astronaut) of ``size`` (w, h), as a PNG."""
    pixels = catalog.sample_images(("astronaut",))[0][60:60 + size[1], 130:130 + size[0], :3]
    Image.fromarray(np.ascontiguousarray(pixels)).save(path)
    return pixels


def reference(net: torch.nn.Module, pixels: np.ndarray) -> np.ndarray:
    """PyTorch's output for the page's input, quantised as the page does (round, clamp)."""
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = OnRGB(net.eval(), web_models.SCALE)(x)[0]
    return (y.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def run_once(page, trigger) -> dict:
    """Start one upscaling with ``trigger()`` and return the page's result (or its error)."""
    before = page.evaluate("() => window.srweb.runs")
    trigger()
    page.wait_for_function(f"() => window.srweb.runs > {before} || window.srweb.error",
                           timeout=120000)
    return page.evaluate("""() => {
      const r = window.srweb.last, e = window.srweb.error;
      return e ? {error: e} : {model: r.model, width: r.width, height: r.height, ms: r.ms,
                              rgba: Array.from(r.rgba)};
    }""")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--shots", type=Path, default=None)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    manifest_path = args.html / "_static" / "srweb" / "manifest.json"
    if not manifest_path.is_file():
        print(f"upscale page: {manifest_path} is missing; scripts/web_models.py writes it "
              "before the book is built", file=sys.stderr)
        return 1
    manifest = json.loads(manifest_path.read_text())
    nets = {key: net for key, _, net, _ in web_models.networks()}
    shots = args.shots or Path(tempfile.mkdtemp(prefix="srbook-shots-"))
    shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="srbook-upscale-"))
    pixels = photo(work / "photo.png", (61, 47))  # odd sizes: the graphs' sizes are symbolic
    photo(work / "large.png", (320, 300))
    server, origin = serve(args.html.resolve())
    failures, errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=[
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1200, "height": 1000})
        blocked = []

        def block(route):
            blocked.append(route.request.url)
            route.abort()

        context.route(re.compile(rf"^(?!{re.escape(origin)}/).*"), block)  # offline
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        # Jupyter Book 1's theme writes its Thebe settings twice in every page's head; the
        # second copy's redeclaration error is the theme's, not this page's
        page.on("pageerror", lambda exc: None if "THEBE_JS_URL" in str(exc)
                else errors.append(f"uncaught: {exc}"))
        page.goto(f"{origin}/book/upscale.html", wait_until="load")
        page.wait_for_function("() => document.querySelector('.srweb-status').dataset.kind "
                               "!== 'info'", timeout=60000)
        status = page.locator(".srweb-status").inner_text()
        if page.evaluate("() => window.srweb.error"):
            failures.append(f"the page did not start: {status}")
        offered = page.evaluate("() => [...document.querySelectorAll('.srweb-model option')]"
                                ".map(o => o.value)")
        if offered != [m["id"] for m in manifest["models"]]:
            failures.append(f"the page offers {offered}, the manifest {manifest['models']}")
        first = True
        for model_id in offered if not failures else []:
            def trigger(model_id=model_id, first=first):
                if first:
                    page.select_option(".srweb-model", model_id)
                    page.set_input_files(".srweb-file", str(work / "photo.png"))
                else:
                    page.select_option(".srweb-model", model_id)
            result = run_once(page, trigger)
            first = False
            if "error" in result:
                failures.append(f"{model_id}: {result['error']}")
                continue
            want = (2 * pixels.shape[1], 2 * pixels.shape[0])
            if (result["width"], result["height"]) != want:
                failures.append(f"{model_id}: output {result['width']}x{result['height']}, "
                                f"expected {want[0]}x{want[1]}")
                continue
            if model_id not in nets:
                failures.append(f"{model_id}: the page offers it, but PyTorch cannot rebuild "
                                "it here (build the book and run this test with the same "
                                "SR_WEIGHTS)")
                continue
            got = np.array(result["rgba"], dtype=np.uint8).reshape(want[1], want[0], 4)[..., :3]
            ref = reference(nets[model_id], pixels)
            score = psnr8(got, ref)
            worst = int(np.abs(got.astype(int) - ref.astype(int)).max())
            line = (f"{model_id}: {pixels.shape[1]}x{pixels.shape[0]} -> {want[0]}x{want[1]} "
                    f"in {result['ms']:.0f} ms; browser vs PyTorch {score:.1f} dB, largest "
                    f"8-bit difference {worst}")
            print("upscale page: " + line)
            if score < MIN_PSNR or worst > 1:
                failures.append(line + f" (needs >= {MIN_PSNR} dB and <= 1)")
            # what the reader sees: the network's canvas holds that result, bicubic the other
            drawn = page.evaluate(DRAWN_JS)
            if drawn != "ok":
                failures.append(f"{model_id}: {drawn}")
        if not failures:
            page.locator(".srweb-compare").scroll_into_view_if_needed()
            box = page.locator(".srweb-compare").bounding_box()
            page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + box["height"] / 2)
            page.mouse.up()
            clip = page.evaluate("() => document.querySelector('.srweb-top').style.clipPath")
            found = re.search(r"([\d.]+)%\)$", clip)
            if not found or abs(float(found.group(1)) - 25) > 2:
                failures.append(f"dragging the split to a quarter gave clip-path {clip!r}")
            page.screenshot(path=str(shots / "upscale.png"), full_page=True)
            page.select_option(".srweb-sample", label="butterfly") if page.locator(
                ".srweb-sample option", has_text="butterfly").count() else None
            sample = run_once(page, lambda: page.click(".srweb-load"))
            if "error" in sample:
                failures.append(f"a sample image: {sample['error']}")
            elif page.evaluate(DRAWN_JS) != "ok":
                failures.append(f"a sample image: {page.evaluate(DRAWN_JS)}")
            page.locator(".srweb-compare").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "upscale-sample.png"))
            result = run_once(page, lambda: page.set_input_files(".srweb-file",
                                                                 str(work / "large.png")))
            if "300 x 300" not in result.get("error", ""):
                failures.append(f"a 320x300 image did not get the size message: {result}")
            page.locator(".srweb-status").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "upscale-too-large.png"))
        browser.close()
    server.shutdown()
    failures += [f"console error: {e[:160]}" for e in errors]
    failures += [f"request outside the book: {u[:120]}" for u in blocked]
    for f in failures:
        print("upscale page: " + f, file=sys.stderr)
    print(f"upscale page: {'FAILED' if failures else 'OK'} ({len(offered)} networks; "
          f"screenshots in {shots})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
