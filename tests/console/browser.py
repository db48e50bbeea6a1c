"""Headless Chromium for the console tests: Debian's `chromium` driven through `chromium-driver`.

Both come from scripts/system-packages.txt; a missing browser fails the tests (never skips them). Each
browser gets a fresh profile folder and flags that keep it off the network except for the gateway under
test. Screenshots go to tests/console/screenshots/ (gitignored).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).parent / "screenshots"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    assert Path(CHROMIUM).exists(), "chromium is missing: run scripts/install-system.sh"
    assert Path(CHROMEDRIVER).exists(), "chromium-driver is missing: run scripts/install-system.sh"
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(driver: webdriver.Chrome, check: Callable[[], object], timeout: float = 15) -> object:
    """Poll `check` until it returns something truthy (its value is returned)."""
    waiting = WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    return waiting.until(lambda _: check())


def find(driver: webdriver.Chrome, css: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, css)


def sign_in(driver: webdriver.Chrome, url: str, key: str) -> None:
    driver.get(url + "/")
    field = wait_for(driver, lambda: find(driver, "#signin-key"))
    assert isinstance(field, WebElement)
    field.send_keys(key)
    find(driver, "#signin-form button[type=submit]").click()
