"""``make screenshots``: the status page of a real ``leyden serve``, photographed in headless
Chromium for the README (``docs/status-page.png``, ``docs/status-page-phone.png``).

The example data is made the way a user makes it: a Discord emulator and a server as
subprocesses (:mod:`e2e_stack`), tasks defined with the ``leyden`` CLI, points written over
HTTP.  It has an alert that fired (CPU by host, sent to the ``guild-alerts`` workspace), a
disabled task, a dead letter (a ``.post()`` whose endpoint answers 404) and a broken webhook
(``guild-errors``, deleted in the emulator: its breaker opens and holds its deliveries).

Run as ``python tests/e2e/status_screenshots.py OUT_DIR`` with ``tests`` and ``tests/e2e`` on
the import path (the Makefile does).
"""

from __future__ import annotations

import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from browser import NO_CHROMIUM, available, chromium, console_errors, full_page_screenshot
from e2e_stack import ERRORS_WEBHOOK, Emulator, Stack, clean_env, http_json, wait_until

CPU_TICK = """\
// CPU idle by host: WARNING below 30 %, CRITICAL below 10 %
stream
  |from()
    .measurement('cpu')
    .groupBy('host')
  |alert()
    .id('cpu:{{ index .Tags "host" }}')
    .message('{{ .Level }}: CPU idle on {{ index .Tags "host" }} is {{ index .Fields "usage_idle" }}%')
    .warn(lambda: "usage_idle" < 30)
    .crit(lambda: "usage_idle" < 10)
    .stateChangesOnly()
    .discord()
      .embedTitle('CPU on {{ index .Tags "host" }}')
"""

DISK_TICK = """\
// disk usage: sent to the guild-errors workspace, whose webhook was deleted
stream
  |from()
    .measurement('disk')
    .groupBy('host')
  |alert()
    .id('disk:{{ index .Tags "host" }}')
    .message('Disk {{ index .Tags "path" }} on {{ index .Tags "host" }} is {{ index .Fields "used_percent" }}% full')
    .crit(lambda: "used_percent" > 90)
    .discord()
      .workspace('guild-errors')
"""

ERRORS_TICK = """\
// 5xx responses, posted to an incident endpoint that does not exist
stream
  |from()
    .measurement('http')
  |alert()
    .id('http:5xx')
    .message('{{ index .Fields "errors" }} responses were 5xx in the last minute')
    .warn(lambda: "errors" > 10)
    .stateChangesOnly()
    .post('{url}')
"""

MEM_TICK = """\
stream
  |from()
    .measurement('mem')
  |alert()
    .warn(lambda: "used_percent" > 80)
    .discord()
"""

POINTS = """\
cpu,host=web-1 usage_idle=72.5
cpu,host=web-2 usage_idle=8.25
cpu,host=db-1 usage_idle=24.0
cpu,host=cache-1 usage_idle=91.0
disk,host=db-1,path=/var used_percent=96.5
http errors=42i
"""


def write(stack: Stack, lines: str) -> None:
    req = urllib.request.Request(
        f"{stack.url}/write?db=telegraf&rp=autogen", data=lines.encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=10):
        pass


def populate(stack: Stack, emulator: Emulator) -> None:
    http_json("POST", f"{emulator.base}/_emulator/webhooks/{ERRORS_WEBHOOK}/delete")
    scripts = {
        "cpu_alert": CPU_TICK,
        "disk_alert": DISK_TICK,
        "http_errors": ERRORS_TICK.replace("{url}", f"{emulator.base}/hooks/incidents"),
        "mem_alert": MEM_TICK,
    }
    for name, script in scripts.items():
        stack.ok(
            "define",
            name,
            "-tick",
            str(stack.file(f"{name}.tick", script)),
            "-dbrp",
            "telegraf.autogen",
        )
        if name != "mem_alert":
            stack.ok("enable", name)
    for _ in range(3):  # a little throughput
        write(stack, POINTS)
        time.sleep(0.4)

    def settled() -> bool:
        rows = http_json("GET", f"{stack.url}/kapacitor/v1/deliveries")["deliveries"]
        states = {r["state"] for r in rows}
        return "dead" in states and "held" in states

    wait_until(settled, "a dead letter and a held delivery", timeout=30)
    stack.wait_messages(1)


def shoot(stack: Stack, tmp: Path, out: Path, name: str, *, phone: bool) -> None:
    width, height = (390, 844) if phone else (1280, 900)
    with chromium(tmp, width=width, height=height, phone=phone) as driver:
        # the preview of the CPU alert sent to Discord (the default is the newest event)
        driver.get(f"{stack.url}/status?topic=main:cpu_alert:alert2&event=cpu:web-2")
        wait_until(
            lambda: driver.find_elements("css selector", "#preview .embed"),
            "the Discord preview",
            timeout=20,
        )
        time.sleep(0.5)  # fonts and layout settle
        errors = console_errors(driver)
        if errors:
            raise SystemExit(f"the status page logged console errors: {errors}")
        full_page_screenshot(driver, out / name, phone=phone)
    print(f"wrote {out / name} ({(out / name).stat().st_size // 1024} KB)")


def main(out: Path) -> int:
    if not available():
        print(f"make screenshots: {NO_CHROMIUM}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="leyden-screenshots-") as name:
        tmp = Path(name)
        emulator = Emulator(tmp)
        emulator.start()
        stack = Stack(tmp=tmp, emulator=emulator.base, env=clean_env())
        try:
            stack.start_server()
            populate(stack, emulator)
            shoot(stack, tmp, out, "status-page.png", phone=False)
            shoot(stack, tmp, out, "status-page-phone.png", phone=True)
        finally:
            if stack.server is not None:
                stack.stop_server()
            emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
