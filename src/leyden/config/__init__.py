"""kapacitor.conf for Leyden: the public face of the configuration package.

:func:`load_config` reads TOML, lays ``KAPACITOR_*``/``LEYDEN_*`` environment overrides over it
and validates (see :mod:`leyden.config.load`).  The core sections are defined here; each
integration's section lives beside its integration and is handed to the loader as a
:class:`SectionSpec` (``leyden.notify.INTEGRATIONS.sections()``), so this package knows no
integration by name.
"""

from __future__ import annotations

from leyden.config._core import (
    AUTH_PERMISSIONS,
    EMBEDDED_SOURCE,
    KAPACITOR_ONLY_SECTIONS,
    AlertConfig,
    AuthConfig,
    AuthUser,
    Config,
    DeliveryConfig,
    EngineConfig,
    HTTPConfig,
    LoggingConfig,
    StorageConfig,
    redact_store_url,
)
from leyden.config._httppost import (
    BasicAuth,
    HTTPPostConfig,
    endpoint_headers,
    endpoint_template_text,
)
from leyden.config._influxdb import INFLUXDB_SECTION, InfluxDBConfig
from leyden.config._schema import ConfigError, Key, Section, SectionSpec, element_label, quote
from leyden.config.load import load_config

__all__ = [
    "AUTH_PERMISSIONS",
    "EMBEDDED_SOURCE",
    "INFLUXDB_SECTION",
    "KAPACITOR_ONLY_SECTIONS",
    "AlertConfig",
    "AuthConfig",
    "AuthUser",
    "BasicAuth",
    "Config",
    "ConfigError",
    "DeliveryConfig",
    "EngineConfig",
    "HTTPConfig",
    "HTTPPostConfig",
    "InfluxDBConfig",
    "Key",
    "LoggingConfig",
    "Section",
    "SectionSpec",
    "StorageConfig",
    "element_label",
    "endpoint_headers",
    "endpoint_template_text",
    "load_config",
    "quote",
    "redact_store_url",
]
