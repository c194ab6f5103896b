"""The engine worker pool (issue 11, item 4): stream tasks sharded over engine processes.

``[engine] workers = N`` (N ≥ 2) starts N processes (:mod:`.worker`), each with a router and
the tasks placed on it; the server's process keeps HTTP, the alert service (topics, the
outbox, delivery) and every task that must run where alerts are decided.  The server forwards
each write body, raw, to every worker that has a task on its (db, rp); the worker parses it,
routes the points, and answers with the body's count, its bad lines and the alert events the
write raised, which the server publishes through the same alert service as an in-process task
would (:mod:`.pool`).  The messages are per command (one per write), framed pickles over the
worker's stdin and stdout (:mod:`.protocol`).
"""
