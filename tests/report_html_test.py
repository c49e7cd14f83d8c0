#!/usr/bin/python3
"""report.html in headless Chromium: trains a small synthetic model with the built `stfpm`, renders the test
run's report.html to a screenshot and to its DOM, and checks that the page loads without console messages (it has
no script, so any is an error), that the screenshot has the window's size and is not blank, that the metrics
table, the three plots and one row per test image are there (false positives and negatives first), and that every
image the page links exists.

  report_html_test.py STFPM_BINARY TEACHER WORK_DIR

Exits 77 (skipped) without Chromium or the teacher, except with STFPM_REQUIRE_CHROMIUM=1 (CI sets it), where a
missing Chromium fails.
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

from PIL import Image

SKIP = 77
WIDTH, HEIGHT = 1200, 1500


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def run(args):
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if done.returncode != 0:
        fail(" ".join(args) + " exited " + str(done.returncode) + ":\n" + done.stdout[-3000:])
    return done.stdout


def chromium(args):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
            "--v=0", "--window-size=%d,%d" % (WIDTH, HEIGHT)]
    done = subprocess.run(base + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if done.returncode != 0:
        fail("chromium exited %d:\n%s" % (done.returncode, done.stderr[-3000:]))
    return done.stdout, done.stderr


def main():
    binary, teacher, work = sys.argv[1:4]
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        if os.environ.get("STFPM_REQUIRE_CHROMIUM") == "1":
            fail("chromium is not installed (tools/setup.sh installs it)")
        print("skipped: chromium is not installed")
        return SKIP
    if not os.path.isfile(teacher):
        print("skipped: no teacher at " + teacher)
        return SKIP
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data, models, results = (os.path.join(work, d) for d in ("data", "models", "results"))
    run([binary, "synth", "--data_dir", data, "--size", "64"])
    # A validation threshold at the held-out images' highest score, so that some test images are likely misjudged.
    run([binary, "train", "--data_dir", data, "--category", "synthetic", "--size", "64", "--epochs", "1",
         "--device", "cpu", "--teacher", teacher, "--model_dir", models, "--results_dir", results,
         "--val_split", "0.3", "--max_fpr", "0"])
    report = os.path.join(results, "synthetic", "report.html")
    if not os.path.isfile(report):
        fail("no " + report)
    url = "file://" + urllib.parse.quote(os.path.abspath(report))

    shot = os.path.join(work, "report.png")
    _, log = chromium(["--screenshot=" + shot, url])
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    if console:
        fail("console messages while loading the report:\n" + "\n".join(console))
    with Image.open(shot) as image:
        if image.size != (WIDTH, HEIGHT):
            fail("screenshot is %dx%d, the window %dx%d" % (image.size + (WIDTH, HEIGHT)))
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        if colours is None or len(colours) < 50:
            fail("the screenshot is nearly blank (%s colours)" % (len(colours) if colours else "too many"))

    dom, _ = chromium(["--dump-dom", url])
    for element in ('id="metrics"', 'id="roc"', 'id="pro"', 'id="histogram"', 'id="images"'):
        if element not in dom:
            fail("the rendered page has no element with " + element)
    with open(os.path.join(results, "synthetic", "scores.csv")) as f:
        table = list(csv.DictReader(f))
    n_images = len(table)
    misjudged = sum(1 for r in table if r["label"] != r["predicted"])
    rows = re.findall(r'<tr class="row">(.*?)</tr>', dom, re.S)
    if len(rows) != n_images:
        fail("%d image rows for %d test images" % (len(rows), n_images))
    # Misjudged images first: once a correct decision appears, no wrong one follows.
    decisions = [re.search(r'<td class="(TP|TN|FP|FN)"', r).group(1) for r in rows]
    first_right = next((i for i, d in enumerate(decisions) if d in ("TP", "TN")), len(decisions))
    if any(d in ("FP", "FN") for d in decisions[first_right:]) or first_right != misjudged:
        fail("the %d misjudged images of scores.csv are not the first rows: %s" % (misjudged, " ".join(decisions)))
    sources = re.findall(r'<img class="result"[^>]*src="([^"]+)"', dom)
    if len(sources) != n_images:
        fail("%d result images linked for %d test images" % (len(sources), n_images))
    folder = os.path.dirname(report)
    for src in sources:
        if not os.path.isfile(os.path.join(folder, urllib.parse.unquote(src))):
            fail("the report links a missing image: " + src)
    print("report.html: %d rows, %d misjudged first, %dx%d screenshot: %s" %
          (len(rows), first_right, WIDTH, HEIGHT, shot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
