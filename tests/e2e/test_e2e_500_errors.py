"""Seed: the ``500-errors`` flow — ``500_errors.tick`` publishes to ``500-errors``, the aggregate
handler ``500_errors_24h.yaml`` summarises it into ``500-errors-24h``, and
``discord_500_errors_daily.yaml`` sends the summary to the guild-errors workspace.

The seed's script has two mistakes, and the CLI says so: ``lamda:`` does not parse (line,
column and a "did you mean" for ``lambda:``), and ``'count' > 0`` compares a string literal
with a number (a warning on stderr suggesting ``"count"``).  The aggregate runs on wall time,
so the test uses a copy of the handler file with a one-second interval.
"""

from __future__ import annotations

import re

from e2e_stack import ERRORS_WEBHOOK, Stack, embeds, levels, wait_until

from seed_page import AGGREGATE_24H, DISCORD_500_ERRORS_DAILY, ERRORS_500_TICK

SUMMARY = re.compile(r"^(\d+) 500 errors last 24 hours\.$")


def test_seed_script_errors_are_explained(stack: Stack) -> None:
    stack.file("500_errors.tick", ERRORS_500_TICK)
    define = ("define", "500_errors", "-tick", "500_errors.tick", "-dbrp", "telegraf.autogen")
    result = stack.cli(*define)
    assert (result.returncode, result.stdout) == (3, "")
    first, source, caret = result.stderr.rstrip("\n").split("\n")
    assert first.startswith("Error: invalid TICKscript: 500_errors.tick:6:11: ")
    assert first.endswith('(did you mean "lambda:"?)')
    assert source.strip() == ".info(lamda: 'count' > 0)"
    assert caret.index("^") == source.index("lamda") and caret.strip() == "^^^^^^"

    stack.file("500_errors.tick", ERRORS_500_TICK.replace("lamda:", "lambda:"))
    result = stack.cli(*define)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.startswith("500_errors.tick:6:19: warning: 'count' is a string literal")
    assert '"count"' in result.stderr
    assert "500_errors" in stack.ok("list", "tasks").stdout  # a warning still defines it


def test_500_errors_are_aggregated_into_guild_errors(stack: Stack) -> None:
    stack.file("500_errors.tick", ERRORS_500_TICK.replace("lamda: 'count'", 'lambda: "count"'))
    stack.ok("define", "500_errors", "-tick", "500_errors.tick", "-dbrp", "telegraf.autogen")
    stack.ok("enable", "500_errors")

    # The seed's file is accepted as it is (a Go duration for the interval) …
    stack.file("500_errors_24h.yaml", AGGREGATE_24H)
    stack.ok("define-topic-handler", "500_errors_24h.yaml")
    # … and replaced by a copy that summarises every second, so the test need not wait a day.
    stack.file("500_errors_1s.yaml", AGGREGATE_24H.replace("interval: 24h", "interval: 1s"))
    stack.ok("define-topic-handler", "500_errors_1s.yaml")
    shown = stack.ok("show-topic-handler", "500-errors", "500-errors-24h").stdout
    assert "Kind: aggregate" in shown
    stack.file("discord_500_errors_daily.yaml", DISCORD_500_ERRORS_DAILY)
    stack.ok("define-topic-handler", "discord_500_errors_daily.yaml")

    client = stack.influx()
    points = [
        {"measurement": "errors", "tags": {"500": path}, "fields": {"count": count}}
        for path, count in (("/login", 2), ("/cart", 1), ("/home", 0), ("/login", 4))
    ]
    assert client.write_points(points, retention_policy="autogen")

    def summarised() -> list[int] | None:
        counts = [
            int(m.group(1))
            for e in embeds(stack.messages(ERRORS_WEBHOOK))
            if (m := SUMMARY.match(e["description"]))
        ]
        return counts if sum(counts) >= 3 else None

    # three points had count > 0; a tick may fall between them and split the summary
    counts = wait_until(summarised, "the aggregated 500-errors summary", timeout=10)
    assert sum(counts) == 3
    got = stack.messages(ERRORS_WEBHOOK)
    assert len(got) == len(counts)
    assert set(levels(got)) == {"INFO"}
    assert {m["payload"]["username"] for m in got} == {"StatsBot"}
    assert {e["title"] for e in embeds(got)} == {"Errors"}  # the workspace's embed-title
    assert stack.messages() == got  # nothing went to guild-alerts
