"""``[storage] url``: a PostgreSQL URL, checked at load, never shown with its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from leyden.config import Config, ConfigError, load_config, redact_store_url

SECRET = "hunter2-pw"


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "leyden.conf"
    path.write_text(text)
    return load_config(str(path), env={})


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return str(info.value)


def test_a_postgresql_url_is_read_and_redacted(tmp_path: Path) -> None:
    url = f"postgresql://leyden:{SECRET}@db.example:5432/leyden?sslmode=require"
    config = _load(tmp_path, f'[storage]\nurl = "{url}"\n')
    assert config.storage.url == url
    assert config.storage.redacted_url() == (
        "postgresql://leyden:***@db.example:5432/leyden?sslmode=require"
    )
    assert SECRET not in repr(config.storage)
    assert SECRET not in repr(config)


def test_a_password_parameter_is_redacted_too() -> None:
    assert redact_store_url(f"postgres://u@h/d?password={SECRET}&sslmode=disable") == (
        "postgres://u@h/d?password=***&sslmode=disable"
    )
    assert redact_store_url("postgresql://h/d") == "postgresql://h/d"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://u:{SECRET}@h/d", 'must be a PostgreSQL URL, "postgresql://'),
        (f"postgresql://u:{SECRET}@h:5432", "names no database"),
        (f"postgresql://u:{SECRET}@h:99999/d", "is not a URL"),
    ],
)
def test_bad_urls_are_refused_without_the_password(tmp_path: Path, url: str, expected: str) -> None:
    message = _error(tmp_path, f'[storage]\nurl = "{url}"\n')
    assert "[storage]: url: " in message
    assert expected in message
    assert SECRET not in message


def test_url_and_sqlite_together_are_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, '[storage]\nurl = "postgresql://h/d"\nsqlite = "/tmp/x.db"\n')
    assert "sqlite: cannot be set together with url" in message


def test_the_boltdb_note_names_postgresql_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://u:{SECRET}@h/d"
    config = _load(tmp_path, f'[storage]\nboltdb = "/var/lib/k.db"\nurl = "{url}"\n')
    [note] = [n for n in config.notes if n.startswith("[storage] boltdb")]
    assert "PostgreSQL at" in note and "postgresql://u:***@h/d" in note
    assert SECRET not in note


def test_the_environment_sets_the_url_too() -> None:
    config = load_config(None, {"KAPACITOR_STORAGE_URL": f"postgresql://u:{SECRET}@h/d"})
    assert config.storage.url == f"postgresql://u:{SECRET}@h/d"
    with pytest.raises(ConfigError) as info:
        load_config(None, {"LEYDEN_STORAGE_URL": f"mysql://u:{SECRET}@h/d"})
    assert "[storage]: url: must be a PostgreSQL URL" in str(info.value)
    assert SECRET not in str(info.value)
