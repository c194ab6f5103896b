"""Go text/template behaviour, as tables of (template, data, expected output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leyden.go.template import (
    FUNCS_DETAILS,
    Template,
    TemplateError,
    TemplateExecError,
    html_text_escape,
)
from leyden.go.types import Duration, GoStruct, StringMap, Time

S = 1_000_000_000


def _alert() -> dict[str, Any]:
    """Data shaped like Kapacitor's message-template data."""
    return {
        "ID": "cpu:host=serverA",
        "Name": "cpu",
        "TaskName": "cpu_alert",
        "Group": "host=serverA",
        "Level": "CRITICAL",
        "Tags": StringMap(host="serverA", dc="east"),
        "Fields": {"v": 97.12345, "count": 3, "big": 1234567.0, "ok": True, "s": "x"},
        "Time": Time((365 * 86400 + 10) * S),
        "Duration": Duration(150 * S),
        "List": [1, 2, 3, 4],
        "Empty": [],
        "Nil": None,
        "Nested": {"inner": {"leaf": "deep"}},
    }


@dataclass
class _Obj:
    Name: str
    Count: int

    def Greet(self, who: str) -> str:
        return f"hi {who} from {self.Name}"

    def Fail(self) -> str:
        raise RuntimeError("boom")


CASES: list[tuple[str, str]] = [
    # Kapacitor's common templates
    ("{{ .ID }} is {{ .Level }}", "cpu:host=serverA is CRITICAL"),
    ('{{ index .Tags "host" }}', "serverA"),
    ("{{ .Tags.host }}", "serverA"),
    ('{{ if eq .Level "OK" }}ok{{ else }}alert{{ end }}', "alert"),
    ('{{ printf "%0.3f" (index .Fields "v") }}', "97.123"),
    ('{{ index .Fields "v" | printf "%.2f" }}', "97.12"),
    ("{{ range $k, $v := .Tags }}{{$k}}={{$v}} {{end}}", "dc=east host=serverA "),
    ("{{ .Time }}", "1971-01-01 00:00:10 +0000 UTC"),
    ("{{ .Duration }}", "2m30s"),
    ("{{ .TaskName }}/{{ .Name }}/{{ .Group }}", "cpu_alert/cpu/host=serverA"),
    # values printed as Go's %v
    ('{{ index .Fields "v" }} {{ index .Fields "count" }}', "97.12345 3"),
    ('{{ index .Fields "big" }} {{ .Fields.ok }}', "1.234567e+06 true"),
    ("{{ .Fields }}", "map[big:1.234567e+06 count:3 ok:true s:x v:97.12345]"),
    ("{{ .Tags }} {{ .List }} {{ .Empty }}", "map[dc:east host:serverA] [1 2 3 4] []"),
    ("{{ 1.5 }} {{ 1e6 }} {{ 3 }} {{ 0x10 }} {{ 'a' }} {{ true }}", "1.5 1e+06 3 16 97 true"),
    ('{{ "quoted\\t" }}{{ `raw\\t` }}', "quoted\traw\\t"),
    # missing keys: <no value> for interface maps and fields, "" for index on string maps
    ('{{ index .Fields "nope" }}', "<no value>"),
    ('[{{ index .Tags "nope" }}]', "[]"),
    ("{{ .Tags.nope }}", "<no value>"),
    ("{{ .Nope }} {{ .Nope.Deeper }}", "<no value> <no value>"),
    ("{{ .Nil }}", "<no value>"),
    ("{{ .Nested.inner.leaf }}", "deep"),
    # trim markers and comments
    ('{{- " a " -}}  x  {{- 3 }}', " a x3"),
    ("a  {{- /* c */ -}}  b", "ab"),
    ("{{/* a comment */}}x", "x"),
    ("line1\n{{- .Level }}\n", "line1CRITICAL\n"),
    ("{{ 3 -}}\n\t {{ 4 }}", "34"),
    ("{{3 -}}x", "3x"),
    # variables
    ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
    ("{{ $ := . }}{{ $.Level }}", "CRITICAL"),
    ("{{ with .Tags }}{{ $.Level }} {{ .host }}{{ end }}", "CRITICAL serverA"),
    ("{{ $l := .Level }}{{ if $l }}{{ $l }}{{ end }}", "CRITICAL"),
    ("{{ $t := .Tags }}{{ $t.host }}", "serverA"),
    ("{{ if true }}{{ $x := 1 }}{{ $x }}{{ end }}", "1"),
    # if / else if / with / else with
    ('{{ if eq .Level "OK" }}a{{ else if eq .Level "CRITICAL" }}b{{ else }}c{{ end }}', "b"),
    ("{{ if .Empty }}a{{ else }}b{{ end }}", "b"),
    ("{{ if .Nope }}a{{ else }}b{{ end }}", "b"),
    ('{{ if "" }}a{{ else if 0 }}b{{ else if 0.0 }}c{{ else }}d{{ end }}', "d"),
    ("{{ with .Nope }}y{{ else with .ID }}{{ . }}{{ end }}", "cpu:host=serverA"),
    ("{{ with .Nope }}y{{ else }}n{{ end }}", "n"),
    ("{{ with $x := .Level }}{{ $x }}{{ . }}{{ end }}", "CRITICALCRITICAL"),
    # range
    ("{{ range .List }}{{ . }},{{ end }}", "1,2,3,4,"),
    ("{{ range $i, $v := .List }}{{ $i }}:{{ $v }} {{ end }}", "0:1 1:2 2:3 3:4 "),
    ("{{ range $v := .List }}{{ $v }}{{ end }}", "1234"),
    ("{{ range .Empty }}x{{ else }}none{{ end }}", "none"),
    ("{{ range .Nope }}x{{ else }}none{{ end }}", "none"),
    ("{{ range .Fields }}{{ . }} {{ end }}", "1.234567e+06 3 true x 97.12345 "),
    (
        "{{ range $i, $v := .List }}{{ if eq $i 1 }}{{ continue }}{{ end }}"
        "{{ if eq $i 3 }}{{ break }}{{ end }}{{ $v }}{{ end }}",
        "13",
    ),
    ("{{ range 3 }}{{ . }}{{ end }}", "012"),
    # functions
    ('{{ len .ID }} {{ len .List }} {{ len .Tags }} {{ len "é" }}', "16 4 2 2"),
    ("{{ slice .ID 0 3 }} {{ slice .List 1 3 }} {{ slice .List 2 }}", "cpu [2 3] [3 4]"),
    ('{{ index .List 1 }} {{ index .Nested "inner" "leaf" }} {{ index "abc" 1 }}', "2 deep 98"),
    ('{{ html "<a href=\'x\'>&\\"" }}', "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"),
    ('{{ js "a\'b\\"<>&=" }}', "a\\'b\\\"\\u003C\\u003E\\u0026\\u003D"),
    ('{{ urlquery "a b&c/d" }}', "a+b%26c%2Fd"),
    ('{{ print 1 2 "a" 3 }}|{{ println "x" 3 }}', "1 2a3|x 3\n"),
    ("{{ print }}|{{ print .Nope }}", "|<nil>"),
    ('{{ and 1 0 }} {{ and 1 "x" }} {{ or 0 "" "y" }} {{ or 0 "" }}', "0 x y "),
    ("{{ and .Nope .Nope.X }}|{{ or .Level .Nope.X }}", "<no value>|CRITICAL"),
    ("{{ not .Nope }} {{ not 1 }} {{ not .Level }}", "true false false"),
    ('{{ .Level | printf "%s!" }}', "CRITICAL!"),
    ('{{ "x" | printf "%s-%s" "a" }}', "a-x"),
    ('{{ .Level | eq "CRITICAL" }}', "true"),
    ('{{ (index .Fields "v") }} {{ (.Tags).host }}', "97.12345 serverA"),
    # comparisons
    ('{{ eq .Level "OK" "WARNING" "CRITICAL" }}', "true"),
    ('{{ eq .Level "OK" "WARNING" }}', "false"),
    (
        '{{ ne .Level "OK" }} {{ eq 1 1 }} {{ eq 1.5 1.5 }} {{ eq true false }}',
        "true true true false",
    ),
    ('{{ lt 1 2 }} {{ le 2 2 }} {{ gt 2.5 1.5 }} {{ ge "a" "b" }}', "true true true false"),
    ('{{ if gt (index .Fields "v") 90.0 }}hot{{ end }}', "hot"),
    ('{{ eq .Nope "x" }} {{ eq .Nope .Nope }}', "false true"),
    ("{{ eq .Time .Time }}", "true"),
    # templates
    ('{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" .Level }}', "[CRITICAL]"),
    ('{{ block "b" .Tags.host }}<{{ . }}>{{ end }}', "<serverA>"),
    ('{{ define "t" }}{{ $ }}{{ end }}{{ template "t" }}', "<no value>"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_execute(text: str, expected: str) -> None:
    assert Template.parse(text, name="message").execute(_alert()) == expected


def test_template_reused_across_executions() -> None:
    tmpl = Template.parse('{{ .ID }}:{{ index .Tags "host" }}', name="id")
    assert tmpl.execute({"ID": "a", "Tags": StringMap(host="x")}) == "a:x"
    assert tmpl.execute({"ID": "b", "Tags": StringMap()}) == "b:"


def test_structs_objects_and_methods() -> None:
    data = GoStruct([("Name", "n"), ("Obj", _Obj("o", 2))], type_name="alert.TemplateData")
    tmpl = Template.parse('{{ .Name }} {{ .Obj.Count }} {{ .Obj.Greet "you" }} {{ .Obj }}')
    assert tmpl.execute(data) == "n 2 hi you from o {o 2}"
    assert Template.parse('{{ "me" | .Obj.Greet }}').execute(data) == "hi me from o"


def test_custom_funcs() -> None:
    tmpl = Template.parse(
        '{{ upper .A }} {{ .A | upper }} {{ join "a" "b" }}',
        funcs={"upper": str.upper, "join": lambda a, b: a + b},
    )
    assert tmpl.execute({"A": "x"}) == "X X ab"


def test_details_html_escaping() -> None:
    tmpl = Template.parse(
        "{{ .Message }}|{{ .Nope }}|<b>{{ .Level }}</b>|{{ 1.5 }}",
        name="details",
        html_escape=True,
    )
    got = tmpl.execute({"Message": "a+b<'\">&\x00", "Level": "OK"})
    assert got == "a&#43;b&lt;&#39;&#34;&gt;&amp;\ufffd||<b>OK</b>|1.5"


#: html/template's htmlReplacementTable for a text context, character by character
_HTML_TEXT_TABLE = {
    "\0": "\ufffd",
    '"': "&#34;",
    "&": "&amp;",
    "'": "&#39;",
    "+": "&#43;",
    "<": "&lt;",
    ">": "&gt;",
}


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("ab&<>\"'+\0&#;é")) | st.text())
def test_html_text_escape_maps_each_character_once(text: str) -> None:
    expected = "".join(_HTML_TEXT_TABLE.get(c, c) for c in text)
    assert html_text_escape(text) == expected
    # the template engine prints an action's string through the same escaper
    assert Template.parse("{{ . }}", html_escape=True).execute(text) == expected


def test_html_func_is_text_templates_escaper() -> None:
    # text/template's ``html`` leaves "+" alone; html/template's text escaper does not
    assert Template.parse("{{ html . }}").execute("a+<\0") == "a+&lt;\ufffd"


def test_details_json_funcs() -> None:
    data = GoStruct(
        [("Name", "alert"), ("Tags", StringMap()), ("Time", Time(0)), ("Duration", Duration(0))]
    )
    tmpl = Template.parse("{{ json . }}", name="details", funcs=FUNCS_DETAILS, html_escape=True)
    assert tmpl.execute(data) == (
        "{&#34;Name&#34;:&#34;alert&#34;,&#34;Tags&#34;:{},"
        "&#34;Time&#34;:&#34;1970-01-01T00:00:00Z&#34;,&#34;Duration&#34;:0}\n"
    )
    compact = Template.parse(
        "{{ jsonCompact .M }}", name="details", funcs=FUNCS_DETAILS, html_escape=True
    )
    # Go's encoder escapes <, > and &, then html/template escapes the result again.
    assert compact.execute({"M": {"b": "<x>", "a": 1.0}}) == (
        "{&#34;a&#34;:1,&#34;b&#34;:&#34;\\u003cx\\u003e&#34;}"
    )


def test_json_funcs_without_html_escape() -> None:
    tmpl = Template.parse("{{ jsonCompact . }}", funcs=FUNCS_DETAILS)
    assert tmpl.execute({"a": [1, 2.5]}) == '{"a":[1,2.5]}'
    assert Template.parse("{{ json . }}", funcs=FUNCS_DETAILS).execute(1) == "1\n"


PARSE_ERRORS: list[tuple[str, str]] = [
    ("{{ .Tags.host }", 'template: embed-title:1:14: unexpected "}" in operand'),
    ("{{ .A", "template: embed-title:1:5: unclosed action"),
    ("ab\n{{ if }}", "template: embed-title:2:6: missing value for if"),
    ("{{ foo }}", 'template: embed-title:1:3: function "foo" not defined'),
    ("{{ $x }}", 'template: embed-title:1:3: undefined variable "$x"'),
    ("{{ $x = 1 }}", 'template: embed-title:1:3: undefined variable "$x"'),
    ("{{ end }}", "template: embed-title:1:3: unexpected {{end}}"),
    ("{{ else }}", "template: embed-title:1:3: unexpected {{else}}"),
    ("{{ if 1 }}x", "template: embed-title:1:11: unexpected EOF"),
    ('{{ "a }}', "template: embed-title:1:3: unterminated quoted string"),
    ("{{ 3 | 4 }}", "template: embed-title:1:7: non executable command in pipeline stage 2"),
    ("{{ ) }}", "template: embed-title:1:3: unexpected right paren"),
    ("{{ (1 }}", "template: embed-title:1:6: unclosed left paren"),
    ("{{ }}", "template: embed-title:1:3: missing value for command"),
    ("{{ /* x */ }}", 'template: embed-title:1:3: unexpected "/" in command'),
    ("{{/* x */ y }}", "template: embed-title:1:9: comment ends before closing delimiter"),
    ("{{/* x ", "template: embed-title:1:2: unclosed comment"),
    ("{{ break }}", "template: embed-title:1:3: {{break}} outside {{range}}"),
    ("{{ 1x }}", 'template: embed-title:1:3: bad number syntax: "1x"'),
    ('{{ "\\q" }}', "template: embed-title:1:3: invalid syntax"),
    ("{{ .A.1 }}", 'template: embed-title:1:5: unexpected ".1" in operand'),
    ("{{ 1.Foo }}", 'template: embed-title:1:3: bad number syntax: "1.Foo"'),
    (
        "{{ if .A }}{{ else }}{{ else }}{{ end }}",
        "template: embed-title:1:24: expected end; found {{else}}",
    ),
    (
        "{{ range $a, $b, $c := . }}{{ end }}",
        "template: embed-title:1:15: too many declarations in range",
    ),
    ("{{ é }}", 'template: embed-title:1:3: function "é" not defined'),
    ("{{ § }}", "template: embed-title:1:3: unrecognized character in action: U+00A7 '§'"),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template.parse(text, name="embed-title")
    assert str(info.value) == message


EXEC_ERRORS: list[tuple[str, str]] = [
    (
        "{{ .Foo.Bar }}",
        'template: message:1:3: executing "message" at <.Foo.Bar>: '
        "can't evaluate field Foo in type alert.TemplateData",
    ),
    (
        "{{ eq .Count 1.5 }}",
        'template: message:1:3: executing "message" at <eq .Count 1.5>: '
        "error calling eq: incompatible types for comparison",
    ),
    (
        '{{ if gt (index .Fields "v") 90 }}x{{ end }}',
        'template: message:1:6: executing "message" at <gt (index .Fields "v...>: '
        "error calling gt: incompatible types for comparison",
    ),
    (
        "{{ lt true false }}",
        'template: message:1:3: executing "message" at <lt true false>: '
        "error calling lt: invalid type for comparison",
    ),
    (
        "{{ index .List 10 }}",
        'template: message:1:3: executing "message" at <index .List 10>: '
        "error calling index: index out of range: 10",
    ),
    (
        "{{ .Name.X }}",
        'template: message:1:3: executing "message" at <.Name.X>: '
        "can't evaluate field X in type string",
    ),
    (
        "{{ printf 3 }}",
        'template: message:1:3: executing "message" at <printf 3>: '
        "error calling printf: wrong type for value; expected string; got int",
    ),
    (
        "{{ len 3 }}",
        'template: message:1:3: executing "message" at <len 3>: error calling len: len of type int',
    ),
    (
        "{{ not 1 2 }}",
        'template: message:1:3: executing "message" at <not>: '
        "wrong number of args for not: want 1 got 2",
    ),
    (
        "x\n {{ range 1.5 }}{{ end }}",
        'template: message:2:10: executing "message" at <{{range 1.5}}{{end}}>: '
        "range can't iterate over 1.5",
    ),
    (
        '{{ template "nope" }}',
        'template: message:1:3: executing "message" at <{{template "nope"}}>: '
        'template "nope" not defined',
    ),
    (
        "{{ .Obj.Fail }}",
        'template: message:1:3: executing "message" at <.Obj.Fail>: error calling Fail: boom',
    ),
    (
        "{{ nil }}",
        'template: message:1:3: executing "message" at <nil>: nil is not a command',
    ),
    (
        "{{ .Name 1 }}",
        'template: message:1:3: executing "message" at <.Name>: '
        "Name has arguments but cannot be invoked as function",
    ),
    (
        "{{ index .Fields 1 }}",
        'template: message:1:3: executing "message" at <index .Fields 1>: '
        "error calling index: value has type int; should be string",
    ),
    (
        "{{ .Nil.X }}",
        'template: message:1:3: executing "message" at <.Nil.X>: '
        "nil pointer evaluating interface {}.X",
    ),
    (
        '{{ printf "%s" .Fields.count | printf "%s %s" "long argument list" }}',
        'template: message:1:3: executing "message" at <printf "%s" .Fields....>: '
        "error calling printf: boom",
    ),
]


@pytest.mark.parametrize(("text", "message"), EXEC_ERRORS)
def test_exec_errors(text: str, message: str) -> None:
    data = GoStruct(
        [
            ("Name", "n"),
            ("Count", 1),
            ("List", [1]),
            ("Fields", {"v": 97.5, "count": 1}),
            ("Obj", _Obj("o", 1)),
            ("Nil", None),
        ],
        type_name="alert.TemplateData",
    )
    if "long argument" in text:
        # exercise the 20-character context truncation with a failing custom function
        def boom(*_: Any) -> str:
            raise ValueError("boom")

        tmpl = Template.parse(text, name="message", funcs={"printf": boom})
    else:
        tmpl = Template.parse(text, name="message")
    with pytest.raises(TemplateExecError) as info:
        tmpl.execute(data)
    assert str(info.value) == message


_FUZZ_ALPHABET = st.sampled_from(
    [*list("{}.$|()-/*\"'` \n:=,abxyz019"), "{{", "}}", "if", "end", "range", "else", "index"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FUZZ_ALPHABET, max_size=30).map("".join))
def test_fuzz_parse_and_execute_fail_only_with_template_errors(text: str) -> None:
    try:
        tmpl = Template.parse(text, name="fuzz")
    except TemplateError as exc:
        assert str(exc).startswith("template: fuzz:")
        return
    try:
        tmpl.execute(_alert())
    except TemplateExecError as exc:
        assert str(exc).startswith("template: fuzz")


def test_variable_used_in_its_own_declaration_is_an_exec_error() -> None:
    # Found by `make fuzz`: the parser declares $x before its pipeline (as Go's does), so this
    # parses; executing it was an AssertionError instead of Go's exec error.
    tmpl = Template.parse("{{with $x := len $x}}x{{end}}")
    with pytest.raises(TemplateExecError) as info:
        tmpl.execute({})
    assert str(info.value).endswith('executing "template" at <$x>: undefined variable: $x')
