"""Seed: ``global = true`` and ``state-changes-only = true`` on the default workspace.

An alert with no ``.discord()`` in its TICKscript still reaches Discord, and only when its
level changes (the workspace's state-changes-only applies because global is on); without
state-changes-only every non-OK event is sent.
"""

from __future__ import annotations

from collections.abc import Callable

from e2e_stack import ALERTS_WEBHOOK, Stack, embeds, levels

SCRIPT = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .warn(lambda: "usage_idle" < 20)
    .message('{{ .Level }}: CPU idle {{ index .Fields "usage_idle" }}')
"""

IDLE = (50.0, 10.0, 5.0, 8.0, 60.0, 70.0, 12.0)


def run_alert(stack: Stack) -> None:
    stack.file("cpu.tick", SCRIPT)
    stack.ok("define", "cpu", "-tick", "cpu.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "cpu")
    client = stack.influx()
    for idle in IDLE:  # one write each, so the points arrive in this order
        point = {"measurement": "cpu", "tags": {"host": "a"}, "fields": {"usage_idle": idle}}
        assert client.write_points([point], retention_policy="autogen")


def test_global_state_changes_only_sends_on_changes(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(global_=True, state_changes_only=True)
    run_alert(stack)
    got = stack.wait_messages(3)
    # the last point's WARNING arrived, so the repeated WARNINGs before it would have too
    assert levels(got) == ["WARNING", "OK", "WARNING"]
    assert [e["description"] for e in embeds(got)] == [
        "WARNING: CPU idle 10",
        "OK: CPU idle 60",
        "WARNING: CPU idle 12",
    ]
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 3  # the default workspace only
    assert {e["title"] for e in embeds(got)} == {"Alert"}
    assert {m["payload"]["username"] for m in got} == {"AlertBot"}


def test_global_without_state_changes_only_sends_every_alert(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(global_=True, state_changes_only=False)
    run_alert(stack)
    got = stack.wait_messages(5)
    assert levels(got) == ["WARNING", "WARNING", "WARNING", "OK", "WARNING"]
    assert [m["webhook_id"] for m in got] == [ALERTS_WEBHOOK] * 5
