"""The `dacu` command line: one entry point, one sub-command per stage.

Each stage owns its commands in `dacu/<stage>/commands.py`, which defines `register(app)`; this
module only wires them together, handles `--debug`, and turns a `DacuError` into one clear line.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Console

from dacu.errors import DacuError

HELP = """dacu (大促) — plan, run, monitor and review an e-commerce promotion campaign.

A campaign is described by one YAML file (start with `dacu init campaign.yaml`).
A typical day, in order:

```
dacu check examples/double11.yaml          # validate the campaign file
dacu sim --campaign examples/double11.yaml --out sim/   # a simulated world, or real exports:
dacu import taobao UserBehavior.csv        # → the warehouse (DuckDB by default)
dacu kpi --by day,channel                  # GMV = UV × CVR × ASP, per cell
dacu plan build --campaign examples/double11.yaml   # targets, budget, timeline, risks
dacu serve                                 # dashboard, APIs, collector
dacu report review --campaign examples/double11.yaml  # HTML + Excel + PowerPoint
```

The warehouse is chosen by DACU_WAREHOUSE (default `duckdb:///dacu.duckdb`, or
`pyspark://local[2]`); money is shown as ¥ with 万/亿, times in Asia/Shanghai.
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode="markdown",
                  context_settings={"help_option_names": ["-h", "--help"]})
console = Console(stderr=True, soft_wrap=True)  # an error line is never broken

# Stage modules that add commands; a stage not built yet is simply absent.
STAGE_COMMANDS = (
    "dacu.warehouse.commands",
    "dacu.sim.commands",
    "dacu.metrics.commands",
    "dacu.plan.commands",
    "dacu.promo.commands",
    "dacu.flash.commands",
    "dacu.analyze.commands",
    "dacu.monitor.commands",
    "dacu.report.commands",
    "dacu.web.commands",
)

_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    _state["debug"] = debug or bool(os.environ.get("DACU_DEBUG"))


@app.command()
def init(
    path: Path = typer.Argument(Path("campaign.yaml"), help="Where to write the campaign file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter campaign file (Double 11 on Tmall) to edit.

    Every key is explained in the file. Amounts are in yuan ("1.2亿", "¥300", 300); times are
    Asia/Shanghai unless `timezone` says otherwise. Check it with `dacu check FILE`.
    """
    if path.exists() and not force:
        raise DacuError(f"{path} exists already (use --force to overwrite)")
    starter = Path(__file__).with_name("starter_campaign.yaml").read_text(encoding="utf-8")
    path.write_text(starter, encoding="utf-8")
    typer.echo(f"wrote {path} — edit it, then: dacu check {path}")


@app.command()
def check(path: Path = typer.Argument(..., help="Campaign YAML file.")) -> None:
    """Validate a campaign file and print a one-screen summary of it."""
    from dacu.config import load_campaign
    from dacu.money import format_fen

    campaign = load_campaign(path)
    typer.echo(f"✓ {path}: {campaign.name} ({campaign.platform.value}, {campaign.store})")
    for window in campaign.phases:
        typer.echo(f"  {window.phase.label_zh} {window.phase.value:<9} "
                   f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M}")
    for target in campaign.targets:
        shown = format_fen(int(target.value)) if target.metric in (
            "gmv", "paid_gmv", "net_gmv", "asp", "aov", "spend") else f"{target.value:g}"
        scope = " ".join(f"{k}={v}" for k, v in (("phase", target.phase), ("channel", target.channel),
                                                   ("category", target.category)) if v)
        typer.echo(f"  target {target.metric} {shown} {scope}".rstrip())


@app.command()
def bench(name: str = typer.Argument(..., help="Benchmark name (file benchmarks/NAME.py) or 'all'."),
          ) -> None:
    """Run a benchmark from benchmarks/ and record its figures in BENCHMARKS.md.

    Figures are ratios against a peer or a physical floor measured in the same run, never a
    single absolute time. Example: `dacu bench promo`.
    """
    root = _repo_root()
    folder = root / "benchmarks"
    names = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    chosen = names if name == "all" else [name]
    for bench_name in chosen:
        script = folder / f"{bench_name}.py"
        if not script.exists():
            raise DacuError(f"no benchmark {bench_name!r} (have: {', '.join(names) or 'none'})")
        console.print(f"[bold]bench {bench_name}[/bold]")
        result = subprocess.run([sys.executable, str(script)], cwd=root, check=False)
        if result.returncode:
            raise DacuError(f"benchmark {bench_name} failed (exit {result.returncode})")


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), help="Folder for everything the demo writes."),
         scale: float = typer.Option(1.0, help="Size of the simulated store (1.0 ≈ demo size).")
         ) -> None:
    """The main job: simulate a Double 11, load it, plan, monitor and review it."""
    from dacu.demo import run_demo

    run_demo(out, scale=scale)


def _repo_root() -> Path:
    for base in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]):
        if (base / "benchmarks").is_dir() and (base / "pyproject.toml").exists():
            return base
    raise DacuError("benchmarks/ not found: run `dacu bench` inside a dacu checkout")


def _register_stages() -> None:
    for module_name in STAGE_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # stage not built yet
            raise
        module.register(app)


def main() -> None:
    _register_stages()
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except DacuError as exc:
        if _state["debug"]:
            raise
        console.print(f"[red]error:[/red] {_escape(str(exc))}", highlight=False)
        raise SystemExit(2) from None
    except typer.Abort:
        console.print("aborted")
        raise SystemExit(1) from None
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":
    main()
