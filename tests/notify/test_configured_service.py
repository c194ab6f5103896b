"""What every configured integration's service shares: elements by name, the default one,
define-time checks and global flags (leyden.notify._service)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from leyden.config import Key, Section, SectionSpec, load_config
from leyden.model.alert import Level
from leyden.notify._http import DeliveryResult
from leyden.notify._service import ConfiguredService, ServiceTestOptions, service_test_answer
from leyden.notify.base import IntegrationError


@dataclass
class Hook(Section):
    workspace: str = ""
    enabled: bool = True
    default: bool = False
    global_: bool = False
    state_changes_only: bool = False

    _SCHEMA: ClassVar[tuple[Key, ...]] = (Key("workspace", "workspace", "str"),)


class Hooks(ConfiguredService[Hook]):
    kind = "hook"
    section_name = "hook"
    element = "workspace"
    element_key = "workspace"


def test_elements_by_name_and_the_default() -> None:
    service = Hooks([Hook("a"), Hook("b", default=True), Hook("c", enabled=False)])
    assert service.names() == ["a", "b", "c"]
    assert service.resolve().workspace == "b"
    assert service.resolve("a").workspace == "a"
    with pytest.raises(IntegrationError, match='hook workspace "c" is not enabled'):
        service.resolve("c")
    with pytest.raises(
        IntegrationError,
        match='hook workspace "x" is not configured; configured workspaces: "a", "b", "c"',
    ):
        service.resolve("x")
    problem = service.check_name({"workspace": "x"}, "workspace")
    assert problem is not None and (problem.prop, problem.value) == ("workspace", "x")
    assert service.check_name({"workspace": "a"}, "workspace") is None


def test_the_only_element_is_the_default_and_none_is_a_clear_error() -> None:
    assert Hooks([Hook("only")]).resolve().workspace == "only"
    with pytest.raises(IntegrationError, match=r"hook is not configured: add a \[\[hook\]\]"):
        Hooks([]).resolve()
    with pytest.raises(IntegrationError, match="no default hook workspace; configured"):
        Hooks([Hook("a"), Hook("b")]).resolve()


def test_global_and_state_changes_only_follow_the_enabled_default() -> None:
    assert not Hooks([Hook("a", global_=True, enabled=False)]).global_enabled()
    service = Hooks([Hook("a", global_=True, state_changes_only=True)])
    assert service.global_enabled() and service.state_changes_only()
    service.update([Hook("a", global_=True)])
    assert service.global_enabled() and not service.state_changes_only()


class HookSections(ConfiguredService[Hook]):
    kind = "hook"
    section = SectionSpec("hook", Hook, multiple=True, defaults=({"workspace": "built-in"},))
    element = "workspace"
    element_key = "workspace"


def test_from_config_reads_the_services_section_and_names_it(tmp_path: Path) -> None:
    """What a registry entry's ``build_service=XService.from_config`` does."""
    assert HookSections.section_name == "hook"
    assert HookSections([]).section_label() == "[[hook]]"
    assert HookSections.from_config(None).names() == []
    path = tmp_path / "kapacitor.conf"
    path.write_text('[[hook]]\n  workspace = "a"\n[[hook]]\n  workspace = "b"\n')
    config = load_config(str(path), {}, integrations=[HookSections.section])
    assert HookSections.from_config(config).names() == ["a", "b"]
    path.write_text("")
    config = load_config(str(path), {}, integrations=[HookSections.section])
    assert HookSections.from_config(config).names() == ["built-in"]


DEFAULTS = {"message": "hi", "level": "CRITICAL", "to": None, "data": {}, "on": False, "n": 1}


@pytest.mark.parametrize(
    ("options", "read", "error"),
    [
        (
            {"colour": 1, "x": 2},
            None,
            "unknown hook test option(s): colour, x; valid options: "
            "message, level, to, data, on, n",
        ),
        ({"message": 5}, "text", "hook test option 'message' must be a string"),
        ({"to": "a@b"}, "texts", "hook test option 'to' must be a list of strings"),
        ({"data": []}, "obj", "hook test option 'data' must be an object"),
        ({"on": 1}, "flag", "hook test option 'on' must be true or false"),
        ({"n": True}, "integer", "hook test option 'n' must be an integer"),
        ({"n": 1.5}, "integer", "hook test option 'n' must be an integer"),
        (
            {"level": "critical"},
            "level",
            "hook test option 'level': unknown level 'critical'; "
            "must be one of OK, INFO, WARNING, CRITICAL",
        ),
        ({"message": "yesterday"}, "time_ns", "hook test option 'message': invalid RFC 3339"),
    ],
)
def test_service_test_options_name_the_kind_and_the_key(
    options: dict[str, object], read: str | None, error: str
) -> None:
    with pytest.raises(IntegrationError) as exc:
        given = ServiceTestOptions("hook", DEFAULTS, options)
        key = next(iter(options))
        getattr(given, read or "text")(key)
    assert str(exc.value).startswith(error)


def test_service_test_options_over_the_defaults() -> None:
    given = ServiceTestOptions("hook", DEFAULTS, {"to": ["a@b"], "n": 7.0, "on": None})
    assert (given.text("message"), given.texts("to"), given.obj("data")) == ("hi", ["a@b"], {})
    assert (given.integer("n"), given.flag("on"), given.level()) == (7, False, Level.CRITICAL)
    assert ServiceTestOptions("hook", DEFAULTS, {"level": "warning"}).level(any_case=True) == (
        Level.WARNING
    )
    assert (
        ServiceTestOptions("hook", DEFAULTS, {"message": "1970-01-01T00:00:01Z"}).time_ns("message")
        == 10**9
    )
    assert service_test_answer(DeliveryResult("delivered", 204)) == (True, "")
    assert service_test_answer(DeliveryResult("retry", 503, "busy")) == (False, "HTTP 503: busy")


def test_config_is_the_default_element_or_the_sections_own_defaults() -> None:
    assert HookSections([Hook("a"), Hook("b", default=True)]).config().workspace == "b"
    assert HookSections([]).config() == Hook()
