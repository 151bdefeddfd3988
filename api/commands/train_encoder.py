"""``codefinder train-encoder``: fine-tune MiniLM on CMS's parallel text (short descriptors, drug names)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from codefinder.api.cli_options import app_context, common_options
from codefinder.indexer.errors import CodefinderError

DEFAULTS = {"epochs": 1, "batch_size": 64, "learning_rate": 5e-5, "max_tokens": 64, "seed": 13, "threads": 2}


@click.command(name="train-encoder")
@common_options
@click.option("--epochs", type=click.IntRange(1, 20), default=DEFAULTS["epochs"], show_default=True)
@click.option("--batch-size", type=click.IntRange(2, 1024), default=DEFAULTS["batch_size"], show_default=True)
@click.option(
    "--learning-rate", type=click.FloatRange(1e-7, 1e-2), default=DEFAULTS["learning_rate"], show_default=True
)
@click.option(
    "--max-tokens",
    type=click.IntRange(8, 512),
    default=DEFAULTS["max_tokens"],
    show_default=True,
    help="Texts are cut at this many tokens while training (the built index still embeds up to 128).",
)
@click.option("--seed", type=int, default=DEFAULTS["seed"], show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=DEFAULTS["threads"],
    show_default=True,
    help="Torch CPU threads. Part of the recipe: another count can change the weights' last bits.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where to write the model (default: <cache>/encoders/<run key>, reused when the same run is cached). "
    "Build with it: CODEFINDER_ENCODER_MODEL=<folder>.",
)
@click.option("--force", is_flag=True, help="Train even if this exact run is already in the output folder.")
@click.pass_context
def train_encoder(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    max_tokens: int,
    seed: int,
    threads: int,
    output: Path | None,
    force: bool,
) -> None:
    """Fine-tune the encoder on CMS short descriptors and drug names (about 30-60 minutes on 2 cores)."""
    from codefinder.indexer.build import read_all
    from codefinder.indexer.encoder_training import (
        TrainingConfig,
        TrainingInputs,
        cached_run,
        default_output,
        run_key,
    )
    from codefinder.indexer.encoder_training import (
        train_encoder as train,
    )
    from codefinder.indexer.training_pairs import CURRENT_DESCRIPTORS, PAIR_SOURCES
    from codefinder.models.encoder import FINETUNED_DIR, TRAINING_RECORD, base_weights, recorded_digest

    settings = app_context(ctx, index, data_dir).settings
    inputs = TrainingInputs(
        current=settings.data_dir / CURRENT_DESCRIPTORS,
        others=tuple(settings.data_dir / name for name in PAIR_SOURCES),
    )
    read_all([inputs.current, *inputs.others], "--data-dir")  # every file is there and readable, before training
    config = TrainingConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        threads=threads,
        max_tokens=max_tokens,
    )
    key = run_key(inputs, config, base_weights())
    target = output or default_output(settings.cache_dir, key)
    if target.exists() and any(target.iterdir()) and not (target / TRAINING_RECORD).is_file():
        raise CodefinderError(f"{target} is not empty and holds no trained encoder; choose another --output")
    record = None if force else cached_run(target, key)
    if record is not None:
        click.echo(f"already trained (cached): {target}")
    else:
        shown_output = str(output) if output else "<cache>"
        record = train(inputs, config, target, shown_output, lambda line: click.echo(line, err=True))
        sys.stderr.flush()
    held = record["held_out_retrieval"]
    click.echo(
        f"{target}: weights sha256 {record['weights_sha256']}; held-out codes R@1 "
        f"{held['base']['recall@1']:.3f} -> {held['trained']['recall@1']:.3f}, R@10 "
        f"{held['base']['recall@10']:.3f} -> {held['trained']['recall@10']:.3f}"
    )
    shipped = recorded_digest(FINETUNED_DIR)
    if shipped is not None and target.resolve() != FINETUNED_DIR:
        same = "reproduces" if shipped == record["weights_sha256"] else "differs from"
        click.echo(f"{same} the shipped weights ({shipped[:12]})")
