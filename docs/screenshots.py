"""Refresh the report images in docs/img from a report directory (developer tool).

    codesign report runs/search/main --out reports/main
    python docs/screenshots.py reports/main
    python docs/screenshots.py dqm/plots            # a `codesign dqm assess --make_webpage` directory

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


def _shoot(pages: list[tuple[Path, str]]) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1300", "--hide-scrollbars"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        for page, name in pages:
            browser.get(page.resolve().as_uri())
            browser.save_screenshot(str(IMG / name))
    finally:
        browser.quit()


def dqm(plots: Path) -> None:
    summary = json.loads((plots / "summary.json").read_text())
    _shoot([(plots / "index.html", "dqm_page.png")])
    figures = summary["figures"]
    shutil.copy(plots / "img" / figures["run_level"]["png"], IMG / "dqm_run_level.png")
    roc = next(v["png"] for k, v in figures.items() if k.startswith("roc_truth/") and "emtfTrackEta" in k)
    shutil.copy(plots / "img" / roc, IMG / "dqm_roc.png")


def main(report: Path) -> None:
    if not (report / "report.json").is_file():
        return dqm(report)
    manifest = json.loads((report / "report.json").read_text())
    best = manifest["front"][0] if manifest["front"] else manifest["candidates"][0]
    _shoot([(report / "index.html", "report_index.png"), (report / f"trial-{best:05d}.html", "report_candidate.png")])
    shutil.copy(report / "img" / "pareto_lut.png", IMG / "report_pareto_lut.png")
    shutil.copy(report / "img" / f"roc_{best:05d}.png", IMG / "report_roc.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
