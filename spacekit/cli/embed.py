"""`spacekit embed` (texts -> a Parquet store) and `spacekit cache ls|clear`."""

from __future__ import annotations

from pathlib import Path

import click

from spacekit.cli.common import device_options, encode_request, plain, prompt_options, ray_options, ray_settings
from spacekit.store.format import NP_DTYPES, SHARD_ROWS


@click.command("embed")
@click.argument("model")
@click.argument("input_file", metavar="INPUT")
@click.option("-o", "--out", "out", required=True, type=click.Path(), help="store folder to write")
@click.option("--id-field", default=None, help="id column (default: id, or _id for BEIR)")
@click.option("--text-field", default="text", show_default=True, help="text column")
@click.option("--shard-rows", type=int, default=SHARD_ROWS, show_default=True, help="rows per Parquet shard")
@click.option("--store-dtype", type=click.Choice(list(NP_DTYPES)), default="float32", show_default=True)
@click.option("--overwrite", is_flag=True, help="replace a store made with a different cache key")
@ray_options("encode (each worker writing its own shards)")
@click.option("--tokenizer-stage/--no-tokenizer-stage", default=None,
              help="Ray: tokenise on CPU tasks that feed the encoders (default: when the encoders hold GPUs)")
@device_options
@prompt_options()
def embed(model, input_file, out, id_field, text_field, shard_rows, store_dtype, overwrite, ray_address, workers,
          gpus_per_worker, tokenizer_stage, device, dtype, batch_tokens, trust_remote_code, prompt,
          prompt_name) -> None:
    """Embed INPUT (jsonl/csv/tsv/parquet with id and text) with MODEL into the Parquet store OUT, each text after
    the prompt given (else the model's default prompt)."""
    from spacekit.embed import load_model
    from spacekit.embed.prompts import PromptChoice
    from spacekit.io.texts import read_texts
    from spacekit.store.cache import embed_to_store

    texts = read_texts(input_file, id_field=id_field, text_field=text_field)
    request = encode_request(device, dtype, batch_tokens)
    m = load_model(model, trust_remote_code=trust_remote_code)
    chosen = m.prompt_for(None, PromptChoice.from_options({"prompt": prompt, "prompt_name": prompt_name}))
    if ray_address is not None:
        from spacekit.distributed.embed import EmbedJob, embed_stores_ray

        settings = ray_settings(ray_address, workers, gpus_per_worker, trust_remote_code, tokenize=tokenizer_stage,
                                dtype=request["dtype"], batch_tokens=batch_tokens)
        job = EmbedJob(model, texts.ids, texts.texts, Path(out), chosen, shard_rows, store_dtype, overwrite)
        done = embed_stores_ray([job], settings, {model: m})[0]
        store = done.store
        click.echo(f"ray: {done.blocks_encoded} shard blocks encoded by {done.workers} workers", err=True)
    else:
        from spacekit.backend import Placement

        store = embed_to_store(m, texts.ids, texts.texts, out, prompt=chosen, shard_rows=shard_rows,
                               overwrite=overwrite, store_dtype=store_dtype, placement=Placement.resolve(**request))
    click.echo(f"{plain(store.path)}: {store.count} embeddings, dim {store.dim}, "
               f"{len(store.manifest['shards'])} shards", err=True)


@click.group("cache")
def cache() -> None:
    """Manage the embedding cache."""


@cache.command("ls")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None)
def cache_ls(cache_dir) -> None:
    """List cached stores."""
    from spacekit.store.cache import cache_root, list_cache

    rows = list_cache(cache_dir)
    for r in rows:
        if r["damaged"]:
            click.echo(f"{r['name']}  damaged: {plain(r['damaged'])} (`spacekit cache clear` removes it)")
            continue
        click.echo(f"{r['name']}  {r['count']:>9,} x {r['dim']:<5} {r['bytes'] / 1e6:8.1f} MB  model {r['model']}"
                   + ("" if r["complete"] else "  (incomplete)"))
    click.echo(f"{len(rows)} stores in {plain(cache_root(cache_dir))}", err=True)


@cache.command("clear")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None)
def cache_clear(cache_dir) -> None:
    """Remove every cached store."""
    from spacekit.store.cache import clear_cache

    click.echo(f"removed {clear_cache(cache_dir)} stores", err=True)


@click.group("store")
def store() -> None:
    """Check embedding stores."""


@store.command("verify")
@click.argument("folder", type=click.Path())
def store_verify(folder) -> None:
    """Check every shard of a store (file, sha256, schema, rows, finite vectors, unique ids): one line per problem,
    exit 2 when there is any."""
    from spacekit.store.read import open_store, verify_store

    problems = verify_store(folder)
    for line in problems:
        click.echo(f"error: {plain(line)}", err=True)
    if problems:
        raise click.exceptions.Exit(2)
    st = open_store(folder)
    click.echo(f"{plain(folder)}: ok ({st.count} vectors, dim {st.dim}, {len(st.manifest['shards'])} shards)")


COMMANDS = [embed, cache, store]
