"""Client TLS contexts from Kapacitor's ``ssl-ca``/``ssl-cert``/``ssl-key``/``insecure-skip-verify``
keys, shared by every section that has them (``[[discord]]``, ``[[influxdb]]``).

A leaf: it imports nothing of Leyden's, so the integrations and the InfluxDB client use the
same rules and the same messages (each naming the key and the file).
"""

from __future__ import annotations

import ssl as _ssl

__all__ = ["TLSConfigError", "build_ssl_context"]


class TLSConfigError(ValueError):
    """A TLS setting (ssl-ca, ssl-cert, ssl-key) that cannot be used; names key and file."""


def _readable(key: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise TLSConfigError(f'{key}: cannot read "{path}": {exc.strerror or exc}') from None


def build_ssl_context(
    ssl_ca: str = "", ssl_cert: str = "", ssl_key: str = "", insecure_skip_verify: bool = False
) -> _ssl.SSLContext | None:
    """The client TLS context for one configured section, or ``None`` for the system defaults.

    As in Kapacitor: ``ssl-ca`` replaces the trusted roots, ``ssl-cert``/``ssl-key`` give a client
    certificate, ``insecure-skip-verify`` turns off chain and host checks.
    """
    if not (ssl_ca or ssl_cert or ssl_key or insecure_skip_verify):
        return None
    if ssl_key and not ssl_cert:
        raise TLSConfigError(
            "ssl-key is set but ssl-cert is not: a client key needs its certificate"
        )
    if ssl_ca:
        _readable("ssl-ca", ssl_ca)
    try:
        context = _ssl.create_default_context(cafile=ssl_ca or None)
    except _ssl.SSLError as exc:
        raise TLSConfigError(f'ssl-ca: "{ssl_ca}" holds no usable CA certificate: {exc}') from None
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
    if ssl_cert:
        _readable("ssl-cert", ssl_cert)
        if ssl_key:
            _readable("ssl-key", ssl_key)
        try:
            context.load_cert_chain(ssl_cert, ssl_key or None)
        except _ssl.SSLError as exc:
            files = f'ssl-cert "{ssl_cert}"' + (f' / ssl-key "{ssl_key}"' if ssl_key else "")
            raise TLSConfigError(
                f"{files}: not a usable certificate and private key pair: {exc}"
            ) from None
    return context
