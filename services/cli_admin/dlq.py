"""`activator dlq list|replay`: the dead-letter topic, read and replayed straight from Kafka."""

from __future__ import annotations

import asyncio

import typer

from services.cli_admin.common import cli_settings

app = typer.Typer(help="The dead-letter topic: messages that failed for good.", no_args_is_help=True)


@app.command("list")
def dlq_list(limit: int = typer.Option(100, help="At most this many messages.")) -> None:
    """List dead-lettered messages with their error and attempts."""
    from shared.messaging.dlq import read_dead_letters

    letters = asyncio.run(read_dead_letters(cli_settings(), limit))
    for letter in letters:
        typer.echo(
            f"{letter.partition}:{letter.offset}  {letter.failed_at}  {letter.source_topic}  "
            f"attempts={letter.attempts}  {letter.error_type}: {' '.join(letter.error.split())[:160]}"
        )
    typer.echo(f"{len(letters)} dead letter(s)")


@app.command("replay")
def dlq_replay(
    position: list[str] = typer.Option([], "--message", help="partition:offset to replay (repeatable)."),
    replay_all: bool = typer.Option(False, "--all", help="Replay every dead letter."),
) -> None:
    """Publish dead letters again to the topic they came from."""
    from shared.messaging.dlq import read_dead_letters, replay

    if not position and not replay_all:
        raise typer.BadParameter("give --message PARTITION:OFFSET or --all")
    settings = cli_settings()
    letters = asyncio.run(read_dead_letters(settings, limit=100_000))
    chosen = (
        letters
        if replay_all
        else [letter for letter in letters if f"{letter.partition}:{letter.offset}" in position]
    )
    typer.echo(f"replayed {asyncio.run(replay(settings, chosen))} message(s)")
