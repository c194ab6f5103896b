"""A real headless Chromium for the status page's tests and ``make screenshots``.

Debian's ``chromium`` driven through its ``chromium-driver`` by Selenium (the W3C WebDriver
client the Chromium project documents); both binaries are given by path, so Selenium never
looks for (or downloads) a browser of its own.  The browser's console is read through
chromedriver's ``goog:loggingPrefs`` log: a ``SEVERE`` entry is a console error, a failed
resource load or a Content-Security-Policy violation.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("LEYDEN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LEYDEN_CHROMEDRIVER", "/usr/bin/chromedriver")

NO_CHROMIUM = (
    f"the browser tests need Debian's chromium ({CHROMIUM}) and chromium-driver "
    f"({CHROMEDRIVER}) and the selenium package: apt-get install chromium chromium-driver"
)


def available() -> bool:
    """Whether chromium, chromedriver and selenium are all here."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return all(os.access(p, os.X_OK) or shutil.which(p) for p in (CHROMIUM, CHROMEDRIVER))


@contextmanager
def chromium(
    tmp: Path, *, width: int = 1280, height: int = 900, phone: bool = False, scale: float = 1.0
) -> Iterator[Any]:
    """A headless Chromium (a ``selenium.webdriver.Chrome``) with its console log kept;
    ``phone`` emulates a phone's screen (its viewport ``width`` × ``height``, ``scale`` device
    pixels per CSS pixel)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # containers and CI run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    if phone:
        options.add_experimental_option(
            "mobileEmulation",
            {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": scale},
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile",
            },
        )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """The console's SEVERE entries since the last call (chromedriver hands each out once)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def full_page_screenshot(driver: Any, path: Path, *, phone: bool = False) -> None:
    """A PNG of the whole page, not just the window: the viewport grows to the page first."""
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    scale = driver.execute_script("return window.devicePixelRatio")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": int(width), "height": int(height), "deviceScaleFactor": scale, "mobile": phone},
    )
    path.write_bytes(driver.get_screenshot_as_png())
