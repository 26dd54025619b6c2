#!/usr/bin/env python3
"""Render report_html()'s document in headless Chromium and check it.

    render_check.py REPORT.html EXPECT.json OUTDIR

EXPECT.json: {"charts": {"<data-chart>": {"bars": n, "points": n}},
              "texts": ["visible text", ...]}

The report itself has no script.  A copy of it gets a measuring script that
records, after layout, each chart's bars and points with a non-zero rendered
size and the page's visible text; Chromium's --dump-dom hands that back.  The
original is rendered to OUTDIR/report.png as the test's artefact.  Exits 1,
saying what differs, when a count or a text does not match.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

MEASURE = """<script>
(function () {
  var out = {charts: {}, text: document.body.innerText};
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    function sized(sel) {
      var n = 0;
      svg.querySelectorAll(sel).forEach(function (e) {
        var r = e.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) n++;
      });
      return n;
    }
    out.charts[svg.getAttribute('data-chart')] = {bars: sized('rect.bar'), points: sized('circle.point')};
  });
  var pre = document.createElement('pre');
  pre.id = 'render-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("render_check: chromium is not installed (apt-get install chromium)")


def run(browser, profile, args):
    return subprocess.run([browser] + FLAGS + ["--user-data-dir=" + profile] + args,
                          capture_output=True, text=True, timeout=120)


def main():
    report, expect_file, outdir = sys.argv[1:4]
    expect = json.load(open(expect_file))
    os.makedirs(outdir, exist_ok=True)
    browser = chromium()
    work = tempfile.mkdtemp(prefix="render_check.")
    try:
        doc = open(report, encoding="utf-8").read()
        if "<script" in doc.lower():
            sys.exit("render_check: the report itself must not contain a script")
        measured = os.path.join(work, "measured.html")
        with open(measured, "w", encoding="utf-8") as f:
            f.write(doc.replace("</body>", MEASURE + "</body>", 1))
        dom = run(browser, os.path.join(work, "p1"),
                  ["--window-size=1000,2000", "--dump-dom", "file://" + measured]).stdout
        m = re.search(r'<pre id="render-measure">(.*?)</pre>', dom, re.S)
        if not m:
            sys.exit("render_check: chromium returned no measurement")
        got = json.loads(html.unescape(m.group(1)))
        shot = os.path.join(outdir, "report.png")
        run(browser, os.path.join(work, "p2"),
            ["--window-size=1000,4000", "--screenshot=" + shot, "file://" + os.path.abspath(report)])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    problems = []
    for chart, want in expect.get("charts", {}).items():
        have = got["charts"].get(chart)
        if have is None:
            problems.append("chart %s was not rendered" % chart)
            continue
        for what in ("bars", "points"):
            if what in want and have[what] != int(want[what]):
                problems.append("chart %s: %d %s of non-zero size, expected %d"
                                % (chart, have[what], what, int(want[what])))
    text = " ".join(got["text"].split())
    for t in expect.get("texts", []):
        if " ".join(t.split()) not in text:
            problems.append("visible text missing: %r" % t)
    if not os.path.exists(shot) or os.path.getsize(shot) < 10000:
        problems.append("no screenshot was written to %s" % shot)
    for p in problems:
        print("render_check:", p)
    print("render_check: %d charts measured, screenshot %s" % (len(got["charts"]), shot))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
