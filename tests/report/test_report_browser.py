"""Open the demo report in headless Chromium at 1280 and 800 px (and 1000, 700): every
image loads, nothing overflows, and the contents, the methods paragraph, the source legend
and the humans-only figures are there.

Without a browser-automation library, a *test copy* of the report gets a small probe
script that measures the page after ``load`` and writes the result into the DOM,
which Chromium prints with ``--dump-dom``. The shipped report stays script-free.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROBE = """<script>
window.addEventListener('load', function () {
  var vw = window.innerWidth;
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  function clipped(el) {
    for (var p = el.parentElement; p; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { return true; }
    }
    return false;
  }
  var wide = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > vw + 0.5 || (r.right > vw + 0.5 && !clipped(el))) {
      wide.push(el.tagName + '#' + (el.id || '') + ':' + Math.round(r.right));
    }
  });
  var methods = document.querySelector('#methods p');
  var legend = document.getElementById('source-legend');
  var humans = images.filter(function (i) { return /humans only/.test(i.alt); });
  var out = document.createElement('pre');
  out.id = 'probe-result';
  out.textContent = JSON.stringify({
    images: images.length, broken: broken.map(function (i) { return i.alt; }),
    widths: images.map(function (i) { return i.naturalWidth; }),
    scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, wide: wide.slice(0, 20),
    methods: methods ? methods.textContent.length : 0,
    methodsVisible: methods ? methods.getBoundingClientRect().height > 0 : false,
    legendRows: legend ? legend.rows.length : 0,
    humans: humans.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    contents: document.querySelectorAll('nav.toc a[href^="#"]').length,
    sections: document.querySelectorAll('section[id]').length,
    details: document.querySelectorAll('details').length
  });
  document.body.appendChild(out);
});
</script>
"""
RESULT = re.compile(r'<pre id="probe-result">(.*?)</pre>', re.S)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def demo_report(demo_project: Path) -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: the browser check needs headless Chromium")
    report = demo_project / "report.html"
    assert report.is_file()
    return report


@pytest.mark.parametrize("width", [1280, 1000, 800, 700])
def test_images_load_and_nothing_overflows(demo_report: Path, tmp_path: Path,
                                           width: int) -> None:
    page = demo_report.read_text(encoding="utf-8")
    assert "<script" not in page.lower()  # the shipped report has no script
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _chromium(["--virtual-time-budget=5000", f"--window-size={width},800",
                      "--dump-dom", probe.as_uri()], tmp_path / "profile")
    match = RESULT.search(done.stdout)
    assert match, f"no probe result (exit {done.returncode}): {done.stderr[-500:]}"
    result = json.loads(html.unescape(match.group(1)))
    assert result["images"] == page.count("<img")
    assert result["images"] >= 7
    assert result["broken"] == []
    assert all(w > 0 for w in result["widths"])
    assert result["scrollWidth"] <= result["innerWidth"], result
    assert result["wide"] == [], result["wide"]
    assert result["methods"] > 200 and result["methodsVisible"]
    assert result["legendRows"] == 1 + 6  # header, five sources and "no label"
    assert result["humans"] == 2  # the humans-only strip and pathway diagram
    assert result["contents"] == result["sections"] and result["details"] > 0


@pytest.mark.parametrize("width", [1280, 800])
def test_screenshot(demo_report: Path, tmp_path: Path, width: int) -> None:
    shot = tmp_path / "report.png"
    done = _chromium([f"--window-size={width},6000", f"--screenshot={shot}",
                      demo_report.as_uri()], tmp_path / "profile")
    assert shot.is_file(), done.stderr[-500:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and int.from_bytes(data[16:20], "big") == width
