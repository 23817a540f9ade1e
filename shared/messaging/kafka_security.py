"""How Activator's Kafka clients authenticate: one FastStream security object, the same options for aiokafka.

Every producer, consumer and admin client is built from `broker_security` (FastStream) or `client_options`
(plain aiokafka); both come from the KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_* / KAFKA_SSL_* settings, so a
client that forgets them cannot be written without bypassing this module.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import ConfigurationError, Settings

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
# Refusals the broker will repeat on every retry: waiting for them to pass would be a crash loop in disguise.
_REFUSALS = (SaslAuthenticationFailed, AuthenticationFailedError, UnsupportedSaslMechanismError)


class KafkaRefused(ConfigurationError):
    """The broker answered but will not take these credentials or this TLS setup: retrying cannot help."""


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if "SSL" not in settings.kafka_security_protocol:
        return None
    # Empty means unset (compose passes `${KAFKA_SSL_CA_FILE:-}` through as "").
    files = {
        "KAFKA_SSL_CA_FILE": settings.kafka_ssl_ca_file or None,
        "KAFKA_SSL_CERT_FILE": settings.kafka_ssl_cert_file or None,
        "KAFKA_SSL_KEY_FILE": settings.kafka_ssl_key_file or None,
    }
    if bool(files["KAFKA_SSL_CERT_FILE"]) != bool(files["KAFKA_SSL_KEY_FILE"]):
        msg = "KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (a client certificate needs its key)"
        raise ConfigurationError(msg)
    for name, path in files.items():
        # Named one by one: with three paths set, "no such file" alone does not say which is wrong.
        if path is not None and not Path(path).is_file():
            msg = f"{name}={path} is not a file (no such file, or a directory)"
            raise ConfigurationError(msg)
    try:
        # Without a CA file the system's trust store is used (public CAs: MSK, Confluent Cloud).
        context: ssl.SSLContext = create_ssl_context(
            cafile=files["KAFKA_SSL_CA_FILE"],
            certfile=files["KAFKA_SSL_CERT_FILE"],
            keyfile=files["KAFKA_SSL_KEY_FILE"],
        )
    except (OSError, ssl.SSLError) as exc:
        msg = f"cannot load the Kafka TLS files (KAFKA_SSL_CA_FILE/CERT_FILE/KEY_FILE): {exc}"
        raise ConfigurationError(msg) from None
    return context


def broker_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's security object for the configured protocol; None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    context = _ssl_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    username = settings.kafka_sasl_username
    password = settings.kafka_sasl_password.get_secret_value()
    if not username or not password:
        msg = f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
        raise ConfigurationError(msg)
    sasl = _SASL[settings.kafka_sasl_mechanism]
    return sasl(username, password, ssl_context=context, use_ssl=protocol == "SASL_SSL")


def bootstrap_servers(settings: Settings) -> list[str]:
    """KAFKA_BOOTSTRAP_SERVERS as a list of `host:port`: a cluster is named by several of its brokers,
    comma-separated, so one broker down does not keep a client from starting."""
    return [address.strip() for address in settings.kafka_bootstrap_servers.split(",") if address.strip()]


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin): bootstrap servers and security."""
    return {
        "bootstrap_servers": bootstrap_servers(settings),
        **parse_security(broker_security(settings)),
    }


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        hosts.append((host.strip("[]") or "localhost", int(port or 9092)))
    return hosts


async def probe_kafka(settings: Settings, *, timeout_s: float = 10.0) -> None:
    """Open and authenticate one connection to a bootstrap server.

    Raises KafkaRefused when a broker rejects the credentials or the TLS handshake (the client's own
    bootstrap would fold that into "unable to bootstrap" and retry forever), KafkaConnectionError when
    no broker answers.
    """
    options = parse_security(broker_security(settings))
    last: BaseException | None = None
    for host, port in _hosts(settings.kafka_bootstrap_servers):
        try:
            connection = await create_conn(
                host, port, client_id="activator-probe", request_timeout_ms=int(timeout_s * 1000), **options
            )
        except _REFUSALS as exc:
            msg = f"Kafka at {host}:{port} refused the credentials of KAFKA_SASL_USERNAME ({type(exc).__name__})"
            raise KafkaRefused(msg) from None
        except ssl.SSLCertVerificationError as exc:
            msg = (
                f"Kafka at {host}:{port}: the broker's TLS certificate is not trusted ({exc.verify_message})"
            )
            raise KafkaRefused(msg) from None
        except (OSError, TimeoutError, KafkaError) as exc:
            last = exc
            continue
        connection.close()
        return
    msg = f"no Kafka broker of {settings.kafka_bootstrap_servers} answers ({type(last).__name__}: {last})"
    raise KafkaConnectionError(msg)
