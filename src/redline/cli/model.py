"""`redline model`: build and inspect the sentence-embedding model the classifier runs on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from redline.classify.embed import META_FILE, MODEL_FILE, default_model_dir, read_meta, sha256_bytes
from redline.errors import ClassifierError

app = typer.Typer(
    help="Build and inspect the int8 ONNX sentence encoder (all-MiniLM-L6-v2).",
    no_args_is_help=True,
)
_out = Console()
_err = Console(stderr=True)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        "-d",
        help="Model directory. Default: $REDLINE_MODEL_DIR, else ./var/model.",
        file_okay=False,
    ),
]


@app.command()
def build(
    model_dir: DirOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Export, quantise and verify the model; write minilm-int8.onnx and model.json."""
    # Imported here so `redline model info` works without the build extras installed.
    from redline.training.build import MIN_COSINE, MIN_MEAN_COSINE, build_model

    try:
        info = build_model(model_dir, progress=not quiet)
    except ClassifierError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    _out.print(f"path      {info.path}")
    _out.print(f"sha256    {info.sha256}")
    _out.print(f"size      {info.size_bytes / 1e6:.1f} MB ({info.size_bytes} bytes)")
    _out.print(
        f"cosine    mean {info.cosine_mean:.4f} (>= {MIN_MEAN_COSINE}), "
        f"min {info.cosine_min:.4f} (>= {MIN_COSINE}) vs torch on "
        f"{info.meta['check']['sentences']} sentences"
    )
    _out.print(f"fp32      {len(info.fp32_nodes)} nodes kept unquantised")
    _out.print(f"built in  {info.build_seconds:.1f} s")


@app.command()
def info(
    model_dir: DirOption = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Hash the ONNX file against model.json.")
    ] = True,
) -> None:
    """Print model.json; with --verify (default), also check the ONNX file's hash."""
    directory = default_model_dir() if model_dir is None else model_dir
    try:
        meta = read_meta(directory)
    except ClassifierError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    _out.print_json(json.dumps(meta))
    if not verify:
        return
    path = directory / MODEL_FILE
    try:
        got = sha256_bytes(path.read_bytes())
    except OSError as exc:
        _err.print(f"[red]error:[/] cannot read {path}: {exc}; run `redline model build`")
        raise typer.Exit(1) from exc
    if got != meta["sha256"]:
        _err.print(
            f"[red]error:[/] {path} has sha256 {got}, {META_FILE} expects {meta['sha256']}; "
            "run `redline model build`"
        )
        raise typer.Exit(1)
    _err.print(f"[green]✓[/] {path} matches {META_FILE}")
