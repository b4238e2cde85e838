"""The `redline` command."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from redline.cli import aggregates as aggregates_cli
from redline.cli import approvals as approvals_cli
from redline.cli import keys as keys_cli
from redline.cli import ledger as ledger_cli
from redline.cli import model as model_cli
from redline.cli import principals as principals_cli
from redline.cli import token as token_cli
from redline.cli.lab import diff_cmd, replay_cmd, simulate_cmd, test_cmd
from redline.cli.mcp import mcp_stdio_cmd
from redline.cli.train import eval_cmd, train_cmd
from redline.errors import RedlineError
from redline.settings import DeploymentConfig, Settings

if TYPE_CHECKING:
    from redline.gateway.services import Services

app = typer.Typer(
    help="Redline: enforce, explain and prove model usage policy.", no_args_is_help=True
)
policies_app = typer.Typer(
    help="List, validate, compare and test policy packs.", no_args_is_help=True
)
app.add_typer(policies_app, name="policies")
policies_app.command("diff")(diff_cmd)
policies_app.command("test")(test_cmd)
app.add_typer(principals_cli.app, name="principals")
app.add_typer(approvals_cli.app, name="approvals")
app.add_typer(token_cli.app, name="token")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(model_cli.app, name="model")
app.add_typer(aggregates_cli.app, name="aggregates")
app.command("train")(train_cmd)
app.command("eval")(eval_cmd)
app.command("simulate")(simulate_cmd)
app.command("replay")(replay_cmd)
app.command("mcp-stdio")(mcp_stdio_cmd)

err = Console(stderr=True, soft_wrap=True)

PolicyOpt = Annotated[
    str, typer.Option("--policy", "-p", help="Packs to compose, comma-separated.")
]
PolicyDirOpt = Annotated[
    Path | None,
    typer.Option("--policy-dir", envvar="REDLINE_POLICY_DIR", help="Directory of your own packs."),
]
DbOpt = Annotated[str, typer.Option("--db", envvar="REDLINE_DB", help="Ledger database.")]
ClassifierOpt = Annotated[
    str, typer.Option("--classifier", envvar="REDLINE_CLASSIFIER", help="rules, model or auto.")
]


def _fail(exc: RedlineError) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(2)


@app.command()
def check(
    text: Annotated[str | None, typer.Argument(help="A text to decide on.")] = None,
    policy: PolicyOpt = "provider-redlines",
    jsonl: Annotated[
        Path | None, typer.Option(help="JSONL file of requests ('-' = stdin).")
    ] = None,
    policy_dir: PolicyDirOpt = None,
    db: DbOpt = "./redline.db",
    classifier: ClassifierOpt = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    record: Annotated[
        bool,
        typer.Option(
            "--record/--no-record",
            help="Append every decision to the ledger in --db, as the principal the line's "
            "context names ('anonymous' when none). Off by default: check only answers.",
        ),
    ] = False,
) -> None:
    """Decide on TEXT (explained), or on every line of --jsonl (one JSON answer a line).

    Nothing is written unless --record is given (then to --db, as principal 'anonymous'
    unless a line's context names one)."""
    from redline.classify.load import describe
    from redline.cli.check import explain, local_decider, run_jsonl
    from redline.subject import DecideRequest

    if (text is None) == (jsonl is None):
        err.print("[red]error:[/] give either TEXT or --jsonl FILE")
        raise typer.Exit(2)
    try:
        decider = local_decider(policy, policy_dir, classifier, db if record else None)
    except RedlineError as exc:
        raise _fail(exc) from exc
    err.print(f"classifier: {describe(decider.classifier)}", soft_wrap=True)
    err.print(
        f"[dim]recording every decision on {db}[/]"
        if record
        else "[dim]not recorded (--record appends the decisions to the ledger)[/]"
    )
    try:
        if jsonl is not None:
            invalid = run_jsonl(decider, jsonl, sys.stdout, err)
            if invalid:
                err.print(f"[yellow]{invalid} invalid line(s) answered with an error object[/]")
                raise typer.Exit(1)
            return
        decision = decider.decide(DecideRequest(text=text))
        if as_json:
            print(json.dumps(decision.model_dump(mode="json"), indent=2, ensure_ascii=False))
        else:
            explain(decision, Console())
    finally:
        decider.close()


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    policy: PolicyOpt = "provider-redlines",
    policy_dir: PolicyDirOpt = None,
    db: DbOpt = "./redline.db",
    classifier: ClassifierOpt = "auto",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML settings: deployments and chat upstreams "
            "(see examples/redline.toml). Options given explicitly override it.",
        ),
    ] = None,
) -> None:
    """Run the Redline server (decide API; the gateway and approvals when configured)."""
    import uvicorn

    from redline.gateway.app import create_app

    explicit = {
        k
        for k in ("host", "port", "db", "policy_dir", "classifier")
        if (src := ctx.get_parameter_source(k)) is not None and src.name != "DEFAULT"
    }
    options = dict(host=host, port=port, db=db, policy_dir=policy_dir, classifier=classifier)
    _ensure_ledger_key()
    try:
        settings = _serve_settings(config, policy, options, explicit)
        application = create_app(settings)
    except RedlineError as exc:
        raise _fail(exc) from exc
    _welcome(settings, application.state.services)
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")


def _ensure_ledger_key() -> None:
    """First start: a checkpoint-signing key, so the embedded default signs its tree heads."""
    from redline.ledger.keys import KeyFiles, create_keys, default_keys_dir

    if os.environ.get("REDLINE_LEDGER_KEY"):
        return
    folder = default_keys_dir()
    if not KeyFiles.in_dir(folder).signer.exists():
        create_keys(folder, content=False)
        err.print(f"First start: created the ledger's signing key in {folder} (public: ledger.pub)")


def _serve_settings(
    config: Path | None, policy: str, options: dict[str, Any], explicit: set[str]
) -> Settings:
    """The config file's settings with explicit options on top, or the embedded defaults."""
    if config is None:
        deployments = {"default": DeploymentConfig(packs=policy.split(","))}
        return Settings(deployments=deployments, **options)
    return Settings.from_file(config, **{k: v for k, v in options.items() if k in explicit})


def _welcome(settings: Settings, services: Services) -> None:
    """What is running, and how to try it (with a key made on first start)."""
    from redline.auth.bootstrap import bootstrap_local
    from redline.classify.load import describe, is_degraded

    principals = services.principals
    base = f"http://{settings.host}:{settings.port}"
    deployment = settings.default_deployment
    packs = ",".join(settings.deployments[deployment].packs)
    err.print(f"[bold]Redline[/] on {base}  policies: {packs}  ledger: {settings.db}")
    style = "bold yellow" if is_degraded(services.classifier) else "bold"
    err.print(f"classifier: [{style}]{describe(services.classifier)}[/]", soft_wrap=True)
    for name, up in settings.upstreams.items():
        err.print(
            f"upstream [bold]{name}[/] {up.base_url}  models: {', '.join(up.models)}"
            f"  packs: {', '.join(up.packs) or '(deployment packs only)'}"
        )
    if not settings.upstreams:
        err.print("No upstream model configured: /v1/chat/completions answers 503 until one is")
        err.print("(see examples/redline.toml and `redline serve --config FILE`).")
    keys_file = Path(os.environ.get("REDLINE_LOCAL_KEYS", "./var/local-keys.json"))
    created = bootstrap_local(principals, keys_file, deployment)
    if created:
        err.print(
            f"First start: created a local admin and a requester, approver and commander in "
            f"deployment {deployment!r}; their keys are in {keys_file} (0600)."
        )
    key = created["demo-requester"] if created else "$REDLINE_API_KEY"
    err.print("Every request needs a key (redline principals add NAME --role R). Try it:")
    err.print(
        f"  curl -s {base}/v1/decide -H 'content-type: application/json' "
        # Double quotes: a pasted `$REDLINE_API_KEY` must expand (single quotes sent it as is).
        f'-H "authorization: Bearer {key}" '
        '-d \'{"text": "fire for effect on grid 38SMB4484"}\''
    )
    err.print(
        "  .venv/bin/redline check 'face-match everyone on the city cameras' "
        "--policy provider-redlines"
    )


@policies_app.command("list")
def policies_list(policy_dir: PolicyDirOpt = None) -> None:
    """Every pack available, with version and rules."""
    from redline.policy.pack import PackRegistry

    try:
        registry = PackRegistry(policy_dir)
    except RedlineError as exc:
        raise _fail(exc) from exc
    out = Console()
    for pack in registry.packs.values():
        out.print(f"[bold]{pack.name}[/] {pack.version}  {pack.title}")
        for rule in pack.rule_list():
            out.print(f"  {rule.effect:7} {rule.id}  [dim]{rule.reason}[/]")


@policies_app.command("validate")
def policies_validate(path: Annotated[Path, typer.Argument(help="A .cedar pack file.")]) -> None:
    """Validate one pack file against the Redline schema."""
    from redline.policy.pack import parse_pack

    try:
        pack = parse_pack(path.read_text("utf-8"), str(path))
    except RedlineError as exc:
        raise _fail(exc) from exc
    Console().print(f"[green]valid[/] {pack.name} {pack.version}: {len(pack.rules)} rules")


if __name__ == "__main__":
    app()
