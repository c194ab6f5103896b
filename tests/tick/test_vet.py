"""``leyden vet`` and ``leyden fmt``: exit codes and output."""

from __future__ import annotations

import io
from pathlib import Path

from leyden import cli
from leyden.tick.vet import fmt_main, vet_main

GOOD = "stream\n    |from()\n        .measurement('cpu')\n    |alert()\n        .crit(lambda: \"v\" > 1)\n"
TYPO = "stream\n    |from()\n    |alert()\n        .info(lamda: 'count' > 0)\n"
WARN = "stream\n    |from()\n    |alert()\n        .info(lambda: 'count' > 0)\n        .slack()\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


# A runtime that runs these (the real registries are the ``leyden`` command's to hand in).
RUNS = {"node_kinds": {"stream", "from", "window", "count", "alert"}, "handler_kinds": {"discord"}}


def run(main, argv: list[str], err: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), err or io.StringIO()
    code = main(argv, out, err, **RUNS) if main is vet_main else main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def test_vet_valid_file_exits_zero(tmp_path: Path) -> None:
    f = tmp_path / "cpu.tick"
    f.write_text(GOOD)
    assert run(vet_main, [str(f)]) == (0, "", "")


def test_vet_dot(tmp_path: Path) -> None:
    f = tmp_path / "cpu.tick"
    f.write_text(GOOD)
    code, out, _ = run(vet_main, ["-dot", str(f)])
    assert code == 0
    assert out == "digraph cpu {\nstream0 -> from1;\nfrom1 -> alert2;\n}\n"


def test_vet_error_has_position_and_no_caret_when_not_a_tty(tmp_path: Path) -> None:
    f = tmp_path / "bad.tick"
    f.write_text(TYPO)
    code, out, err = run(vet_main, [str(f)])
    assert code == 1 and out == ""
    assert err.startswith(f"{f}:4:")
    assert "lambda" in err and "^" not in err


def test_vet_error_caret_on_a_tty(tmp_path: Path) -> None:
    f = tmp_path / "bad.tick"
    f.write_text("stream|from()|alert().discord().embedtitle('x')\n")
    code, _, err = run(vet_main, [str(f)], _Tty())
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f'{f}:1:33: no method or property "embedtitle"')
    assert "did you mean .embedTitle()?" in lines[0]
    assert lines[2].strip() == "^" * len("embedtitle")


def test_vet_warnings_do_not_fail(tmp_path: Path) -> None:
    f = tmp_path / "w.tick"
    f.write_text(WARN)
    code, _, err = run(vet_main, [str(f)])
    assert code == 0
    assert f"{f}:4:23: warning: 'count' is a string literal" in err
    assert f"{f}:5:10: warning: handler slack is accepted but Leyden cannot run it" in err


def test_vet_warns_about_what_the_given_runtime_cannot_run(tmp_path: Path) -> None:
    f = tmp_path / "j.tick"
    f.write_text("var a = stream|from()\nvar b = stream|from()\na|join(b).as('a', 'b')\n")
    code, _, err = run(vet_main, [str(f)])
    assert code == 0
    assert err == f"{f}:3:3: warning: join is accepted but Leyden cannot run it (join4)\n"


def test_leyden_vet_hands_in_what_this_server_runs(tmp_path: Path) -> None:
    f = tmp_path / "w.tick"
    f.write_text(WARN + "    |httpOut('x')\n    @myUdf()\n")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["vet", str(f)], out, err) == 0
    assert err.getvalue().splitlines()[1:] == [  # slack runs here: not warned about
        f"{f}:7:6: warning: udf myUdf is accepted but Leyden cannot run it (myUdf4)"
    ]


def test_vet_several_files_and_missing_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "a.tick", tmp_path / "b.tick"
    good.write_text(GOOD)
    bad.write_text(TYPO)
    code, _, err = run(vet_main, [str(good), str(bad), str(tmp_path / "none.tick")])
    assert code == 1
    assert "none.tick: cannot read" in err


def test_vet_template_vars_are_allowed(tmp_path: Path) -> None:
    f = tmp_path / "t.tick"
    f.write_text("var field string\nstream|from()|window().period(1m)|count(field)\n")
    assert run(vet_main, [str(f)])[0] == 0


def test_vet_usage() -> None:
    assert run(vet_main, [])[0] == 2
    assert run(vet_main, ["-x", "f"])[0] == 2


def test_fmt_prints_and_rewrites(tmp_path: Path) -> None:
    f = tmp_path / "a.tick"
    f.write_text("stream|from().measurement('cpu')")
    code, out, _ = run(fmt_main, [str(f)])
    assert code == 0
    assert out == "stream\n    |from()\n        .measurement('cpu')\n"
    assert run(fmt_main, ["-w", str(f)]) == (0, "", "")
    assert f.read_text() == out


def test_fmt_syntax_error(tmp_path: Path) -> None:
    f = tmp_path / "a.tick"
    f.write_text("stream|from(")
    code, _, err = run(fmt_main, [str(f)])
    assert code == 1 and err.startswith(f"{f}:1:")
    assert run(fmt_main, [])[0] == 2
