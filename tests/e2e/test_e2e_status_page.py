"""The status page in a real headless Chromium against a real ``leyden serve`` (issue 15 item 1).

The page is loaded once; then a task is defined with the CLI and points are written over HTTP,
and the page must show the new task and the alert that fired without being reloaded (a marker
set on the page's ``window`` survives only if it was not), with nothing on the browser's
console: no script error, no failed load, no Content-Security-Policy violation.  Every wait
polls under a generous deadline; nothing is timed.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import NO_CHROMIUM, available, chromium, console_errors
from e2e_stack import CONF, Stack, http_json, wait_until

pytestmark = pytest.mark.skipif(not available(), reason=NO_CHROMIUM)

CPU_TICK = """\
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .id('cpu:{{ index .Tags "host" }}')
    .message('CPU idle on {{ index .Tags "host" }} is {{ index .Fields "usage_idle" }}% <b>not bold</b>')
    .crit(lambda: "usage_idle" < 10)
    .discord()
      .embedTitle('CPU on {{ index .Tags "host" }}')
"""

DEAD_TICK = """\
stream
  |from()
    .measurement('http')
  |alert()
    .id('http:5xx')
    .message('{{ index .Fields "errors" }} errors')
    .warn(lambda: "errors" > 10)
    .post('{url}')
"""

#: generous: a loaded 2-core machine, a poll every 3 s
TIMEOUT = 60.0


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path) as driver:
        yield driver


def write(stack: Stack, lines: str) -> None:
    req = urllib.request.Request(
        f"{stack.url}/write?db=telegraf&rp=autogen", data=lines.encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=10):
        pass


def find(driver: Any, css: str) -> list[Any]:
    return list(driver.find_elements("css selector", css))


def waiting(driver: Any, css: str, what: str) -> Callable[[], Any]:
    """Wait for ``css`` to match; the page must not have been reloaded meanwhile."""

    def check() -> Any:
        assert driver.execute_script("return window.__leydenTest === 1"), "the page reloaded"
        return find(driver, css)

    return wait_until(check, what, timeout=TIMEOUT, interval=0.2)


def test_the_page_follows_a_new_task_and_an_alert_without_reload(
    stack: Stack, browser: Any
) -> None:
    browser.get(f"{stack.url}/status")
    assert browser.title == "Leyden · localhost"
    assert find(browser, "#tasks .empty") and find(browser, "#alerts .empty")
    browser.execute_script("window.__leydenTest = 1")

    stack.ok(
        "define", "cpu_alert", "-tick", str(stack.file("cpu.tick", CPU_TICK)),
        "-dbrp", "telegraf.autogen",
    )  # fmt: skip
    waiting(browser, '[data-task="cpu_alert"] .badge.status-disabled', "the new task, disabled")
    stack.ok("enable", "cpu_alert")
    waiting(browser, '[data-task="cpu_alert"] .badge.status-enabled', "the task enabled")

    write(stack, "cpu,host=web-1 usage_idle=4.5\ncpu,host=web-2 usage_idle=80")
    (event,) = waiting(
        browser, '[data-topic="main:cpu_alert:alert2"] [data-event="cpu:web-1"]', "the alert"
    )
    assert "CRITICAL" in event.text
    assert "CPU idle on web-1 is 4.5% <b>not bold</b>" in event.text  # as written, not markup
    assert not find(browser, "#alerts b")
    # the preview follows the newest event: the Discord message the handler sent
    (embed,) = waiting(browser, "#preview .embed", "the Discord preview")
    assert embed.find_element("css selector", ".embed-title").text == "CPU on web-1"
    assert embed.value_of_css_property("border-left-color") == "rgba(249, 95, 83, 1)"
    assert "cpu_alert · cpu:web-1" in embed.find_element("css selector", ".embed-footer").text
    sent = stack.wait_messages(1)
    assert sent[0]["payload"]["embeds"][0]["title"] == "CPU on web-1"

    # a second alert, then choosing the first again: no reload either
    write(stack, "cpu,host=web-2 usage_idle=2")
    waiting(browser, '[data-event="cpu:web-2"] .lvl-CRITICAL', "the second alert")
    browser.find_element("css selector", '[data-event="cpu:web-1"] a').click()
    waiting(browser, '[data-event="cpu:web-1"].selected', "the chosen event")
    wait_until(
        lambda: "CPU on web-1" in browser.find_element("css selector", "#preview").text,
        "the chosen event's preview",
        timeout=TIMEOUT,
        interval=0.2,
    )
    assert browser.current_url.endswith("/status?topic=main%3Acpu_alert%3Aalert2&event=cpu%3Aweb-1")
    assert console_errors(browser) == []


def test_a_dead_letter_is_retried_from_the_page(stack: Stack, browser: Any, emulator: str) -> None:
    """A ``.post()`` whose endpoint answers 404 dead-letters its event; the page's retry
    button posts to the deliveries API, and the delivery is tried again (and dies again)."""
    script = DEAD_TICK.replace("{url}", f"{emulator}/no-such-hook")
    stack.ok(
        "define", "http_errors", "-tick", str(stack.file("dead.tick", script)),
        "-dbrp", "telegraf.autogen",
    )  # fmt: skip
    stack.ok("enable", "http_errors")
    browser.get(f"{stack.url}/status")
    browser.execute_script("window.__leydenTest = 1")
    write(stack, "http errors=42i")
    (button,) = waiting(browser, "#deliveries .dead button.retry", "the dead letter's retry")
    button.click()
    notice = waiting(browser, "#retry-result:not(:empty)", "the retry's answer")[0]
    assert "is queued again: it is sent now." in notice.text

    def tried_again() -> bool:
        rows = http_json("GET", f"{stack.url}/kapacitor/v1/deliveries")["deliveries"]
        return any(r["alert-id"] == "http:5xx" and r["attempts"] >= 2 for r in rows)

    wait_until(tried_again, "the delivery tried again", timeout=TIMEOUT, interval=0.2)
    assert console_errors(browser) == []


AUTH_CONF = (
    CONF.replace("[http]\n", "[http]\n  auth-enabled = true\n")
    + """
[auth]
  enabled = true

[[auth.users]]
  username = "reader"
  password = "re4der-Pa55word!"
  permissions = ["api"]
"""
)


def test_behind_authentication_the_page_lives_on_the_browser_s_credentials(
    make_stack: Callable[..., Stack], browser: Any
) -> None:
    """With ``[http] auth-enabled`` the page, its script and style and its refreshes all go
    through the browser's credentials (its script and style are challenged too, so a browser
    that sent none at first sends them)."""
    stack = make_stack(conf_head=AUTH_CONF)
    try:
        urllib.request.urlopen(f"{stack.url}/status", timeout=10)
        raise AssertionError("the page answered without credentials")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
        assert exc.headers["WWW-Authenticate"] == 'Basic realm="Leyden", charset="UTF-8"'
    browser.get(f"http://reader:re4der-Pa55word!@127.0.0.1:{stack.port}/status")
    browser.execute_script("window.__leydenTest = 1")
    assert find(browser, "#tasks .empty")
    (card,) = find(browser, ".card:first-child")
    assert card.value_of_css_property("border-top-left-radius") == "8px"  # the style loaded
    waiting(browser, "#live-state:not(.stale)", "the page")
    wait_until(
        lambda: "live, updated" in browser.find_element("css selector", "#live-state").text,
        "a refresh with the browser's credentials",
        timeout=TIMEOUT,
        interval=0.2,
    )
    assert console_errors(browser) == []
