"""`activator topics import FILE.csv|json`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from services.cli_client.gateway_client import GatewayError
from services.cli_client.options import DEFAULT_URL, ApiKey, GatewayUrl, console, gateway
from services.cli_client.topic_files import TopicChunks, TopicFileError, locate

app = typer.Typer(help="The org's taxonomy.", no_args_is_help=True)

BULK_LIMIT = 10_000
"""Topics per POST /api/topics/bulk at most (the gateway's BULK_TOPICS_MAX default)."""


@app.command("import")
def import_topics(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .csv or .json file of topics.")
    ],
    api_key: ApiKey,
    url: GatewayUrl = DEFAULT_URL,
    batch_size: Annotated[
        int, typer.Option(min=1, max=BULK_LIMIT, help="Topics per bulk request.")
    ] = BULK_LIMIT,
) -> None:
    """Create or update topics from a file (upsert by externalId), in bulk requests of --batch-size.

    A CSV is read one batch at a time while the previous one is sent, so memory does not grow with
    the file; a progress bar shows the bytes sent.
    """
    try:
        chunks = TopicChunks(file, batch_size)
    except TopicFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    out = console()
    created = updated = sent = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=True,
        disable=not out.is_terminal,
    )
    with gateway(url, api_key) as client, progress:
        task = progress.add_task("importing", total=chunks.total)
        try:
            for topics in chunks:
                try:
                    counts = client.call("POST", "/api/topics/bulk", json={"topics": topics})
                except GatewayError as error:
                    csv_file = file.suffix.lower() == ".csv"
                    for item in error.errors:
                        item["field"] = locate(str(item.get("field", "")), sent, csv_file=csv_file)
                    error.detail += f" (topics {sent + 1}-{sent + len(topics)} of the file;"
                    error.detail += f" {created} created and {updated} updated before)"
                    raise
                created += counts["created"]
                updated += counts["updated"]
                sent += len(topics)
                progress.update(task, completed=chunks.position, description=f"{sent:,} topics")
        except TopicFileError as exc:
            raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    out.print(
        f"imported {sent} topic(s) from {file.name}: {created} created, {updated} updated",
        markup=False,
    )
