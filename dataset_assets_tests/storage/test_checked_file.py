"""`CheckedFile`, the reader under every format: any range, read or read into a buffer, gives the file's bytes,
and a range that touches a damaged block raises naming the file and that block, whether the block lies wholly
inside the range (read straight into the destination and checked there) or only partly (read whole, kept)."""

import os

import numpy as np
import pytest

from dataset_assets.errors import ArtifactError
from dataset_assets.storage.checksums import BLOCK_BYTES, CheckedFile, digest_file, unpack_crcs

SIZE = 3 * BLOCK_BYTES + BLOCK_BYTES // 2  # three whole blocks and a partial last one
RANGES = [(0, SIZE), (0, BLOCK_BYTES), (10, 100), (BLOCK_BYTES - 5, 10), (BLOCK_BYTES // 2, 2 * BLOCK_BYTES), (3 * BLOCK_BYTES, SIZE - 3 * BLOCK_BYTES), (SIZE - 1, 1)]
# mostly inside one block (an HDF5 chunk aligned to a block): read around, the bytes outside the range checked too
RANGES += [(BLOCK_BYTES, BLOCK_BYTES - 4096), (2 * BLOCK_BYTES + 100, BLOCK_BYTES - 200), (BLOCK_BYTES // 4, BLOCK_BYTES)]


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    path = tmp_path_factory.mktemp("checked") / "data.bin"
    data = np.random.default_rng(0).integers(0, 256, SIZE, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    digest = digest_file(path)
    return path, data, unpack_crcs(digest.crc32c, str(path))


def reads(reader: CheckedFile, offset: int, length: int) -> list[bytes]:
    """The range by `read`, and by `readinto` a fresh buffer."""
    buffer = bytearray(length)
    reader.readinto(offset, memoryview(buffer))
    return [bytes(reader.read(offset, length)), bytes(buffer)]


@pytest.mark.parametrize("offset,length", RANGES)
def test_every_range_reads_the_file(original, offset, length):
    path, data, crcs = original
    for checked in (crcs, None):
        reader = CheckedFile(str(path), SIZE, checked)
        assert reads(reader, offset, length) == [data[offset : offset + length]] * 2


def test_sequential_reads_across_block_ends_read_the_file(original):
    path, data, crcs = original
    reader = CheckedFile(str(path), SIZE, crcs)
    for chunk in (300_000, BLOCK_BYTES, 3 * BLOCK_BYTES // 2):
        got = b"".join(bytes(reader.read(a, min(chunk, SIZE - a))) for a in range(0, SIZE, chunk))
        assert got == data


@pytest.mark.parametrize("damaged", [0, BLOCK_BYTES + 12345, 2 * BLOCK_BYTES - 1, SIZE - 1])
def test_a_range_touching_a_damaged_block_raises_naming_it(original, tmp_path, damaged):
    path, data, crcs = original
    victim = tmp_path / "data.bin"
    flipped = bytearray(data)
    flipped[damaged] ^= 0x01
    victim.write_bytes(bytes(flipped))
    block = damaged // BLOCK_BYTES
    for offset, length in RANGES:
        touches = offset // BLOCK_BYTES <= block <= (offset + length - 1) // BLOCK_BYTES
        for how in ("read", "readinto"):
            reader = CheckedFile(str(victim), SIZE, crcs)  # a fresh reader: nothing kept from an earlier range
            if touches:
                with pytest.raises(ArtifactError, match=rf"{victim}: bytes .*\(block {block}\) do not match"):
                    reads(reader, offset, length) if how == "readinto" else reader.read(offset, length)
            else:
                assert reads(reader, offset, length) == [data[offset : offset + length]] * 2


def test_a_truncated_file_raises_naming_where_it_ends(original, tmp_path):
    path, data, crcs = original
    victim = tmp_path / "data.bin"
    victim.write_bytes(data[: 2 * BLOCK_BYTES + 7])
    for checked in (crcs, None):
        reader = CheckedFile(str(victim), SIZE, checked)
        with pytest.raises(ArtifactError, match=rf"ends at byte {2 * BLOCK_BYTES + 7}.*truncated"):
            reader.readinto(0, memoryview(bytearray(SIZE)))
    assert os.path.getsize(victim) == 2 * BLOCK_BYTES + 7


def test_a_background_hasher_gives_the_same_digest(original):
    from dataset_assets.storage.checksums import Hasher

    path, data, crcs = original
    pieces = [data[a : a + n] for a, n in zip(range(0, SIZE, 777_777), [777_777] * SIZE)]
    plain, background = Hasher(), Hasher(background=True)
    for piece in pieces:
        plain.update(piece)
        background.update(np.frombuffer(piece, np.uint8))
    assert background.digest() == plain.digest() == digest_file(path)
