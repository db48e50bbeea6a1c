"""The console's usage page in headless Chromium: tokens and cost per day, per key and per model, each
chart and table showing a request made after the page was first drawn."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.conftest import API_KEY
from tests.console.browser import chromium, find, screenshot, sign_in, wait_for
from tests.servers import LiveServer

USER_KEY = "user-key-for-usage-charts"


def ask(gateway: LiveServer) -> httpx.Response:
    body = {"model": "qwq-32b", "messages": [{"role": "user", "content": "Count my tokens"}]}
    answer = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {USER_KEY}"},
        timeout=15,
    )
    assert answer.status_code == 200, answer.text
    return answer


def shown(driver: webdriver.Chrome, group: str, label: str) -> tuple[list[str], str, str]:
    """Group the usage page by `group` and read the row named `label` and what each chart says."""
    find(driver, "#usage-group").send_keys(group)
    # Cleared first, so the wait below sees this refresh's drawing, not the last one.
    driver.execute_script("document.querySelector('#usage-tokens').removeAttribute('aria-label')")
    find(driver, "#usage-form button[type=submit]").click()
    wait_for(driver, lambda: find(driver, "#usage-tokens").get_attribute("aria-label"))
    line = wait_for(
        driver,
        lambda: driver.find_elements(
            By.XPATH, f"//table[@id='usage-table']/tbody/tr[td[1][text()='{label}']]"
        ),
    )
    assert isinstance(line, list)
    cells = [c.text for c in line[0].find_elements(By.TAG_NAME, "td")]
    tokens = find(driver, "#usage-tokens").get_attribute("aria-label") or ""
    cost = find(driver, "#usage-cost").get_attribute("aria-label") or ""
    return cells, tokens, cost


def painted(driver: webdriver.Chrome, canvas: str) -> int:
    count: int = driver.execute_script(
        f"const c = document.querySelector('{canvas}');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;"
    )
    return count


def test_tokens_and_cost_per_day_key_and_model_show_a_new_request(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory(api_keys=f"{API_KEY},{USER_KEY}")
    ask(gateway)
    with chromium() as admin:
        sign_in(admin, gateway.url, API_KEY)
        wait_for(admin, lambda: find(admin, "#pg-model").get_attribute("value") == "qwq-32b")
        find(admin, "[data-page=usage]").click()
        wait_for(admin, lambda: admin.find_elements(By.CSS_SELECTOR, "#usage-table tbody tr"))
        day = find(admin, "#usage-table tbody tr td").text  # today's row, in the store's own period text
        labels = {"day": day, "key": "static-2", "model": "qwq-32b"}
        first = {group: shown(admin, group, label) for group, label in labels.items()}

        answer = ask(gateway)  # a new request, after the page was drawn
        usage = answer.json()["usage"]
        added_tokens = usage["prompt_tokens"] + usage["completion_tokens"]
        for group, label in labels.items():
            (cells, tokens_chart, cost_chart) = shown(admin, group, label)
            (old_cells, old_tokens_chart, old_cost_chart) = first[group]
            assert int(cells[1]) == int(old_cells[1]) + 1, (group, old_cells, cells)  # requests
            tokens, old_tokens = int(cells[3]) + int(cells[4]), int(old_cells[3]) + int(old_cells[4])
            assert tokens == old_tokens + added_tokens, (group, old_cells, cells)
            assert float(cells[6]) > float(old_cells[6]) > 0, (group, old_cells, cells)  # cost
            # Both charts draw the new figures: their labels say so, and they are painted.
            assert tokens_chart.startswith("Tokens per group. ") and f"{label}: {tokens}" in tokens_chart
            assert f"{label}: {old_tokens}" in old_tokens_chart
            assert cost_chart.startswith("Cost per group in USD. ") and f"{label}: $" in cost_chart
            assert cost_chart != old_cost_chart
            assert painted(admin, "#usage-tokens") > 500 and painted(admin, "#usage-cost") > 500
            screenshot(admin, f"usage-by-{group}")
