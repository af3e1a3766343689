"""``hub run [PIPELINE]``: list the pipelines, or run one without Airflow."""

from __future__ import annotations

import click
import orjson

from adapters.common.errors import AdapterError
from hub.settings import get_settings


@click.command("run")
@click.argument("pipeline", required=False)
def run(pipeline: str | None) -> None:
    """Run PIPELINE once (as its Airflow DAG would) and print its summary; without one, list them."""
    from hub.pipelines.registry import PIPELINES

    if pipeline is None:
        for name, function in sorted(PIPELINES.items()):
            click.echo(f"{name}\t{(function.__doc__ or '').strip().splitlines()[0]}")
        return
    if pipeline not in PIPELINES:
        raise click.UsageError(f"unknown pipeline {pipeline!r}; known: {', '.join(sorted(PIPELINES))}")
    try:
        summary = PIPELINES[pipeline](get_settings())
    except (ValueError, KeyError, AdapterError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
