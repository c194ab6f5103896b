"""``make run``: ``leyden serve`` with a config file, plus the Discord emulator when needed.

Workspaces whose webhook URL points at the emulator's address (127.0.0.1:9093, as in
``examples/kapacitor.conf``) get a local emulator started in the same process, so a newcomer
sees ``leyden service-tests discord`` deliver a message at once.  A real webhook given with
``KAPACITOR_DISCORD_0_URL`` (or in the file) is used as is.  A port already taken (a second
``make run``) is one ``Error:`` line and exit 1, as ``leyden serve`` says it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from urllib.parse import urlsplit

from leyden.config import ConfigError, load_config
from leyden.devtools.discord_emulator import DiscordEmulator
from leyden.log import setup_logging
from leyden.notify import INTEGRATIONS
from leyden.notify.discord.config import SECTION as DISCORD
from leyden.server.serve import ServeError, serve

EMULATOR_HOST = "127.0.0.1"
EMULATOR_PORT = 9093


async def _run(config_path: str) -> int:
    try:
        config = load_config(config_path, os.environ, integrations=INTEGRATIONS.sections())
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    try:
        setup_logging(config.logging.file, config.logging.level)
    except OSError as exc:
        print(f"Error: cannot open log file {config.logging.file}: {exc.strerror}", file=sys.stderr)
        return 1
    emulated = [
        d.workspace or "(default)"
        for d in config.sections(DISCORD)
        if d.enabled
        and (urlsplit(d.url).hostname, urlsplit(d.url).port) == (EMULATOR_HOST, EMULATOR_PORT)
    ]
    emulator = None
    if emulated:
        emulator = DiscordEmulator(echo=sys.stdout)
        try:
            base = await emulator.start(EMULATOR_HOST, EMULATOR_PORT)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            print(
                f"Error: the Discord emulator cannot listen on {EMULATOR_HOST}:{EMULATOR_PORT}: "
                f"{reason} (is another `make run` running?)",
                file=sys.stderr,
            )
            return 1
        print(
            f"Discord emulator on {base} receives workspaces: {', '.join(emulated)} "
            f"(messages: {base}/messages)",
            flush=True,
        )
    print(
        "Leyden is starting on http://" + config.http.bind_address + "\n"
        "Its status page:          http://" + config.http.bind_address + "/status\n"
        "Try in another terminal:  .venv/bin/leyden service-tests discord",
        flush=True,
    )
    try:
        await serve(config)
    except ServeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    finally:
        if emulator is not None:
            await emulator.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else "examples/kapacitor.conf"
    try:
        return asyncio.run(_run(path))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
