"""Kafka security settings: each protocol and SASL mechanism reaches the clients as the broker expects it,
a missing piece stops the service with the setting's name, and the password shows up nowhere."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.security import SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr, ValidationError

from shared.messaging import kafka
from shared.messaging.kafka_security import (
    KafkaRefused,
    broker_security,
    client_options,
    probe_kafka,
)
from shared.settings import ConfigurationError, Settings
from tests.support.processes import free_port

PASSWORD = "s3cr3t-kafka-pass-Xq9"
SASL_CLASSES = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
MECHANISMS = list(SASL_CLASSES)


@pytest.fixture(autouse=True)
def _no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell may export KAFKA_* for the SASL e2e: these tests set what they need.
    for name in (
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SSL_CA_FILE",
        "KAFKA_SSL_CERT_FILE",
        "KAFKA_SSL_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class Pki:
    """A throwaway CA with a broker certificate (CN=localhost) and a client certificate it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _signed(directory: Path, name: str, common_name: str, extensions: str) -> None:
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req",
        *key,
        "-subj",
        f"/CN={common_name}",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        cwd=directory,
    )
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(
        "x509", "-req", "-days", "1", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=directory,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificates")
    directory = tmp_path_factory.mktemp("pki")
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *key, "-days", "1", "-subj", f"/CN=test-{ca}", "-keyout", f"{ca}.key",
                 "-out", f"{ca}.pem", cwd=directory)  # fmt: skip
    _signed(directory, "server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _signed(directory, "client", "activator-client", "extendedKeyUsage=clientAuth\n")
    return Pki(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.pem",
    )


def _settings(**values: Any) -> Settings:
    return Settings(kafka_bootstrap_servers="broker-1:9093,broker-2:9093", **values)


def _sasl(protocol: str, mechanism: str = "SCRAM-SHA-512", **values: Any) -> Settings:
    return _settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="activator",
        kafka_sasl_password=SecretStr(PASSWORD),
        **values,
    )


def _broker_context(pki: Pki, *, client_certificate: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    return context


def _handshake(client: ssl.SSLContext, broker: ssl.SSLContext) -> dict[str, Any] | None:
    """A TLS handshake in memory between the client's context and a broker's: the client certificate the broker saw."""
    to_client, to_broker = ssl.MemoryBIO(), ssl.MemoryBIO()
    broker_in, broker_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    sides = {
        "client": client.wrap_bio(to_client, to_broker, server_hostname="localhost"),
        "broker": broker.wrap_bio(broker_in, broker_out, server_side=True),
    }
    done: set[str] = set()
    for _ in range(10):
        for name, side in sides.items():
            if name not in done:
                with contextlib.suppress(ssl.SSLWantReadError):
                    side.do_handshake()
                    done.add(name)
        broker_in.write(to_broker.read())
        to_client.write(broker_out.read())
        if done == set(sides):
            return sides["broker"].getpeercert()
    pytest.fail("the TLS handshake did not finish")


def _common_name(certificate: dict[str, Any]) -> str:
    return str(next(value for rdn in certificate["subject"] for key, value in rdn if key == "commonName"))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_plaintext_clients_get_the_bootstrap_servers_and_nothing_else(mechanism: str) -> None:
    settings = _sasl("PLAINTEXT", mechanism)
    assert broker_security(settings) is None
    assert client_options(settings) == {"bootstrap_servers": ["broker-1:9093", "broker-2:9093"]}


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_sends_the_chosen_mechanism_and_credentials(protocol: str, mechanism: str) -> None:
    settings = _sasl(protocol, mechanism)
    security = broker_security(settings)
    assert type(security) is SASL_CLASSES[mechanism]
    options = client_options(settings)
    assert options["bootstrap_servers"] == ["broker-1:9093", "broker-2:9093"]
    assert options["security_protocol"] == protocol
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("activator", PASSWORD)
    if protocol == "SASL_SSL":
        assert isinstance(options["ssl_context"], ssl.SSLContext)
        assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
        assert options["ssl_context"].check_hostname
    else:
        assert options["ssl_context"] is None


def test_ssl_alone_needs_no_sasl_credentials_and_sends_none() -> None:
    options = client_options(_settings(kafka_security_protocol="SSL"))
    assert options["security_protocol"] == "SSL"
    assert not {key for key in options if key.startswith("sasl")}
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    # No CA file: the system's trust store, with the broker's name checked (MSK, Confluent Cloud).
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_a_ca_file_makes_the_client_trust_a_broker_it_signed(protocol: str, pki: Pki) -> None:
    options = client_options(_sasl(protocol, kafka_ssl_ca_file=str(pki.ca)))
    assert _handshake(options["ssl_context"], _broker_context(pki)) is None  # trusted; no client certificate


def test_without_the_ca_file_a_privately_signed_broker_is_not_trusted(pki: Pki) -> None:
    for ca_file in (None, str(pki.other_ca)):
        context = client_options(_settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=ca_file))[
            "ssl_context"
        ]
        with pytest.raises(ssl.SSLCertVerificationError):
            _handshake(context, _broker_context(pki))


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_a_client_certificate_is_presented_to_a_broker_that_asks_for_one(protocol: str, pki: Pki) -> None:
    settings = _sasl(
        protocol,
        kafka_ssl_ca_file=str(pki.ca),
        kafka_ssl_cert_file=str(pki.client_cert),
        kafka_ssl_key_file=str(pki.client_key),
    )
    seen = _handshake(client_options(settings)["ssl_context"], _broker_context(pki, client_certificate=True))
    assert seen is not None
    assert _common_name(seen) == "activator-client"


def test_empty_tls_paths_mean_unset_as_compose_passes_them() -> None:
    settings = _settings(
        kafka_security_protocol="SSL", kafka_ssl_ca_file="", kafka_ssl_cert_file="", kafka_ssl_key_file=""
    )
    assert isinstance(client_options(settings)["ssl_context"], ssl.SSLContext)


def test_the_settings_are_read_from_their_environment_variables(
    monkeypatch: pytest.MonkeyPatch, pki: Pki
) -> None:
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_SASL_USERNAME": "activator",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CA_FILE": str(pki.ca),
    }.items():
        monkeypatch.setenv(name, value)
    options = client_options(Settings())
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-256")
    assert options["sasl_plain_password"] == PASSWORD


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("kafka_security_protocol", "SASL"),
        ("kafka_sasl_mechanism", "GSSAPI"),
        ("kafka_sasl_mechanism", "SCRAM"),
    ],
)
def test_an_unsupported_protocol_or_mechanism_is_refused_by_name(setting: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({setting: value})
    assert setting in str(caught.value)


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize(
    "missing",
    [{"kafka_sasl_username": ""}, {"kafka_sasl_password": SecretStr("")}],
    ids=["username", "password"],
)
def test_sasl_without_a_username_or_password_names_both_settings(
    protocol: str, missing: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        broker_security(_sasl(protocol).model_copy(update=missing))
    message = str(caught.value)
    assert f"KAFKA_SECURITY_PROTOCOL={protocol}" in message
    assert "KAFKA_SASL_USERNAME" in message
    assert "KAFKA_SASL_PASSWORD" in message
    assert PASSWORD not in message


@pytest.mark.parametrize("present", ["kafka_ssl_cert_file", "kafka_ssl_key_file"])
def test_a_client_certificate_without_its_key_or_the_reverse_is_refused(present: str, pki: Pki) -> None:
    with pytest.raises(ConfigurationError) as caught:
        broker_security(_settings(kafka_security_protocol="SSL", **{present: str(pki.client_cert)}))
    assert "KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together" in str(caught.value)


@pytest.mark.parametrize("setting", ["kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file"])
def test_a_missing_tls_file_is_named_by_its_setting(setting: str, pki: Pki, tmp_path: Path) -> None:
    files = {
        "kafka_ssl_ca_file": str(pki.ca),
        "kafka_ssl_cert_file": str(pki.client_cert),
        "kafka_ssl_key_file": str(pki.client_key),
    }
    files[setting] = str(tmp_path / "gone.pem")
    with pytest.raises(ConfigurationError) as caught:
        broker_security(_sasl("SASL_SSL", **files))
    assert str(caught.value).startswith(f"{setting.upper()}={tmp_path / 'gone.pem'} is not a file")


def test_a_ca_file_that_holds_no_certificate_is_refused(tmp_path: Path) -> None:
    not_a_certificate = tmp_path / "ca.pem"
    not_a_certificate.write_text("hello\n")
    with pytest.raises(ConfigurationError) as caught:
        broker_security(_settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=str(not_a_certificate)))
    assert "KAFKA_SSL_CA_FILE" in str(caught.value)


def test_tls_files_are_not_read_without_tls() -> None:
    settings = _sasl("SASL_PLAINTEXT", kafka_ssl_ca_file="/nowhere/ca.pem")
    assert client_options(settings)["ssl_context"] is None


def test_the_password_appears_in_no_rendering_of_the_settings() -> None:
    settings = _sasl("SASL_SSL")
    for rendering in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())):
        assert PASSWORD not in rendering
    assert repr(broker_security(settings)).count(PASSWORD) == 0


@contextlib.asynccontextmanager
async def _tls_listener(context: ssl.SSLContext) -> AsyncIterator[int]:
    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    port = free_port()
    server = await asyncio.start_server(hang_up, "127.0.0.1", port, ssl=context)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def test_a_broker_with_an_untrusted_certificate_is_a_refusal_not_an_outage(pki: Pki) -> None:
    async with _tls_listener(_broker_context(pki)) as port:
        settings = _sasl("SASL_SSL", kafka_ssl_ca_file=str(pki.other_ca)).model_copy(
            update={"kafka_bootstrap_servers": f"localhost:{port}"}
        )
        with pytest.raises(KafkaRefused) as caught:
            await probe_kafka(settings, timeout_s=5)
    message = str(caught.value)
    assert f"localhost:{port}" in message
    assert "not trusted" in message
    assert PASSWORD not in message


async def test_no_broker_answering_is_an_outage_that_names_the_servers_not_the_password() -> None:
    settings = _sasl("SASL_PLAINTEXT").model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"}
    )
    with pytest.raises(KafkaConnectionError) as caught:
        await probe_kafka(settings, timeout_s=2)
    assert settings.kafka_bootstrap_servers in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_every_broker_of_a_comma_separated_list_is_a_bootstrap_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FastStream's broker takes a comma-separated string as one host: a cluster named by three brokers
    # would then never start.
    given: list[object] = []
    monkeypatch.setattr(kafka, "KafkaBroker", lambda servers, **_: given.append(servers))
    settings = Settings(kafka_bootstrap_servers=" broker-1:9092, broker-2:9092 ,broker-3:9092,")
    kafka.build_broker(settings, client_id="activator-test")
    assert given == [["broker-1:9092", "broker-2:9092", "broker-3:9092"]]
    assert client_options(settings)["bootstrap_servers"] == given[0]
