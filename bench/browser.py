"""The browser viewer in headless Chromium: time from navigation to the first page painted for a
117-page PDF (countOfInitialPages=1), beside a bare GET Page/q/0 of a new session of an equal
document, and the time for page 61 to appear after jumping to it with the page box.

Every measurement uses a document nobody has seen (same pages, a unique trailing comment), so no
rendered page or inspection is cached for it. The server has API keys; the browser sends none.

    .venv/bin/python bench/browser.py [--runs 5] [--pages 117]      # needs the test extras and chromium
"""

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import running_service
from tests.docgen import text_pdf

KEY = "bench-viewer-key-1"
KEYED = {"Acs-Api-Key": KEY}


def new_session(url: str, document: bytes) -> str:
    sid = requests.post(f"{url}/PCCIS/V1/ViewingSession", json={"countOfInitialPages": 1}, headers=KEYED).json()[
        "viewingSessionId"
    ]
    put = requests.put(
        f"{url}/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension=pdf", data=document, headers=KEYED
    )
    put.raise_for_status()
    return sid


def fresh(document: bytes) -> bytes:
    return document + b"%" + secrets.token_hex(8).encode() + b"\n"


def bare_first_page(url: str, document: bytes) -> float:
    sid = new_session(url, fresh(document))
    started = time.perf_counter()
    resp = requests.get(f"{url}/PCCIS/V1/Page/q/0?DocumentID=u{sid}")
    resp.raise_for_status()
    return (time.perf_counter() - started) * 1000


JUMP = """
const [done] = arguments;
const input = document.getElementById('pm-page');
const page = () => document.querySelector('[data-page="60"]');
const started = performance.now();
input.value = '61';
input.dispatchEvent(new Event('change'));
const check = () => {
  if (page()?.dataset.state === 'loaded') requestAnimationFrame(() => done(performance.now() - started));
  else setTimeout(check, 5);
};
check();
"""


def browser() -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def viewer_run(driver: object, url: str, document: bytes) -> tuple[float, float]:
    sid = new_session(url, fresh(document))
    driver.get(f"{url}/viewer?session={sid}")
    deadline = time.monotonic() + 60
    while True:
        data = driver.execute_script("return {...document.getElementById('pm-viewer').dataset}")
        if data.get("firstPaintMs") and data.get("countConfidence") == "100":
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the viewer did not paint: {data}")
        time.sleep(0.01)
    driver.set_script_timeout(30)
    jump = driver.execute_async_script(JUMP)
    return float(data["firstPaintMs"]), float(jump)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", type=int, default=117)
    args = parser.parse_args()
    document = text_pdf(args.pages)
    with running_service(None, PAGEMILL_API_KEYS=f"bench:{KEY}", PAGEMILL_RENDER_PROCESSES="2") as (url, _):
        driver = browser()
        try:
            viewer_run(driver, url, document)  # warm-up: browser, modules in cache, render processes
            bare_first_page(url, document)
            bare, paint, jump = [], [], []
            for _ in range(args.runs):
                bare.append(bare_first_page(url, document))
                first, far = viewer_run(driver, url, document)
                paint.append(first)
                jump.append(far)
        finally:
            driver.quit()
    b, p, j = statistics.median(bare), statistics.median(paint), statistics.median(jump)
    print(f"{args.pages}-page PDF, countOfInitialPages=1, median of {args.runs} (ms):")
    print("| measure | ms |")
    print("|---|---|")
    print(f"| bare `GET Page/q/0` of a new session | {b:.1f} |")
    print(f"| viewer: navigation to first page painted | {p:.1f} ({p / b:.2f}x the bare request) |")
    print(f"| viewer: page 61 shown after jumping to it | {j:.1f} |")
    print(
        f"(all runs: bare {[round(x) for x in bare]}, paint {[round(x) for x in paint]}, jump {[round(x) for x in jump]})"
    )


if __name__ == "__main__":
    main()
