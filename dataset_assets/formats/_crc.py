"""CRC-32C, the TFRecord checksum, for whole blocks of records at once.

A TFRecord frames each record as: 8-byte little-endian length, masked CRC-32C of those 8
bytes, the data, masked CRC-32C of the data. The length headers are all 8 bytes, so
`crc_u64` computes theirs in vectorised numpy (slicing-by-4 tables); the data CRCs come from
google-crc32c, one C call per record (`crc_ranges`). `mask` is TFRecord's rotation plus
constant applied to every stored CRC.
"""

from __future__ import annotations

import google_crc32c
import numpy as np


def _crc_table() -> list[np.ndarray]:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1).astype(np.uint32)
    slicing = [t]  # slicing-by-4: the table of a byte followed by k zero bytes
    for _ in range(3):
        slicing.append((slicing[-1] >> 8) ^ t[slicing[-1] & 0xFF])
    return slicing[::-1]


_SLICING = _crc_table()


def crc_u64(values: np.ndarray) -> np.ndarray:
    """CRC-32C of every 8-byte little-endian value (the record length headers), vectorised."""
    words = values.astype("<u8").view("<u4").reshape(-1, 2)
    return ~_apply(_SLICING, _apply(_SLICING, ~words[:, 0]) ^ words[:, 1])


def _apply(tables, v):
    return tables[0][v & 0xFF] ^ tables[1][(v >> 8) & 0xFF] ^ tables[2][(v >> 16) & 0xFF] ^ tables[3][v >> 24]


def crc_ranges(buf: np.ndarray, starts, lens) -> np.ndarray:
    """CRC-32C of buf[starts[i] : starts[i] + lens[i]] for every i.

    google-crc32c uses the CPU's CRC instructions: ~0.5 us per record plus ~0.01 ns per byte
    here, 4x (300-byte records) to 9x (12 KB records) faster than a vectorised numpy CRC.
    It takes read-only buffers: records of 128 bytes or more are read in place, through a
    read-only view (12 KB records: 0.019 s for 123 MB, against 0.1 s copied out as bytes);
    smaller ones from one copy as bytes, whose slices cost less than numpy's views.
    """
    starts, lens = np.asarray(starts), np.asarray(lens)
    if len(lens) and lens.mean() >= 128:
        data = buf.view()
        data.flags.writeable = False
    else:
        data = buf.tobytes()
    ranges = zip(starts.tolist(), lens.tolist())
    return np.fromiter((google_crc32c.value(data[a : a + n]) for a, n in ranges), np.uint32, len(starts))


def mask(crc: np.ndarray) -> np.ndarray:
    return (((crc >> 15) | (crc << 17)) + np.uint32(0xA282EAD8)).astype(np.uint32)
