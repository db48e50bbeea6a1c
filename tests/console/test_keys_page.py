"""The console's key and usage pages in headless Chromium, on the real admin API and state store."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.conftest import API_KEY, AUTH
from tests.console.browser import chromium, find, screenshot, sign_in, wait_for
from tests.servers import LiveServer


def test_create_a_key_use_it_revoke_it_and_see_its_usage_and_requests(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory()
    with chromium() as admin, chromium() as user:
        sign_in(admin, gateway.url, API_KEY)
        wait_for(admin, lambda: find(admin, "#pg-model").get_attribute("value") == "qwq-32b")
        find(admin, "[data-page=keys]").click()
        find(admin, "#key-name").send_keys("console test")
        find(admin, "#key-rpm").send_keys("60")
        find(admin, "#key-budget").send_keys("5")
        find(admin, "#key-period").send_keys("day")
        find(admin, "#key-form button[type=submit]").click()
        secret = wait_for(admin, lambda: find(admin, "#key-secret-text").get_attribute("value"))
        assert isinstance(secret, str) and len(secret) > 20
        key_id, line = rows_of(admin, "//td[text()='console test']/..")[0]
        assert key_id and "60 rpm" in line and "$5 per day" in line and "active" in line
        assert secret not in line  # the secret is shown once, in its own box, never in the list
        screenshot(admin, "keys")

        find(admin, "[data-page=live]").click()  # watching before the key is used
        wait_for(admin, lambda: find(admin, "#live-status").text.startswith("Connected"))

        # The new key works in the playground (another browser: its own session storage).
        sign_in(user, gateway.url, secret)
        wait_for(user, lambda: find(user, "#pg-model").get_attribute("value") == "qwq-32b")
        assert [t.is_displayed() for t in user.find_elements(By.CSS_SELECTOR, ".admin-only")] == [False] * 4
        find(user, "#pg-message").send_keys("Hello from a managed key")
        find(user, "#pg-send").click()
        wait_for(user, lambda: find(user, "#pg-status").text == "Done.")

        # Its request is in the live log (with the key's id, never its secret) and in the usage chart.
        _, logged = rows_of(admin, f"//table[@id='live-table']/tbody/tr[td[text()='{key_id}']]")[0]
        assert "/v1/chat/completions" in logged
        assert secret not in admin.page_source
        find(admin, "[data-page=usage]").click()
        find(admin, "#usage-group").send_keys("key")
        find(admin, "#usage-form button[type=submit]").click()
        usage_rows = f"//table[@id='usage-table']/tbody/tr[td[text()='{key_id}']]"
        cells = wait_for(  # read inside the wait: a table redrawn meanwhile is read again
            admin,
            lambda: next(
                (
                    [cell.text for cell in line.find_elements(By.TAG_NAME, "td")]
                    for line in admin.find_elements(By.XPATH, usage_rows)
                ),
                None,
            ),
        )
        assert isinstance(cells, list)
        assert cells[1] == "1" and int(cells[3]) > 0 and int(cells[4]) > 0
        painted = admin.execute_script(
            "const c = document.querySelector('#usage-tokens');"
            "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;"
        )
        assert isinstance(painted, int) and painted > 500  # bars and labels were drawn
        screenshot(admin, "usage")

        # Revoking asks first, in the row; "Cancel" keeps the key, "Yes, revoke" revokes it.
        find(admin, "[data-page=keys]").click()
        row_text = f"return document.querySelector(`tr[data-key-id='{key_id}']`)?.textContent || ''"
        # The list the tab has just asked for is drawn (the key has been used, so it is no longer
        # "never"): a question opened in the list drawn before would close when it is replaced.
        wait_for(admin, lambda: "active" in (t := admin.execute_script(row_text)) and "never" not in t)
        in_row = f"tr[data-key-id='{key_id}']"
        find(admin, f"{in_row} button.revoke").click()
        question = wait_for(admin, lambda: find(admin, f"{in_row} .revoke-question").text)
        assert question == "Revoke console test? Every request with it fails at once; this cannot be undone."
        assert admin.switch_to.active_element == find(admin, f"{in_row} button.confirm-revoke")  # keyboard
        screenshot(admin, "revoke-confirm")
        find(admin, f"{in_row} button.cancel-revoke").click()
        assert find(admin, f"{in_row} button.revoke").is_displayed()
        assert status_of(gateway, key_id) == "active" and use(gateway, secret) == 200  # nothing happened
        find(admin, f"{in_row} button.revoke").click()
        find(admin, f"{in_row} button.confirm-revoke").click()
        wait_for(admin, lambda: "revoked" in admin.execute_script(row_text))
        assert status_of(gateway, key_id) == "revoked"
        # The playground shows the 401.
        find(user, "#pg-message").send_keys("Am I still allowed?")
        find(user, "#pg-send").click()
        wait_for(user, lambda: find(user, "#pg-error").text.startswith("401"))
        assert "the key is not valid; sign in again" in find(user, "#pg-error").text


def test_rotating_a_key_shows_the_new_secret_once_and_the_old_one_stops_or_overlaps(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory()
    with chromium() as admin:
        sign_in(admin, gateway.url, API_KEY)
        wait_for(admin, lambda: find(admin, "#pg-model").get_attribute("value") == "qwq-32b")
        find(admin, "[data-page=keys]").click()
        find(admin, "#key-name").send_keys("to rotate")
        find(admin, "#key-form button[type=submit]").click()
        first = wait_for(admin, lambda: find(admin, "#key-secret-text").get_attribute("value"))
        assert isinstance(first, str) and use(gateway, first) == 200
        key_id = rows_of(admin, "//td[text()='to rotate']/..")[0][0]
        in_row = f"tr[data-key-id='{key_id}']"

        def rotate(overlap: str) -> str:
            before = find(admin, "#key-secret-text").get_attribute("value")
            box = find(admin, "#rotate-overlap")
            box.clear()
            box.send_keys(overlap)
            wait_for(admin, lambda: admin.find_elements(By.CSS_SELECTOR, f"{in_row} button.rotate"))
            admin.execute_script(f"document.querySelector(`{in_row} button.rotate`).click()")
            shown = wait_for(
                admin, lambda: (v := find(admin, "#key-secret-text").get_attribute("value")) != before and v
            )
            assert isinstance(shown, str)
            return shown

        # No overlap (the default): the old secret stops working at once, the new one works.
        second = rotate("0")
        assert second != first and second.startswith(f"qwq_{key_id}_")
        assert use(gateway, first) == 401 and use(gateway, second) == 200
        wait_for(admin, lambda: "to rotate" in find(admin, in_row).text)
        assert second in everything_shown(admin) and first not in everything_shown(admin)
        assert second not in find(admin, "#keys-table").text
        screenshot(admin, "key-rotated")

        # With an overlap, the secret just replaced keeps working beside the new one for that long.
        third = rotate("600")
        assert len({first, second, third}) == 3
        assert use(gateway, second) == 200 and use(gateway, third) == 200 and use(gateway, first) == 401
        assert third in everything_shown(admin) and second not in everything_shown(admin)  # the newest only
        assert status_of(gateway, key_id) == "active"


def rows_of(driver: webdriver.Chrome, xpath: str) -> list[tuple[str, str]]:
    """(`data-key-id`, text) of the table rows `xpath` finds, once there are some: read inside the wait,
    so a list redrawn meanwhile is read again rather than failing on a stale element."""
    found = wait_for(
        driver,
        lambda: [
            (line.get_attribute("data-key-id") or "", line.text)
            for line in driver.find_elements(By.XPATH, xpath)
        ],
    )
    assert isinstance(found, list)
    return found


def everything_shown(driver: webdriver.Chrome) -> str:
    """The page's text and the values of its fields (a field's value is not in the page source)."""
    text: str = driver.execute_script(
        "return document.body.innerText + ' ' +"
        " [...document.querySelectorAll('input, textarea')].map(e => e.value).join(' ')"
    )
    return text


def use(gateway: LiveServer, key: str) -> int:
    """The status of one chat request made with `key`."""
    body = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=15
    ).status_code


def status_of(gateway: LiveServer, key_id: str) -> str:
    answer = httpx.get(f"{gateway.url}/admin/v1/keys/{key_id}", headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status
