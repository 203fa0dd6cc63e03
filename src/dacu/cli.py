"""The `dacu` command line: one entry point, one sub-command per stage.

Each stage owns its commands in `dacu/<stage>/commands.py`, which defines `register(app)`; this
module only wires them together, handles `--debug`, and turns a `DacuError` into one clear line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
import typer.core
import typer.main
from rich.console import Console

from dacu.errors import DacuError

try:  # typer ≥ 0.20 carries its own copy of click; commands must be of that one
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer uses click itself
    import click  # type: ignore[no-redef]

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

# Each top-level command of a stage: (module that registers it, one line for `dacu --help`).
# The module is imported only when its command runs, so `dacu --help` and `dacu quote` do not pay
# for importing Ibis, SciPy and the rest of the stages.
STAGE_COMMANDS: dict[str, tuple[str, str]] = {
    "sim": (
        "dacu.sim.commands",
        "模拟 Simulate a campaign world with known truth (events, spend, SKUs).",
    ),
    "import": (
        "dacu.warehouse.commands",
        "导入 Import exports (Taobao, CSV/Excel/Parquet, spend) into the warehouse.",
    ),
    "kpi": (
        "dacu.metrics.commands",
        "指标 KPIs by hour/day/phase/channel/category: GMV = UV × CVR × ASP.",
    ),
    "plan": (
        "dacu.plan.commands",
        "规划 Baseline, target split, budget, promotion cost, timeline, risks.",
    ),
    "quote": (
        "dacu.promo.commands",
        "算价 Price a cart with stacked promotions and the best coupons.",
    ),
    "flash": (
        "dacu.flash.commands",
        "券与秒杀 Coupons and flash sales: live counts, expiry, audit.",
    ),
    "analyze": (
        "dacu.analyze.commands",
        "分析 Attribution, CLV/RFM, A/B tests, funnels, elasticity.",
    ),
    "monitor": (
        "dacu.monitor.commands",
        "监控 Live monitoring: replay, alert rules, notifications.",
    ),
    "report": ("dacu.report.commands", "复盘 The post-campaign review: HTML, Excel, PowerPoint."),
    "serve": ("dacu.web.commands", "服务 Run the web app: dashboard, APIs, collector."),
    "user": ("dacu.web.commands", "用户 Accounts of people: admin, operator, viewer."),
    "key": ("dacu.web.commands", "密钥 API keys for machine clients (collector, shop front ends)."),
    "db": ("dacu.web.commands", "元数据库 The metadata database (migrations)."),
    "campaign": ("dacu.web.commands", "活动 Campaigns registered in the web app."),
}


class _LazyStageCommand(typer.core.TyperCommand):
    """Stands in for a stage's command in the menu; loads the real one when it is used."""

    def __init__(self, name: str, module: str, short_help: str) -> None:
        super().__init__(name, help=short_help, short_help=short_help)
        self.module = module
        self._real: click.Command | None = None

    def real(self) -> click.Command:
        if self._real is None:
            stage = typer.Typer()
            importlib.import_module(self.module).register(stage)
            group = typer.main.get_group(stage)
            command = group.get_command(click.Context(group), self.name or "")
            if command is None:
                raise DacuError(f"{self.module} does not provide the command {self.name!r}")
            self._real = command
        return self._real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        return self.real().make_context(info_name, args, parent=parent, **extra)


class _StageGroup(typer.core.TyperGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return own + [name for name in STAGE_COMMANDS if name not in own and _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in STAGE_COMMANDS and _available(cmd_name):
            module, short_help = STAGE_COMMANDS[cmd_name]
            command = _LazyStageCommand(cmd_name, module, short_help)
        return command


def _available(name: str) -> bool:
    """A stage's command is listed once its module exists (stages land one by one)."""
    try:
        return importlib.util.find_spec(STAGE_COMMANDS[name][0]) is not None
    except ModuleNotFoundError:
        return False


app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    cls=_StageGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(stderr=True, soft_wrap=True)  # an error line is never broken

_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    _state["debug"] = debug or bool(os.environ.get("DACU_DEBUG"))


@app.command()
def init(
    path: Path = typer.Argument(Path("campaign.yaml"), help="Where to write the campaign file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    xlsx: bool = typer.Option(
        False, "--xlsx", help="Write an Excel workbook to fill in instead (one sheet per part)."
    ),
) -> None:
    """Write a commented starter campaign file (Double 11 on Tmall) to edit.

    Every key is explained in the file. Amounts are in yuan ("1.2亿", "¥300", 300); times are
    Asia/Shanghai unless `timezone` says otherwise. Check it with `dacu check FILE`.
    With --xlsx: `dacu init --xlsx campaign.xlsx`, fill it in Excel, then `dacu check
    campaign.xlsx` (or upload it in the web workbench); errors name sheet and row.
    """
    if path.exists() and not force:
        raise DacuError(f"{path} exists already (use --force to overwrite)")
    if xlsx:
        from dacu.config_xlsx import write_template

        write_template(path)
        typer.echo(f"wrote {path} — fill it in, then: dacu check {path}")
        return
    starter = Path(__file__).with_name("starter_campaign.yaml").read_text(encoding="utf-8")
    path.write_text(starter, encoding="utf-8")
    typer.echo(f"wrote {path} — edit it, then: dacu check {path}")


@app.command()
def check(
    path: Path = typer.Argument(..., help="Campaign YAML file (or the workbook of --xlsx)."),
) -> None:
    """Validate a campaign file and print a one-screen summary of it.

    Every section is checked as the services will read it (promotions, coupons, flash sales,
    guards, alerts, notify), each problem with its key path and line; a key given twice, an
    alias bomb or a file over 1 MiB is refused. Example: `dacu check examples/double11.yaml`.
    """
    from dacu.config import load_campaign
    from dacu.money import format_fen

    if path.suffix.lower() == ".xlsx":
        from dacu.config_xlsx import load_campaign_xlsx

        campaign = load_campaign_xlsx(path)[1]
    else:
        campaign = load_campaign(path)
    typer.echo(f"✓ {path}: {campaign.name} ({campaign.platform.value}, {campaign.store})")
    for window in campaign.phases:
        typer.echo(
            f"  {window.phase.label_zh} {window.phase.value:<9} "
            f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M}"
        )
    for target in campaign.targets:
        shown = (
            format_fen(int(target.value))
            if target.metric in ("gmv", "paid_gmv", "net_gmv", "asp", "aov", "spend")
            else f"{target.value:g}"
        )
        scope = " ".join(
            f"{k}={v}"
            for k, v in (
                ("phase", target.phase),
                ("channel", target.channel),
                ("category", target.category),
            )
            if v
        )
        typer.echo(f"  target {target.metric} {shown} {scope}".rstrip())


@app.command()
def bench(
    name: str = typer.Argument(..., help="Benchmark name (file benchmarks/NAME.py) or 'all'."),
) -> None:
    """Run a benchmark from benchmarks/ and record its figures in BENCHMARKS.md.

    Figures are ratios against a peer or a physical floor measured in the same run, never a
    single absolute time. Example: `dacu bench promo`.
    """
    root = _repo_root()
    folder = root / "benchmarks"
    names = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    chosen = names if name == "all" else [name]
    if name != "all" and not (folder / f"{name}.py").exists():
        raise DacuError(f"no benchmark {name!r} (have: {', '.join(names) or 'none'})")
    failed = []  # `all` runs every benchmark: one that cannot run must not hide the others
    for bench_name in chosen:
        console.print(f"[bold]bench {bench_name}[/bold]")
        script = folder / f"{bench_name}.py"
        result = subprocess.run([sys.executable, str(script)], cwd=root, check=False)
        if result.returncode:
            failed.append(f"{bench_name} (exit {result.returncode})")
    if failed:
        raise DacuError(f"benchmark(s) failed: {', '.join(failed)}")


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), help="Folder for everything the demo writes."),
    scale: float = typer.Option(1.0, help="Size of the simulated store (1.0 ≈ demo size)."),
    next_campaign: bool = typer.Option(
        False,
        "--next",
        help="Go on to the same store's Double 12: its plan learns from the Double 11 review "
        "(reuses OUT's review when there is one).",
    ),
) -> None:
    """The main job: simulate a Double 11, load it, plan, monitor and review it.

    With --next, then plan the Double 12 with the review's lessons (budget toward the best ROI,
    stock buffers, noisy alerts), each change citing the lesson it came from.
    """
    from dacu.demo import run_demo, run_next

    if not (next_campaign and (out / "review" / "lessons.json").exists()):
        run_demo(out, scale=scale)
    if next_campaign:
        run_next(out)


def _repo_root() -> Path:
    for base in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]):
        if (base / "benchmarks").is_dir() and (base / "pyproject.toml").exists():
            return base
    raise DacuError("benchmarks/ not found: run `dacu bench` inside a dacu checkout")


def main() -> None:
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
        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":
    main()
