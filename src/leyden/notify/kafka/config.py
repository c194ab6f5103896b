"""``[[kafka]]``: Kafka clusters in kapacitor.conf (Kapacitor's services/kafka Config and SASLAuth).

One section per cluster, named by ``id`` (Kapacitor's default element is ``id = "default"``,
disabled, so ``KAPACITOR_KAFKA_0_BROKERS`` can configure a cluster from the environment).
Every key of Kapacitor's config is read with its default; ``timeout``, ``batch-size`` and
``batch-timeout`` of 0 mean 10 s, 100 and 1 s (Kapacitor's conditional defaults).  Validation
is Kapacitor's for an enabled cluster (an id, at least one broker, a known SASL mechanism and
the OAUTHBEARER rules), plus what Leyden cannot do: GSSAPI (Kerberos) is refused with a clear
message.  Leyden redacts ``sasl-password``, ``sasl-oauth-client-secret`` and
``sasl-access-token`` in the config API (Kapacitor shows them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from leyden.config import ConfigError, Key, Section, SectionSpec, quote

__all__ = ["MECHANISMS", "SECTION", "KafkaConfig"]

DEFAULT_TIMEOUT_NS = 10_000_000_000
DEFAULT_BATCH_SIZE = 100
DEFAULT_BATCH_TIMEOUT_NS = 1_000_000_000
DEFAULT_OAUTH_EXPIRY_MARGIN_NS = 10_000_000_000
#: Kapacitor's sasl-mechanism values ("" is none)
MECHANISMS = ("", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")


@dataclass
class KafkaConfig(Section):
    """One ``[[kafka]]`` cluster (Kapacitor's NewConfig defaults)."""

    enabled: bool = False
    id: str = "default"
    brokers: list[str] = field(default_factory=list)
    timeout: int = 0
    batch_size: int = 0
    batch_timeout: int = 0
    use_ssl: bool = False
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    insecure_skip_verify: bool = False
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    sasl_extensions: dict[str, str] = field(default_factory=dict, repr=False)
    sasl_mechanism: str = ""
    sasl_version: int | None = None
    sasl_gssapi_service_name: str = ""
    sasl_gssapi_auth_type: str = ""
    sasl_gssapi_disable_pafxfast: bool = False
    sasl_gssapi_kerberos_config_path: str = ""
    sasl_gssapi_key_tab_path: str = ""
    sasl_gssapi_realm: str = ""
    sasl_oauth_service: str = ""
    sasl_oauth_client_id: str = ""
    sasl_oauth_client_secret: str = field(default="", repr=False)
    sasl_oauth_token_url: str = ""
    sasl_oauth_scopes: list[str] = field(default_factory=list)
    sasl_oauth_parameters: dict[str, str] = field(default_factory=dict)
    sasl_oauth_token_expiry_margin: int = DEFAULT_OAUTH_EXPIRY_MARGIN_NS
    sasl_access_token: str = field(default="", repr=False)
    sasl_oauth_tenant_id: str = ""

    _SCHEMA: ClassVar[tuple[Key, ...]] = (
        Key("enabled", "enabled", "bool"),
        Key("id", "id", "str"),
        Key("brokers", "brokers", "str_list"),
        Key("timeout", "timeout", "duration"),
        Key("batch-size", "batch_size", "int"),
        Key("batch-timeout", "batch_timeout", "duration"),
        Key("use-ssl", "use_ssl", "bool"),
        Key("ssl-ca", "ssl_ca", "str"),
        Key("ssl-cert", "ssl_cert", "str"),
        Key("ssl-key", "ssl_key", "str"),
        Key("insecure-skip-verify", "insecure_skip_verify", "bool"),
        Key("sasl-username", "sasl_username", "str"),
        Key("sasl-password", "sasl_password", "str"),
        Key("sasl_extensions", "sasl_extensions", "str_map"),
        Key("sasl-mechanism", "sasl_mechanism", "str"),
        Key("sasl-version", "sasl_version", "int"),
        Key("sasl-gssapi-service-name", "sasl_gssapi_service_name", "str"),
        Key("sasl-gssapi-auth-type", "sasl_gssapi_auth_type", "str"),
        Key("sasl-gssapi-disable-pafxfast", "sasl_gssapi_disable_pafxfast", "bool"),
        Key("sasl-gssapi-kerberos-config-path", "sasl_gssapi_kerberos_config_path", "str"),
        Key("sasl-gssapi-key-tab-path", "sasl_gssapi_key_tab_path", "str"),
        Key("sasl-gssapi-realm", "sasl_gssapi_realm", "str"),
        Key("sasl-oauth-service", "sasl_oauth_service", "str"),
        Key("sasl-oauth-client-id", "sasl_oauth_client_id", "str"),
        Key("sasl-oauth-client-secret", "sasl_oauth_client_secret", "str"),
        Key("sasl-oauth-token-url", "sasl_oauth_token_url", "str"),
        Key("sasl-oauth-scopes", "sasl_oauth_scopes", "str_list"),
        Key("sasl-oauth-parameters", "sasl_oauth_parameters", "str_map"),
        Key("sasl-oauth-token-expiry-margin", "sasl_oauth_token_expiry_margin", "duration"),
        Key("sasl-access-token", "sasl_access_token", "str"),
        Key("sasl-oauth-tenant-id", "sasl_oauth_tenant_id", "str"),
    )
    _ELEMENT_KEY: ClassVar[str] = "id"
    REDACTED_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"sasl-password", "sasl-oauth-client-secret", "sasl-access-token"}
    )

    # --- what a producer uses: Kapacitor's conditional defaults ---------------------------

    def timeout_seconds(self) -> float:
        return (self.timeout or DEFAULT_TIMEOUT_NS) / 1e9

    def batch_messages(self) -> int:
        return self.batch_size if self.batch_size > 0 else DEFAULT_BATCH_SIZE

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.batch_size < 0:
            problems.append("batch-size: must not be negative")
        if self.timeout < 0 or self.batch_timeout < 0:
            problems.append("timeout, batch-timeout: must not be negative")
        if self.sasl_version is not None and self.sasl_version not in (0, 1):
            problems.append("sasl-version: invalid SASL version (0 or 1)")
        if not self.enabled:
            return problems
        if not self.id:
            problems.append("id: id must not be empty")
        if not self.brokers:
            problems.append("brokers: no brokers specified, must provide at least one broker URL")
        for broker in self.brokers:
            host, sep, port = broker.rpartition(":")
            if not sep or not host or not port.isdigit():
                problems.append(f"brokers: {quote(broker)} is not host:port")
        problems.extend(self._sasl_problems())
        if self.ssl_key and not self.ssl_cert:
            problems.append("ssl-cert: must be set when ssl-key is set")
        return problems

    def _sasl_problems(self) -> list[str]:
        mechanism = self.sasl_mechanism
        if mechanism not in MECHANISMS:
            return [
                f"sasl-mechanism: invalid sasl-mechanism {quote(mechanism)}; one of "
                + ", ".join(m for m in MECHANISMS if m)
            ]
        if mechanism == "GSSAPI":
            return ["sasl-mechanism: GSSAPI (Kerberos) is not supported by Leyden"]
        if mechanism != "OAUTHBEARER":
            return []
        if self.sasl_access_token:
            if self.sasl_oauth_service or self.sasl_oauth_token_url:
                return [
                    "sasl-access-token: cannot set 'sasl-access-token' with "
                    "'sasl-oauth-service' and 'sasl-oauth-token-url'"
                ]
            return []
        if not self.sasl_oauth_client_id or not self.sasl_oauth_client_secret:
            return [
                "sasl-oauth-client-id: 'sasl-oauth-client-id' and 'sasl-oauth-client-secret' "
                "are required"
            ]
        service = self.sasl_oauth_service.lower()
        if service in ("", "custom") and not self.sasl_oauth_token_url:
            return ["sasl-oauth-token-url: 'sasl-oauth-token-url' required for custom service"]
        if service == "auth0":
            if not self.sasl_oauth_token_url:
                return ["sasl-oauth-token-url: 'sasl-oauth-token-url' required for Auth0"]
            if not self.sasl_oauth_parameters.get("audience"):
                return ["sasl-oauth-parameters: 'audience' parameter is required for Auth0"]
        if service == "azuread":
            if not self.sasl_oauth_tenant_id:
                return ["sasl-oauth-tenant-id: 'sasl-oauth-tenant-id' required for AzureAD"]
            if self.sasl_oauth_token_url:
                return [
                    "sasl-oauth-token-url: 'sasl-oauth-token-url' cannot be set for service "
                    + self.sasl_oauth_service
                ]
        if service not in ("", "custom", "auth0", "azuread"):
            return [f"sasl-oauth-service: service {self.sasl_oauth_service} not supported"]
        return []

    @classmethod
    def check_all(cls, sections: Sequence[Self], *, where: str) -> None:
        """Two clusters of one id would shadow each other (Kapacitor keeps the last)."""
        seen: set[str] = set()
        for section in sections:
            if section.id in seen:
                raise ConfigError(
                    f"{where}: [[kafka]]: id: {quote(section.id)} is used twice; each cluster "
                    "needs a unique id"
                )
            seen.add(section.id)


#: ``[[kafka]]`` for the loader; without one in the file, Kapacitor's disabled "default" cluster.
SECTION = SectionSpec("kafka", KafkaConfig, multiple=True, defaults=({"id": "default"},))
