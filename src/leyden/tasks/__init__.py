"""The task domain: tasks defined, stored, started and stopped, with no HTTP in it.

Kapacitor splits the same way: ``services/task_store`` (the definitions and their API rules)
against ``task_master.go`` (running them).  Here :class:`TaskManager` is the store-and-rules
half, :class:`TaskRunner` the running half that ``leyden replay`` uses too, and
``leyden.server.tasks_api`` only puts them on HTTP.
"""

from leyden.tasks.manager import TaskManager, TaskRequestError, TaskStore
from leyden.tasks.runner import TaskRunner
from leyden.tasks.stats import RunningTask
from leyden.tasks.vars import normalize_vars

__all__ = [
    "RunningTask",
    "TaskManager",
    "TaskRequestError",
    "TaskRunner",
    "TaskStore",
    "normalize_vars",
]
