"""The seed page's examples (Kapacitor's "Discord event handler" documentation), written once
for every test that uses them: the two ``[[discord]]`` workspaces of its kapacitor.conf, its
TICKscripts and its topic-handler files.

A module with a name of its own beside ``tests/conftest.py`` (which puts this folder on the
import path), so config tests, CLI tests and the end-to-end stacks import the same text.
"""

from __future__ import annotations

AVATAR = (
    "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
)


def discord_sections(
    alerts_url: str, errors_url: str, *, global_: bool = False, state_changes_only: bool = False
) -> str:
    """The seed's "Using multiple Discord configurations": ``guild-alerts`` (the default) and
    ``guild-errors``; ``global_``/``state_changes_only`` are those of guild-alerts."""
    return f"""
[[discord]]
  enabled = true
  default = true
  url = "{alerts_url}"
  workspace = "guild-alerts"
  timestamp = true
  username = "AlertBot"
  avatar-url = "{AVATAR}"
  embed-title = "Alert"
  global = {str(global_).lower()}
  state-changes-only = {str(state_changes_only).lower()}

[[discord]]
  enabled = true
  default = false
  url = "{errors_url}"
  workspace = "guild-errors"
  timestamp = true
  username = "StatsBot"
  avatar-url = "{AVATAR}"
  embed-title = "Errors"
  global = false
  state-changes-only = false
"""


#: "Send alerts to Discord from a TICKscript": ``discord-cpu-alert.tick``
DISCORD_CPU_ALERT_TICK = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .warn(lambda: "usage_idle" < 20)
    .stateChangesOnly()
    .message('Hey, check your CPU')
    .discord()
      .embedTitle('Uh Oh!')
"""

#: "Send alerts to Discord from a defined handler": ``cpu_alert.tick`` publishes to ``cpu``
CPU_ALERT_TICK = """\
stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: "usage_idle" < 5)
    .stateChangesOnly()
    .message('Hey, check your CPU')
    .topic('cpu')
"""

#: … and ``discord_cpu_handler.yaml`` sends the topic to guild-alerts
DISCORD_CPU_HANDLER = """\
id: discord-cpu-alert
topic: cpu
kind: discord
options:
  workspace: 'guild-alerts'
  embed-title: 'Hey, Listen!'
"""

#: The ``500-errors`` flow: ``500_errors.tick``, with the seed's two mistakes (``lamda:`` does
#: not parse; ``'count' > 0`` compares a string literal with a number)
ERRORS_500_TICK = """\
stream
  |from()
    .measurement('errors')
    .groupBy('500')
  |alert()
    .info(lamda: 'count' > 0)
    .noRecoveries()
    .topic('500-errors')
"""

#: … ``500_errors_24h.yaml`` aggregates the topic into ``500-errors-24h`` …
AGGREGATE_24H = """\
id: 500-errors-24h
topic: 500-errors
kind: aggregate
options:
  interval: 24h
  topic: 500-errors-24h
  message: '{{ .Count }} 500 errors last 24 hours.'
"""

#: … and ``discord_500_errors_daily.yaml`` sends the summary to guild-errors
DISCORD_500_ERRORS_DAILY = """\
id: discord-500-errors-daily
topic: 500-errors-24h
kind: discord
options:
  workspace: guild-errors
"""
