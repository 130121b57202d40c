"""Refresh the report images in docs/img from a report directory (developer tool).

    codesign report runs/search/main --out reports/main
    python docs/screenshots.py reports/main

Renders the first screen of index.html and of the best front candidate's page in headless
Chromium (as the report test does) and copies two of the report's figures.
"""

import json
import shutil
import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

IMG = Path(__file__).resolve().parent / "img"


def main(report: Path) -> None:
    manifest = json.loads((report / "report.json").read_text())
    best = manifest["front"][0] if manifest["front"] else manifest["candidates"][0]
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1300", "--hide-scrollbars"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        for page, name in (("index.html", "report_index.png"), (f"trial-{best:05d}.html", "report_candidate.png")):
            browser.get((report / page).resolve().as_uri())
            browser.save_screenshot(str(IMG / name))
    finally:
        browser.quit()
    shutil.copy(report / "img" / "pareto_lut.png", IMG / "report_pareto_lut.png")
    shutil.copy(report / "img" / f"roc_{best:05d}.png", IMG / "report_roc.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
