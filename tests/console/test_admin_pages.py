"""The console's admin pages in headless Chromium: upstream health and the live request log."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from selenium.webdriver.common.by import By

from tests.conftest import API_KEY
from tests.console.browser import chromium, find, screenshot, sign_in, wait_for
from tests.servers import LiveServer
from worker.console.live import LiveEndpoint

USER_KEY = "user-key-for-console-tests"


def test_an_admin_sees_health_and_new_requests_in_the_live_log(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory(api_keys=f"{API_KEY},{USER_KEY}")
    with chromium() as browser:
        sign_in(browser, gateway.url, API_KEY)
        wait_for(browser, lambda: find(browser, "#pg-model").get_attribute("value") == "qwq-32b")
        tabs = browser.find_elements(By.CSS_SELECTOR, ".admin-only")
        wait_for(browser, lambda: all(t.is_displayed() for t in tabs))
        assert [t.text for t in tabs] == ["Keys", "Usage", "Health", "Live log"]

        find(browser, "[data-page=health]").click()
        wait_for(browser, lambda: find(browser, "#health-summary").text == "Gateway ready")
        cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#health-table tbody td")]
        assert cells == ["qwq-32b", "qwq-32b#1", "simulator", "", "closed", "0 of 0", "—"]

        find(browser, "[data-page=live]").click()
        wait_for(browser, lambda: find(browser, "#live-status").text.startswith("Connected"))
        secret = "a question nobody else may read"
        answer = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {USER_KEY}"},
            json={"model": "qwq-32b", "messages": [{"role": "user", "content": secret}]},
        )
        request_id = answer.headers["x-request-id"]
        row = wait_for(
            browser,
            lambda: browser.find_elements(By.CSS_SELECTOR, f"#live-table tr[data-request-id='{request_id}']"),
        )
        assert isinstance(row, list)
        text = row[0].text
        assert "POST" in text and "/v1/chat/completions" in text and "200" in text and "qwq-32b" in text
        page = browser.page_source
        assert secret not in page and USER_KEY not in page and API_KEY not in page
        screenshot(browser, "live-log")

        # Leaving the page closes the stream: the gateway drops its subscriber, and with nobody watching
        # the live log no longer hears requests at all.
        starlette = gateway.app.app.app  # access log -> slug fast path -> the Starlette app
        live_log = next(r.endpoint.live for r in starlette.routes if isinstance(r.endpoint, LiveEndpoint))
        assert live_log.subscribers and live_log.sink in gateway.app.sinks
        find(browser, "[data-page=playground]").click()
        wait_for(browser, lambda: not live_log.subscribers)
        assert live_log.sink not in gateway.app.sinks
