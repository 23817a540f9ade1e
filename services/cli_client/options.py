"""The options every client command takes: where the gateway is and whose API key to use."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from services.cli_client.gateway_client import GatewayClient, GatewayError

GatewayUrl = Annotated[
    str, typer.Option("--url", envvar="ACTIVATOR_URL", help="The gateway.", show_default=True)
]
ApiKey = Annotated[
    str,
    typer.Option(
        "--api-key",
        envvar="ACTIVATOR_API_KEY",
        help="The org's API key (better in ACTIVATOR_API_KEY).",
        show_default=False,
    ),
]
DEFAULT_URL = "http://127.0.0.1:8080"


def console() -> Console:
    """Where commands print (stdout; rich decides on colours and live display)."""
    return Console(highlight=False)


@contextlib.contextmanager
def gateway(url: str, api_key: str) -> Iterator[GatewayClient]:
    """A client for the command; a gateway error ends the command with its problem and exit status 1."""
    try:
        with GatewayClient(url, api_key) as client:
            yield client
    except GatewayError as error:
        out = Console(stderr=True, highlight=False)
        out.print(Text.assemble(("error", "red"), f" {error.title}: {error.detail}"), soft_wrap=True)
        for item in error.errors:
            out.print(f"  {item.get('field', '')}: {item.get('message', '')}", soft_wrap=True, markup=False)
        raise typer.Exit(1) from error
