"""`redline train` and `redline eval`: fit the classifier head, and measure a backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.policy.pack import Pack
    from redline.training.corpus import Example
    from redline.training.evaluate import Report
    from redline.training.review import ReviewLine

err = Console(stderr=True)

DataDirOpt = Annotated[Path, typer.Option("--data", help="Corpus directory (data/*.jsonl).")]
ModelDirOpt = Annotated[
    Path | None,
    typer.Option("--model-dir", envvar="REDLINE_MODEL_DIR", help="Built embedding model."),
]
FoldsOpt = Annotated[
    str,
    typer.Option(
        help="The training-side folds held out in turn, comma-separated (1 is the validation "
        "split). Fewer folds train fewer adapters: '1' fits two, not five."
    ),
]


def train_cmd(
    data: DataDirOpt = Path("data"),
    out: Annotated[Path | None, typer.Option(help="Where to write head.npz and head.json.")] = None,
    model_dir: ModelDirOpt = None,
    policy: Annotated[
        str, typer.Option("--policy", "-p", help="Pack the operating point is chosen for.")
    ] = "provider-redlines",
    head_only: Annotated[
        bool,
        typer.Option("--head-only", help="Keep the adapter in --out; train only the head."),
    ] = False,
    folds: FoldsOpt = "1,2,3,4",
) -> None:
    """Train the classifier from the training side of --data (never the test split): the
    embedding model's adapter (then rebuild the model with it), then the head."""
    from redline.classify.embed import default_model_dir, load_embedder, read_meta
    from redline.classify.head import ADAPTER_FILE, WEIGHTS_DIR
    from redline.classify.model import check_adapter
    from redline.training.config import TrainConfig
    from redline.training.corpus import training_side
    from redline.training.fit import Encoder
    from redline.training.folds import fold_encoder, train_adapter
    from redline.training.train import train_and_save

    out_dir = out or WEIGHTS_DIR
    directory = model_dir or default_model_dir()

    def progress(message: str) -> None:
        err.print(f"  {message}")

    try:
        examples = training_side(data)
        config = TrainConfig(pack=policy, folds=_folds(folds))
        err.print(f"training on {len(examples)} examples (train + validation) from {data}/")
        encoders = {k: fold_encoder(examples, k, progress=progress) for k in config.folds}
        if not head_only:
            from redline.training.build import build_model

            sha = train_adapter(examples, out_dir, progress=progress)
            err.print(f"adapter {sha[:12]} written to {out_dir}; rebuilding the model with it")
            build_model(directory, adapter=out_dir / ADAPTER_FILE.name)
        adapter = out_dir / ADAPTER_FILE.name
        meta = read_meta(directory)
        check_adapter(meta, adapter)
        final = Encoder(load_embedder(directory, meta=meta), adapter if adapter.is_file() else None)
        result = train_and_save(examples, encoders, final, out_dir, config, progress=progress)
    except RedlineError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    sel = result.metrics["selected"]
    v = sel["held_out"]
    err.print(
        f"[green]head {result.sha256[:12]}[/] written to {out_dir}: C={sel['C']} "
        f"units={sel['units']} band={sel['band']}; held out (folds pooled) "
        f"macro-F1 {v['macro_f1']:.3f}, "
        f"miss {v['miss_rate']:.1%}, false-block {v['false_block_rate']:.1%}"
    )


def _folds(text: str) -> tuple[int, ...]:
    """`--folds`: distinct folds among 1-4 (0 is the test split, never trained on)."""
    try:
        folds = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        folds = ()
    if not folds or not set(folds) <= {1, 2, 3, 4}:
        raise typer.BadParameter(f"got {text!r}, expected folds among 1,2,3,4 such as '1'")
    return folds


def eval_cmd(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="A JSONL file in corpus format (default: the test split)."),
    ] = None,
    policy: Annotated[str, typer.Option("--policy", "-p", help="Packs, comma-separated.")] = (
        "provider-redlines"
    ),
    classifier: Annotated[
        str, typer.Option("--classifier", envvar="REDLINE_CLASSIFIER", help="rules, model, auto.")
    ] = "model",
    report: Annotated[Path | None, typer.Option(help="JSON report path.")] = None,
    png: Annotated[Path | None, typer.Option(help="Confusion-matrix PNG path.")] = None,
    review: Annotated[
        Path | None,
        typer.Option(
            help="An independent review of the labels (data/review/): report the agreement "
            "and the rates on the lines it agrees on."
        ),
    ] = None,
    external: Annotated[
        Path | None,
        typer.Option(
            help="An outside set: a CSV with columns text,label (allow or restricted); "
            "prints the miss and false-block rates under --policy."
        ),
    ] = None,
) -> None:
    """Per-category precision/recall/F1 and the allow/hold/deny confusion under --policy."""
    if external is not None:
        _eval_external(external, policy, classifier)
        return
    from redline.classify.load import load_classifier
    from redline.policy.pack import PackRegistry
    from redline.training.corpus import load_corpus, load_file
    from redline.training.evaluate import evaluate, write_json, write_png
    from redline.training.review import load_review

    try:
        examples = load_file(data) if data else load_corpus(splits=("test",))
        packs = PackRegistry().select(policy)
        reviewed = load_review(review) if review is not None else None
        backend = load_classifier(classifier)
        result = evaluate(backend, examples, packs, policy)
    except (RedlineError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    result.data = str(data) if data else "data/ (test split)"
    out = Console()
    _print_report(out, result, policy)
    if reviewed is not None:
        result.review = _print_review(out, result, examples, reviewed, packs)
    stem = "eval-" + ("rules" if result.backend.startswith("rules") else "model")
    report = report or Path("reports") / f"{stem}.json"
    png = png or Path("reports") / f"{stem}.png"
    write_json(result, report)
    write_png(result, png)
    err.print(f"report {report}, confusion matrix {png}")


def _print_report(out: Console, result: Report, policy: str) -> None:
    table = Table(title=f"{result.backend} on {result.data}: {result.n} examples, {policy}")
    for col in ("category", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for cat, m in result.per_category.items():
        table.add_row(cat, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
                      str(int(m["support"])))  # fmt: skip
    out.print(table)
    conf = Table(title="expected (rows) vs decided (columns)")
    conf.add_column("")
    for d in ("allow", "hold", "deny"):
        conf.add_column(d, justify="right")
    for a, row in result.confusion.items():
        conf.add_row(a, *(str(v) for v in row.values()))
    out.print(conf)
    out.print(
        f"macro-F1 {result.macro_f1:.3f}   miss rate {result.miss_rate:.1%} "
        f"({len(result.misses)})   false-block rate {result.false_block_rate:.1%} "
        f"({len(result.false_blocks)})"
    )


def _print_review(
    out: Console,
    result: Report,
    examples: Sequence[Example],
    reviewed: dict[str, ReviewLine],
    packs: Sequence[Pack],
) -> dict[str, Any]:
    """Print how the review agrees with the labels and the rates on the lines it agrees on;
    returns the same for the JSON report."""
    from redline.training.evaluate import Decisions
    from redline.training.review import agreed_rates, compare

    agreement = compare(examples, reviewed, Decisions(packs))
    rates = agreed_rates(result, agreement)
    summary = agreement.summary()
    out.print(f"review: {summary}")
    if agreement.stale:
        shown = ", ".join(agreement.stale[:5])
        out.print(f"[yellow]review: {len(agreement.stale)} lines changed since review[/] ({shown})")
    out.print(
        f"on the {len(agreement.agreed_ids)} lines the review agrees on: "
        f"miss rate {rates.miss_rate:.1%} ({rates.misses}/{rates.restricted})   "
        f"false-block rate {rates.false_block_rate:.1%} ({rates.false_blocks}/{rates.allowed})"
    )
    return {
        "summary": summary,
        "reviewed": agreement.reviewed,
        "stale": list(agreement.stale),
        "split": list(agreement.split),
        "agreed_miss_rate": round(rates.miss_rate, 4),
        "agreed_false_block_rate": round(rates.false_block_rate, 4),
    }


def _eval_external(path: Path, policy: str, classifier: str) -> None:
    """`redline eval --external FILE.csv`: the decision's rates on an outside set."""
    from redline.classify.load import load_classifier
    from redline.policy.pack import PackRegistry
    from redline.training.external import measure_external, read_external

    try:
        lines = read_external(path)
        packs = PackRegistry().select(policy)
        backend = load_classifier(classifier)
        result = measure_external(backend, lines, packs, str(path))
    except RedlineError as exc:
        err.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    out = Console(soft_wrap=True)
    out.print(f"{backend.version} on {path}: {len(lines)} lines, {policy}")
    out.print(f"decided: {', '.join(f'{k} {v}' for k, v in result.decided.items())}")
    out.print(
        f"miss rate {result.miss_rate:.1%} ({len(result.misses)}/{result.n_restricted})   "
        f"false-block rate {result.false_block_rate:.1%} "
        f"({len(result.false_blocks)}/{result.n_allowed})"
    )
