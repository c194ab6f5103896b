"""The task domain: tasks defined, stored, started and stopped, with no HTTP in it.

Kapacitor splits the same way: ``services/task_store`` (the definitions and their API rules)
against ``task_master.go`` (running them).  Here :class:`TaskManager` is the store-and-rules
half, :class:`TaskRunner` the running half that ``leyden replay`` uses too, and
``leyden.server.tasks_api`` only puts them on HTTP.

The package imports nothing itself: an engine worker process (:mod:`leyden.workers.worker`)
takes the runner without the manager, whose integrations (and their HTTP client) it never uses.
"""
