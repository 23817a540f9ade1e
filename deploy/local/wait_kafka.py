#!/usr/bin/env python3
"""Wait until a Kafka broker accepts an idempotent write.

Used by deploy/local/kafka.sh after starting the local broker, and usable on
its own against any broker:

    python deploy/local/wait_kafka.py --bootstrap 127.0.0.1:19092 --timeout 90

A port that answers is not enough: a KRaft broker accepts connections before
its metadata is loaded, and an idempotent producer also needs a producer id
from the controller. So each attempt

1. makes sure the probe topic exists (AIOKafkaAdminClient.create_topics,
   "already exists" is fine),
2. sends one record with an idempotent producer (acks=all,
   enable_idempotence=True) and waits for the acknowledgement.

A secured listener takes --security-protocol SASL_SSL --sasl-mechanism ...
--sasl-username ... --ca-file ..., with the password in WAIT_KAFKA_SASL_PASSWORD
(not on the command line, where `ps` shows it).

Attempts repeat until one succeeds or the timeout passes. Exit status 0 on
success, 1 on timeout (the last error is printed on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

PROBE_TOPIC = "__activator_probe"

# aiokafka security options for every client made here (empty for PLAINTEXT).
SECURITY: dict[str, Any] = {}


def _log(msg: str) -> None:
    print(f"wait_kafka: {msg}", file=sys.stderr, flush=True)


async def _ensure_topic(bootstrap: str, topic: str, request_timeout_ms: int) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=request_timeout_ms,
        client_id="activator-wait-kafka",
        **SECURITY,
    )
    await admin.start()
    try:
        if topic in await admin.list_topics():
            return
        response = await admin.create_topics(
            [NewTopic(name=topic, num_partitions=1, replication_factor=1)],
            timeout_ms=request_timeout_ms,
        )
        for topic_error in response.topic_errors:
            code = topic_error[1]
            if code == 0:
                continue
            error_cls = for_code(code)
            if error_cls is TopicAlreadyExistsError:
                continue
            message = topic_error[2] if len(topic_error) > 2 else None
            raise error_cls(f"creating {topic}: {message or error_cls.__name__}")
    finally:
        await admin.close()


async def _idempotent_send(bootstrap: str, topic: str, request_timeout_ms: int) -> tuple[int, int]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=request_timeout_ms,
        client_id="activator-wait-kafka",
        **SECURITY,
    )
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value=b"probe", key=b"activator")
        return meta.partition, meta.offset
    finally:
        await producer.stop()


async def wait_for_kafka(bootstrap: str, timeout: float, topic: str) -> bool:
    started = time.monotonic()
    deadline = started + timeout
    attempt = 0
    last_error: BaseException | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        attempt += 1
        # Each attempt gets at most 15 s (or what is left), so one hung
        # connection cannot eat the whole budget.
        budget = min(remaining, 15.0)
        request_timeout_ms = max(1000, int(budget * 1000))
        try:
            await asyncio.wait_for(_ensure_topic(bootstrap, topic, request_timeout_ms), budget)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            budget = min(remaining, 15.0)
            partition, offset = await asyncio.wait_for(
                _idempotent_send(bootstrap, topic, max(1000, int(budget * 1000))), budget
            )
        except Exception as exc:
            if type(exc) is not type(last_error) or str(exc) != str(last_error):
                _log(f"attempt {attempt}: not ready yet: {type(exc).__name__}: {exc}")
            last_error = exc
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            continue
        _log(
            f"{bootstrap} accepted an idempotent write to {topic}"
            f" (partition {partition}, offset {offset})"
            f" after {time.monotonic() - started:.1f}s, {attempt} attempt(s)"
        )
        return True
    _log(
        f"{bootstrap} did not accept an idempotent write within {timeout:g}s"
        f" ({attempt} attempt(s)); last error: "
        + (f"{type(last_error).__name__}: {last_error}" if last_error else "none")
    )
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap", default="127.0.0.1:19092", help="bootstrap servers, host:port[,host:port]"
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait in all (default 90)")
    parser.add_argument("--topic", default=PROBE_TOPIC, help=f"probe topic (default {PROBE_TOPIC})")
    parser.add_argument("--verbose", action="store_true", help="show aiokafka's own log messages")
    parser.add_argument(
        "--security-protocol", default="PLAINTEXT", help="PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
    )
    parser.add_argument("--sasl-mechanism", default=None, help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    parser.add_argument("--sasl-username", default=None)
    parser.add_argument("--ca-file", default=None, help="the CA that signed the broker's certificate")
    args = parser.parse_args(argv)
    SECURITY["security_protocol"] = args.security_protocol
    if "SSL" in args.security_protocol:
        SECURITY["ssl_context"] = create_ssl_context(cafile=args.ca_file)
    if args.sasl_mechanism:
        SECURITY["sasl_mechanism"] = args.sasl_mechanism
        SECURITY["sasl_plain_username"] = args.sasl_username
        SECURITY["sasl_plain_password"] = os.environ.get("WAIT_KAFKA_SASL_PASSWORD", "")
    # While the broker comes up aiokafka logs every refused connection; the
    # attempt messages above say the same once.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL, stream=sys.stderr)
    ok = asyncio.run(wait_for_kafka(args.bootstrap, args.timeout, args.topic))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
