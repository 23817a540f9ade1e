"""`activator topics import FILE.csv|json`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli_client.gateway_client import GatewayError
from services.cli_client.options import DEFAULT_URL, ApiKey, GatewayUrl, console, gateway
from services.cli_client.topic_files import TopicFileError, locate, read_topics

app = typer.Typer(help="The org's taxonomy.", no_args_is_help=True)


@app.command("import")
def import_topics(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .csv or .json file of topics.")
    ],
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Topics per bulk request.")] = 5_000,
) -> None:
    """Create or update topics from a file (upsert by externalId), in bulk requests of --batch-size."""
    try:
        topics = read_topics(file)
    except TopicFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    created = updated = 0
    with gateway(url, api_key) as client:
        for offset in range(0, len(topics), batch_size):
            try:
                counts = client.call(
                    "POST", "/api/topics/bulk", json={"topics": topics[offset : offset + batch_size]}
                )
            except GatewayError as error:
                csv_file = file.suffix.lower() == ".csv"
                for item in error.errors:
                    item["field"] = locate(str(item.get("field", "")), offset, csv_file=csv_file)
                error.detail += f" (topics {offset + 1}-{min(offset + batch_size, len(topics))} of the file;"
                error.detail += f" {created} created and {updated} updated before)"
                raise
            created += counts["created"]
            updated += counts["updated"]
    console().print(
        f"imported {len(topics)} topic(s) from {file.name}: {created} created, {updated} updated",
        markup=False,
    )
