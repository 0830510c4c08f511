"""The ``prunefront`` command line: every command validates first, then works.

Errors a user can cause are printed as one line on stderr with exit code 2 and no traceback.
Commands that report results accept ``--json`` and then print exactly one JSON document. This
module only builds the typer app; the commands live in ``prunefront.commands``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from prunefront import __version__, commands
from prunefront._output import stderr_console
from prunefront.errors import PrunefrontError

__all__ = ["app", "main"]

app = typer.Typer(
    name="prunefront",
    help="Large-sparse or small-dense? Train, size, profile and search compressed models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# In the order of the workflow: size and train one candidate, search, read the study, ship.
for _command in (
    commands.schedule,
    commands.footprint,
    commands.train,
    commands.search,
    commands.status,
    commands.profile,
    commands.doctor,
    commands.report,
    commands.select,
    commands.export,
    commands.reprofile,
    commands.agent,
):
    app.command()(_command)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"prunefront {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Large-sparse or small-dense? Train, size, profile and search compressed models."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors, exit code 2.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    try:
        app(args=argv, prog_name="prunefront")
    except PrunefrontError as error:
        stderr_console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
