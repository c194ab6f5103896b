"""DOT output matches what Kapacitor's task API shows for a defined task."""

from __future__ import annotations

from leyden.tick.builder import build_pipeline
from leyden.tick.dot import to_dot


def test_stream_dot_as_in_kapacitor_server_test() -> None:
    p = build_pipeline("stream\n    |from()\n        .measurement('test')\n")
    assert to_dot(p, "testTaskID") == "digraph testTaskID {\nstream0 -> from1;\n}"


def test_batch_source_writes_no_edges() -> None:
    p = build_pipeline(
        'dbrp "mydb"."myrp"\nbatch\n    |query(\'SELECT * from mydb.myrp.mymeas\')\n    |log()\n'
    )
    assert to_dot(p, "testTaskID") == "digraph testTaskID {\nquery1 -> log2;\n}"


def test_topological_order_with_branches_and_deadman() -> None:
    p = build_pipeline(
        "var f = stream|from().measurement('cpu')\n"
        "f|window().period(1m)|count('v')|alert()\n"
        "f|deadman(1.0, 1m)\n"
    )
    assert to_dot(p, "t") == (
        "digraph t {\n"
        "stream0 -> from1;\n"
        "from1 -> window2;\n"
        "window2 -> count3;\n"
        "count3 -> alert4;\n"
        "stats5 -> derivative6;\n"
        "derivative6 -> alert7;\n"
        "}"
    )


def test_empty_pipeline() -> None:
    assert to_dot(build_pipeline("var x = 1"), "t1") == "digraph t1 {\n}"
