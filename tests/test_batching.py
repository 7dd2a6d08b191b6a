"""Batching: collation, block-wise length sorting, block spans and the worker-thread prefetch."""

import json

import numpy as np
import pytest
import torch
from helpers import data_path

from spacekit.embed import batching
from spacekit.embed.batching import _ahead, batches, block_spans, collate, token_budget_batches


def test_collate_pads_each_row_to_the_longest():
    seqs = [[5, 6, 7], [8], [9, 10]]
    lengths = np.array([3, 1, 2])
    flat = np.array([t for s in seqs for t in s])
    offsets = np.array([0, 3, 4])
    ids, mask = collate(flat, offsets, lengths, np.array([2, 1, 0]), pad_id=0)
    assert ids.tolist() == [[9, 10, 0], [8, 0, 0], [5, 6, 7]]
    assert mask.tolist() == [[1, 1, 0], [1, 0, 0], [1, 1, 1]]


def test_collate_pads_on_the_left_for_a_left_padding_tokenizer():
    flat, offsets, lengths = np.array([5, 6, 7, 8, 9, 10]), np.array([0, 3, 4]), np.array([3, 1, 2])
    ids, mask = collate(flat, offsets, lengths, np.array([2, 1, 0]), pad_id=0, multiple=4, left=True)
    assert ids.tolist() == [[0, 0, 9, 10], [0, 0, 0, 8], [0, 5, 6, 7]]
    assert mask.tolist() == [[0, 0, 1, 1], [0, 0, 0, 1], [0, 1, 1, 1]]


def test_batches_cover_every_text_once_across_blocks(monkeypatch):
    monkeypatch.setattr(batching, "BLOCK", 7)                  # several blocks, a ragged last one
    monkeypatch.setattr(batching, "FIRST_BLOCK", 3)            # and a smaller first one
    rng = np.random.default_rng(0)
    texts = [" ".join(["w"] * int(n)) for n in rng.integers(1, 30, size=40)]

    def tokenize(block):                                        # one id per word, the text's length as the id
        return [[len(t.split())] * len(t.split()) for t in block]

    seen = []
    for b in batches(tokenize, texts, pad_id=-1, dev=torch.device("cpu"), batch_tokens=64):
        assert b.ids.shape[0] * b.ids.shape[1] <= 64 or b.ids.shape[0] == 1
        for row, ids, mask in zip(b.rows, b.ids.tolist(), b.mask.tolist(), strict=True):
            n = len(texts[row].split())
            assert ids[:n] == [n] * n
            assert all(t == -1 for t in ids[n:])
            assert sum(mask) == n
        assert b.padded == bool((b.mask == 0).any())
        seen.extend(b.rows.tolist())
    assert sorted(seen) == list(range(len(texts)))


@pytest.mark.parametrize("n", [0, 1, 1024, 1025, 20000, 1024 + 3 * 8192, 100_000])
def test_block_spans_tile_the_texts_first_and_last_blocks_small(n):
    spans = block_spans(n)
    ends = [0, *(b for _, b in spans)]
    assert [a for a, _ in spans] == ends[:-1]
    assert ends[-1] == n
    sizes = [b - a for a, b in spans]
    assert all(0 < s <= batching.BLOCK for s in sizes)
    assert not sizes or (sizes[0] <= batching.FIRST_BLOCK and sizes[-1] <= batching.FIRST_BLOCK)
    if n == 20000:                                              # 1,024 + 2 x 8,192, then 2,592 halved
        assert sizes == [1024, 8192, 8192, 1296, 648, 648]


@pytest.mark.real
def test_tokenizing_a_block_ahead_gives_the_same_batches(monkeypatch):
    """On a GPU the tokenizer's first stage runs a block ahead on its own thread and id lists are read later: the
    batches must be exactly those of tokenising in place."""
    from spacekit.embed import load_model
    from spacekit.embed.batching import _host_batches
    from spacekit.embed.tokenizer import token_ids

    monkeypatch.setattr(batching, "BLOCK", 64)
    monkeypatch.setattr(batching, "FIRST_BLOCK", 16)
    model = load_model("builtin:minilm")
    lines = (data_path("scifact") / "corpus.jsonl").open(encoding="utf-8")
    texts = [json.loads(next(lines))["text"] for _ in range(300)]            # long abstracts: heads cut too
    staged = list(_host_batches(model.tokenizer.encodings, texts, 0, 4096, gpu=False, to_ids=token_ids,
                                ahead=True))
    plain = list(_host_batches(model.tokenizer.ids, texts, 0, 4096, gpu=False))
    assert len(staged) == len(plain) > 16
    for a, b in zip(staged, plain, strict=True):
        assert np.array_equal(a.rows, b.rows)
        assert torch.equal(a.ids, b.ids)
        assert torch.equal(a.mask, b.mask)


def test_ahead_keeps_order_and_reraises_worker_errors():
    assert list(_ahead(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise ValueError("broken input")

    with pytest.raises(ValueError, match="broken input"):
        list(_ahead(failing(), depth=2))


def test_ahead_stops_its_worker_when_the_consumer_leaves():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    for item in _ahead(endless(), depth=2):
        if item == 5:
            break
    count = len(produced)
    assert count <= 5 + 1 + 2 + 1                                # at most `depth` (+ one in hand) beyond the last
    import time

    time.sleep(0.3)
    assert len(produced) == count                               # the worker stopped


def test_gpu_batches_round_their_width_up_to_a_multiple_within_the_token_budget():
    lengths = np.array([250, 17, 3, 33, 256, 40, 1])
    flat = np.arange(lengths.sum())
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cut = token_budget_batches(lengths, batch_tokens=512, multiple=16)
    assert sorted(np.concatenate(cut).tolist()) == list(range(len(lengths)))
    for b in cut:
        ids, mask = collate(flat, offsets, lengths, b, pad_id=-1, multiple=16)
        assert ids.shape[1] % 16 == 0
        assert ids.shape[1] - lengths[b].max() < 16
        assert ids.size <= 512 or len(b) == 1
        assert mask.sum(1).tolist() == lengths[b].tolist()
        assert all(ids[i, :n].tolist() == flat[offsets[j]:offsets[j] + n].tolist()
                   for i, (j, n) in enumerate(zip(b, lengths[b], strict=True)))
