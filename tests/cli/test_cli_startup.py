"""Each verb loads only what it needs (issue 11: start-up): ``leyden vet`` and ``leyden fmt``
start without the server, ``leyden serve`` without the client verbs and the tools.

vet's kinds are a copy of the runtime's registries (see :mod:`leyden.cli.vet`): checked equal
here.  Which modules a verb loads is checked in a fresh interpreter, as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import leyden.engine.nodes  # noqa: F401  (imported for its registrations: NODE_CLASSES complete)
from leyden.cli import vet
from leyden.config import load_config
from leyden.engine.node import NODE_CLASSES
from leyden.engine.services import AlertNodeOptions
from leyden.notify import INTEGRATIONS
from leyden.workers.pool import worker_init
from leyden.workers.protocol import encode

SCRIPT = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: "usage_idle" < 10)
    .discord()
"""

#: modules that mean the server, the engine or the HTTP stack was loaded
HEAVY = ("leyden.server", "leyden.engine", "leyden.alerting", "leyden.client", "aiohttp", "yaml")


def test_vet_knows_the_node_kinds_the_engine_runs() -> None:
    assert set(NODE_CLASSES) == vet.NODE_KINDS


def test_vet_knows_the_handler_kinds_the_integrations_offer() -> None:
    assert list(vet.HANDLER_KINDS) == INTEGRATIONS.tick_kinds()


def _loaded_by(verb: str, tmp_path: Path) -> list[str]:
    """The modules ``leyden VERB script.tick`` has loaded when it returns, in a fresh
    interpreter; fails if the verb fails."""
    script = tmp_path / "script.tick"
    script.write_text(SCRIPT)
    code = (
        "import io, json, sys\n"
        "from leyden.cli import main\n"
        f"rc = main([{verb!r}, {str(script)!r}], io.StringIO(), sys.stderr)\n"
        "print(json.dumps([rc, sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    rc, modules = json.loads(done.stdout)
    assert rc == 0, done.stderr
    return [str(m) for m in modules]


@pytest.mark.parametrize("verb", ["vet", "fmt"])
def test_vet_and_fmt_never_load_the_server(verb: str, tmp_path: Path) -> None:
    loaded = _loaded_by(verb, tmp_path)
    assert "leyden.tick.vet" in loaded  # it did run
    assert [m for m in loaded if m.startswith(HEAVY)] == []


def test_vet_still_warns_of_what_the_server_cannot_run(tmp_path: Path) -> None:
    script = tmp_path / "k8s.tick"
    script.write_text(SCRIPT.replace("  |alert()", "  @movingAvg()\n  |alert()"))
    done = subprocess.run(
        [sys.executable, "-m", "leyden", "vet", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "udf movingAvg is accepted but Leyden cannot run it" in done.stdout + done.stderr


def test_serve_loads_neither_the_client_verbs_nor_the_tools() -> None:
    code = (
        "import json, sys\n"
        "from leyden.cli import LOCAL_VERBS\n"
        "from leyden.cli._common import load\n"
        "load(LOCAL_VERBS['serve'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    assert "leyden.server.serve" in loaded  # it did load the server
    unneeded = ("leyden.client", "leyden.cli.tasks", "leyden.cli.topics", "leyden.cli.deliveries")
    unneeded += ("leyden.cli._remote", "leyden.cli.vet", "leyden.replay", "leyden.devtools")
    assert [m for m in loaded if m.startswith(unneeded)] == []


def test_an_engine_worker_loads_no_integration_nor_http_client(tmp_path: Path) -> None:
    """A worker process imports its module, then unpickles the pool's first message (with a
    Discord workspace configured): neither may bring the integrations or aiohttp, a third of
    a worker's start-up and so of ``leyden serve``'s with workers."""
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(
        '[[discord]]\nenabled = true\nworkspace = "w"\n'
        'url = "https://discord.com/api/webhooks/1/secret-token"\n'
    )
    config = load_config(str(conf), {}, integrations=INTEGRATIONS.sections())
    frame = encode(worker_init(config, AlertNodeOptions(), {}))
    code = (
        "import json, pickle, sys\n"
        "import leyden.workers.worker\n"
        "init = pickle.loads(sys.stdin.buffer.read()[4:])\n"
        "print(json.dumps([init['hostname'], sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=frame, capture_output=True, timeout=60, check=True
    )
    hostname, loaded = json.loads(done.stdout)
    assert hostname == config.hostname  # it did read the message
    heavy = ("leyden.notify", "leyden.server", "leyden.alerting", "leyden.config", "aiohttp")
    assert [m for m in loaded if m.startswith(heavy)] == []
