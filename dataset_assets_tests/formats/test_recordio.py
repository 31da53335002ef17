"""The shared record pieces: rows joined exactly, memory bounded for large rows, batches sized by their strings."""

import numpy as np
import pytest
import tensorflow as tf

from dataset_assets.columns import Layout, batch_size_for
from dataset_assets.formats._recordio import _PADDED_CELLS, Piece, assemble, blob, const, varint


def _reference(rows_of_parts):
    return b"".join(b"".join(parts) for parts in rows_of_parts)


def test_rows_of_one_length_are_the_buffer_itself():
    buf = np.arange(40, dtype=np.uint8)
    piece = blob(buf, np.full(4, 10))
    assert piece.buf is None and np.shares_memory(piece.m, buf)
    assert piece.m.tobytes() == buf.tobytes()


def test_large_uneven_rows_are_not_padded():
    lens = np.array([20_000, 1] * 500)
    assert len(lens) * 20_000 > _PADDED_CELLS
    buf = np.zeros(int(lens.sum()), np.uint8)
    assert blob(buf, lens).buf is buf  # slices of the buffer, no [n, 20000] index matrix


@pytest.mark.parametrize("big", [10, 9_000])  # small rows through the gather, large ones row by row
def test_assemble_joins_every_row_in_order(big):
    rng = np.random.default_rng(0)
    n = 50
    lens_a, lens_b = rng.integers(0, big, n), rng.integers(0, 7, n)
    data_a, data_b = rng.integers(0, 256, int(lens_a.sum()), dtype=np.uint8), rng.integers(0, 256, int(lens_b.sum()), dtype=np.uint8)
    ends_a, ends_b = np.cumsum(lens_a), np.cumsum(lens_b)
    rows = [
        [b"\x0a", bytes([int(lens_b[i])]), data_a[ends_a[i] - lens_a[i] : ends_a[i]].tobytes(), data_b[ends_b[i] - lens_b[i] : ends_b[i]].tobytes()]
        for i in range(n)
    ]
    pieces = [const(n, b"\x0a"), varint(lens_b.astype(np.int64)), Piece(buf=data_a, lens=lens_a), Piece(buf=data_b, lens=lens_b)]
    joined, lens = assemble(pieces, n)
    assert joined.tobytes() == _reference(rows)
    assert lens.tolist() == [sum(len(p) for p in row) for row in rows]


def test_batches_of_strings_are_sized_by_the_strings_themselves():
    dataset = tf.data.Dataset.range(100).map(lambda i: tf.strings.join([tf.strings.as_string(i, width=8), tf.constant(b"x" * 20_000)]))
    size = batch_size_for(Layout(dataset.element_spec), dataset=dataset)
    assert size <= (8 << 20) // 20_000  # not the 32,768 a 256-byte guess per string gave
