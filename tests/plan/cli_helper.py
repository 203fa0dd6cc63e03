"""Run `dacu …` in-process (works with the eager and the lazy stage wiring of dacu.cli)."""

from __future__ import annotations

from typer.testing import CliRunner


def run_cli(args: list[str]):
    import dacu.cli as cli

    register = getattr(cli, "_register_stages", None)
    if register is not None:
        register()
    return CliRunner().invoke(cli.app, args)
