"""`python -m services <command>`: the same CLI as the `activator` script."""

from services.cli import app

app(prog_name="activator")
