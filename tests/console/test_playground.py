"""The console's playground in headless Chromium against a live gateway (the simulator as the model)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.conftest import API_KEY
from tests.console.browser import chromium, find, screenshot, sign_in, wait_for
from tests.servers import LiveServer, serving
from worker.core.outcome import RequestRecord
from worker.simulator.server import SimulatorServer

USER_KEY = "user-key-for-console-tests"
KEYS = f"{API_KEY},{USER_KEY}"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        yield driver


def finished(driver: webdriver.Chrome) -> bool:
    return find(driver, "#pg-status").text in ("Done.", "Stopped.") or bool(find(driver, "#pg-error").text)


def send(driver: webdriver.Chrome, text: str) -> None:
    box = find(driver, "#pg-message")
    box.clear()
    box.send_keys(text)
    find(driver, "#pg-send").click()


def ready(driver: webdriver.Chrome) -> None:
    wait_for(driver, lambda: find(driver, "#pg-model").get_attribute("value") == "qwq-32b")


def with_options_open(driver: webdriver.Chrome, factory: Callable[..., LiveServer]) -> LiveServer:
    """A live gateway, and `driver` signed in to its playground with a user key, the tools and
    structured-output boxes unfolded."""
    gateway = factory(api_keys=KEYS)
    sign_in(driver, gateway.url, USER_KEY)
    ready(driver)
    driver.find_element(By.CSS_SELECTOR, "#chat-form details summary").click()
    return gateway


def test_a_wrong_key_is_told_and_a_user_key_gets_the_playground_only(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(api_keys=KEYS)
    sign_in(browser, gateway.url, "not-a-key")
    wait_for(browser, lambda: find(browser, "#signin-error").text == "That key is not valid.")
    assert find(browser, "#page-playground").is_displayed() is False
    sign_in(browser, gateway.url, USER_KEY)
    ready(browser)
    assert find(browser, "#page-playground").is_displayed()
    assert [t.is_displayed() for t in browser.find_elements(By.CSS_SELECTOR, ".admin-only")] == [False] * 4
    # The key lives in this tab's session storage, never in the address or the page.
    assert browser.execute_script("return sessionStorage.getItem('qwq-console-key')") == USER_KEY
    assert USER_KEY not in browser.current_url and USER_KEY not in browser.page_source
    find(browser, "#sign-out").click()
    assert browser.execute_script("return sessionStorage.length") == 0
    assert find(browser, "#page-signin").is_displayed()


def test_the_answer_streams_with_the_thinking_in_its_own_panel(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(api_keys=KEYS, simulator_token_delay=0.005)
    sign_in(browser, gateway.url, USER_KEY)
    ready(browser)
    find(browser, "#pg-system").send_keys("You are brief.")
    send(browser, "Why is the sky blue?")
    wait_for(browser, lambda: finished(browser))
    assert find(browser, "#pg-error").text == ""
    turn = browser.find_elements(By.CSS_SELECTOR, "#transcript .turn.assistant")[-1]
    thinking = turn.find_element(By.CSS_SELECTOR, ".thinking-text").get_attribute("textContent") or ""
    answer = turn.find_element(By.CSS_SELECTOR, ".answer").text
    assert thinking.startswith('Okay, the user asks: "Why is the sky blue?".')
    assert answer and "Okay, the user asks" not in answer and "</think>" not in answer
    usage = turn.find_element(By.CSS_SELECTOR, ".usage").text
    shown = re.fullmatch(r"(\d+) prompt \+ (\d+) completion tokens \((\d+) reasoning\) · \$([0-9.]+)", usage)
    assert shown is not None, usage
    prompt, completion = int(shown[1]), int(shown[2])
    assert float(shown[4]) == pytest.approx((prompt * 0.66 + completion * 1.00) / 1e6, abs=1e-6)
    # The panel folds away once the answer is complete, and opens again from the keyboard.
    summary = turn.find_element(By.CSS_SELECTOR, ".thinking summary")
    assert turn.find_element(By.CSS_SELECTOR, ".thinking").get_attribute("open") is None
    summary.send_keys("\n")
    wait_for(
        browser, lambda: turn.find_element(By.CSS_SELECTOR, ".thinking").get_attribute("open") is not None
    )
    assert not find(browser, "#pg-curl-text").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, ".curl-label").is_displayed()
    screenshot(browser, "playground")


def test_hidden_reasoning_leaves_the_panel_out(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(api_keys=KEYS)
    sign_in(browser, gateway.url, USER_KEY)
    ready(browser)
    find(browser, "#pg-reasoning").send_keys("Hidden")
    send(browser, "Hello")
    wait_for(browser, lambda: finished(browser))
    turn = browser.find_elements(By.CSS_SELECTOR, "#transcript .turn.assistant")[-1]
    assert not turn.find_element(By.CSS_SELECTOR, ".thinking").is_displayed()
    answer = turn.find_element(By.CSS_SELECTOR, ".answer").text
    assert answer and "Okay, the user asks" not in answer


def test_stop_cancels_the_stream_the_gateway_records_499_and_closes_the_upstream_request(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    with serving(SimulatorServer(token_delay=0.1, reasoning_field=True)) as upstream:
        gateway = live_gateway_factory(api_keys=KEYS, upstream_url=f"{upstream.url}/v1")
        records: list[RequestRecord] = []
        gateway.app.sinks.append(records.append)
        sign_in(browser, gateway.url, USER_KEY)
        ready(browser)
        send(browser, "Tell me a long story")
        turn = wait_for(
            browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#transcript .turn.assistant")
        )
        assert isinstance(turn, list)
        wait_for(browser, lambda: len(turn[-1].find_element(By.CSS_SELECTOR, ".thinking-text").text) > 10)
        find(browser, "#pg-stop").click()
        wait_for(browser, lambda: find(browser, "#pg-status").text == "Stopped.")
        assert find(browser, "#pg-send").is_enabled() and not find(browser, "#pg-stop").is_enabled()
        wait_for(browser, lambda: any(r.path == "/v1/chat/completions" for r in records))
        assert [r.status for r in records if r.path == "/v1/chat/completions"] == [499]
        # The upstream saw its request end early: cancelled by the gateway, not answered to the end.
        wait_for(browser, lambda: upstream.app.stats.open == 0)
        assert (upstream.app.stats.received, upstream.app.stats.cancelled, upstream.app.stats.finished) == (
            1,
            1,
            0,
        )
        assert turn[-1].find_element(By.CSS_SELECTOR, ".answer").text == ""  # stopped while still thinking


XSS = "<img src=x onerror=window.__xss=1> <script>window.__xss=2</script>"
WEATHER_TOOL = (
    '[{"type": "function", "function": {"name": "get_weather", "parameters": '
    '{"type": "object", "properties": {"city": {"type": "string"}}}}}]'
)


def no_markup_ran(driver: webdriver.Chrome) -> None:
    assert driver.execute_script("return window.__xss") is None
    assert driver.find_elements(By.CSS_SELECTOR, "#transcript img, #transcript script") == []


def test_model_output_is_text_so_markup_in_it_never_runs(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(api_keys=KEYS)
    sign_in(browser, gateway.url, USER_KEY)
    ready(browser)
    # The simulator's thinking repeats the question: the markup streams back through the model.
    send(browser, XSS)
    wait_for(browser, lambda: finished(browser))
    turn = browser.find_elements(By.CSS_SELECTOR, "#transcript .turn.assistant")[-1]
    thinking = turn.find_element(By.CSS_SELECTOR, ".thinking-text").get_attribute("textContent") or ""
    assert XSS in thinking
    no_markup_ran(browser)
    # A tool's result comes back in the answer ("The tool returned: ..."): text as well.
    find(browser, "#pg-clear").click()
    browser.find_element(By.CSS_SELECTOR, "#chat-form details summary").click()
    find(browser, "#pg-tools").send_keys(WEATHER_TOOL)
    send(browser, "Weather in Paris?")
    result = wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".tool-result"))
    assert isinstance(result, list)
    call = browser.find_element(By.CSS_SELECTOR, ".tool-call")
    assert "Tool call: get_weather" in call.text and '{"city":"example"}' in call.text
    result[0].send_keys('<img src=x onerror="window.__xss=3"> sunny')
    browser.find_element(By.CSS_SELECTOR, ".send-results").click()

    def answers() -> list[Any]:
        return browser.find_elements(By.CSS_SELECTOR, "#transcript .turn.assistant .answer")

    wait_for(browser, lambda: "The tool returned:" in answers()[-1].text)
    assert '<img src=x onerror="window.__xss=3"> sunny' in answers()[-1].text
    no_markup_ran(browser)
    screenshot(browser, "xss")


def test_a_tool_call_is_shown_and_its_result_goes_back_to_the_model(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    with_options_open(browser, live_gateway_factory)
    find(browser, "#pg-tools").send_keys(WEATHER_TOOL)
    send(browser, "Weather in Paris?")
    wait_for(browser, lambda: finished(browser))
    assert find(browser, "#pg-error").text == ""
    # The streamed call, put together from its deltas: the tool's name, its arguments, a box for the result.
    (call,) = browser.find_elements(By.CSS_SELECTOR, "#transcript .tool-call")
    assert call.find_element(By.CSS_SELECTOR, ".tool-name").text == "Tool call: get_weather"
    assert call.find_element(By.CSS_SELECTOR, ".tool-args").text == '{"city":"example"}'
    box = call.find_element(By.CSS_SELECTOR, "textarea.tool-result")
    label = call.find_element(By.CSS_SELECTOR, "label").text
    call_id = label.removeprefix("Result of get_weather (").removesuffix(")")
    assert label == f"Result of get_weather ({call_id})" and box.get_attribute("id") == f"result-{call_id}"
    box.send_keys('{"temperature": 21, "sky": "clear"}')
    screenshot(browser, "tool-call")
    sending = browser.find_element(By.CSS_SELECTOR, ".send-results")
    sending.click()
    assert sending.get_attribute("disabled") is not None  # one click sends the results once

    def answers() -> list[Any]:
        return browser.find_elements(By.CSS_SELECTOR, "#transcript .turn.assistant .answer")

    wait_for(browser, lambda: len(answers()) == 2 and finished(browser) and answers()[-1].text)
    assert answers()[-1].text == 'The tool returned: {"temperature": 21, "sky": "clear"}'
    # The request that carried it back: the assistant's call and a `tool` message answering that call.
    find(browser, "#pg-curl").click()
    curl = wait_for(browser, lambda: find(browser, "#pg-curl-text").get_attribute("value"))
    assert isinstance(curl, str)
    assert f'"tool_calls":[{{"id":"{call_id}","type":"function","function":{{"name":"get_weather"' in curl
    result = '{"temperature": 21, "sky": "clear"}'
    tool_message = orjson.dumps({"role": "tool", "tool_call_id": call_id, "content": result}).decode()
    assert tool_message in curl, curl


def test_structured_output_and_copy_as_curl(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = with_options_open(browser, live_gateway_factory)
    find(browser, "#pg-schema").send_keys('{"type": "object", "properties": {"city": {"const": "Oslo"}}}')
    find(browser, "#pg-message").send_keys("Pick a city")
    find(browser, "#pg-curl").click()
    curl = wait_for(browser, lambda: find(browser, "#pg-curl-text").get_attribute("value"))
    assert isinstance(curl, str)
    assert curl.startswith(f"curl -N '{gateway.url}/v1/chat/completions'")
    assert '"Authorization: Bearer $QWQ_API_KEY"' in curl and USER_KEY not in curl
    assert '"response_format":{"type":"json_schema"' in curl and '"content":"Pick a city"' in curl
    find(browser, "#pg-send").click()
    wait_for(browser, lambda: finished(browser))
    answer = browser.find_elements(By.CSS_SELECTOR, "#transcript .turn.assistant .answer")[-1].text
    assert answer == '{"city":"Oslo"}'


def test_a_bad_tools_box_and_a_narrow_window(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    with chromium(width=390, height=800) as browser:
        with_options_open(browser, live_gateway_factory)
        find(browser, "#pg-tools").send_keys("[not json")
        send(browser, "Hello")
        wait_for(browser, lambda: find(browser, "#pg-error").text.startswith("The tools is not valid JSON"))
        width: Any = browser.execute_script("return document.documentElement.scrollWidth - innerWidth")
        assert width <= 0  # nothing sticks out sideways on a phone-sized window
        # Every control has a label.
        unlabelled = browser.execute_script(
            "return [...document.querySelectorAll('input, select, textarea')]"
            ".filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"
        )
        assert unlabelled == []
        screenshot(browser, "narrow")


def test_the_playground_works_from_the_keyboard_alone(
    browser: webdriver.Chrome, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    """Tab reaches every control of the playground in a sensible order, and a message typed into the
    box is sent with Ctrl+Enter: no mouse needed."""
    gateway = live_gateway_factory(api_keys=KEYS)
    sign_in(browser, gateway.url, USER_KEY)
    ready(browser)
    browser.execute_script("document.querySelector('[data-page=playground]').focus()")  # the page's first
    reached: list[str] = []
    for _ in range(40):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        active = browser.switch_to.active_element
        reached.append(active.get_attribute("id") or active.tag_name)
    settings = ["pg-model", "pg-reasoning", "pg-system", "pg-temperature", "pg-max-tokens", "summary"]
    wanted = ["sign-out", *settings, "pg-message", "pg-send", "pg-curl", "pg-clear"]
    order = [reached.index(name) for name in wanted]  # each one is reached ...
    assert order == sorted(order), reached  # ... in the order of the page
    box = find(browser, "#pg-message")
    box.send_keys("Hello from the keyboard")
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_for(browser, lambda: finished(browser))
    assert find(browser, "#pg-status").text == "Done." and find(browser, "#pg-error").text == ""
    turns = browser.find_elements(By.CSS_SELECTOR, "#transcript .turn")
    assert [t.get_attribute("class") for t in turns] == ["turn user", "turn assistant"]
