"""Property: damage any one file of a saved artifact, in any format, any way (flip a byte, truncate, extend,
delete, replace by a folder, swap two files); then `load` plus full iteration yields exactly the original
elements or raises ArtifactError, and `verify` never raises and names the damaged file.

CI runs a bounded number of examples; run more on demand with
`DATASET_ASSETS_DAMAGE_EXAMPLES=500 pytest dataset_assets_tests/hostile/test_damage_property.py`."""

import os
import shutil

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import dataset_assets as da
from dataset_assets_tests.helpers import leaves, version_dir
from dataset_assets_tests.hostile.conftest import images

EXAMPLES = int(os.environ.get("DATASET_ASSETS_DAMAGE_EXAMPLES", "25"))
DAMAGES = ["flip", "truncate", "extend", "delete", "directory", "swap"]


def _damage(files, how, pick, where, other):
    victim = files[pick % len(files)]
    data = victim.read_bytes()
    if how == "flip" and data:
        i = where % len(data)
        victim.write_bytes(data[:i] + bytes([data[i] ^ (1 << (where % 8))]) + data[i + 1 :])
    elif how == "truncate" and data:
        victim.write_bytes(data[: where % len(data)])
    elif how == "extend" or not data:
        victim.write_bytes(data + b"\0" * (1 + where % 64))
    elif how == "delete":
        victim.unlink()
    elif how == "directory":
        victim.unlink()
        victim.mkdir()
    else:  # swap with another file of the version
        partner = files[other % len(files)]
        if partner == victim:
            partner = files[(other + 1) % len(files)]
        tmp = victim.with_name(victim.name + ".swap")
        os.replace(victim, tmp)
        os.replace(partner, victim)
        os.replace(tmp, partner)
        return [victim, partner]
    return [victim]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One pristine artifact per format, copied for each example."""
    base = tmp_path_factory.mktemp("pristine")
    out = {}
    for fmt in da.FORMATS:
        da.save(images(12), base / fmt, format=fmt)
        out[fmt] = base / fmt
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(da.FORMATS),
    how=st.sampled_from(DAMAGES),
    pick=st.integers(0, 10_000),
    where=st.integers(0, 1 << 30),
    other=st.integers(0, 10_000),
)
def test_damaged_file_is_refused_or_harmless(saved, tmp_path_factory, fmt, how, pick, where, other):
    path = tmp_path_factory.mktemp("damaged") / "art"
    shutil.copytree(saved[fmt], path)
    version = version_dir(path)
    files = sorted(p for p in version.rglob("*") if p.is_file())  # the manifest too
    if how == "swap" and len(files) < 2:
        how = "flip"
    damaged = _damage(files, how, pick, where, other)
    want = [leaves(e) for e in images(12)]
    try:
        got = [leaves(e) for e in da.load(path)]
    except da.ArtifactError:
        got = None
    if got is not None:  # accepted: then it must be exactly the original data
        assert len(got) == len(want)
        for g, w in zip(got, want):
            for a, b in zip(g, w):
                assert a.tobytes() == b.tobytes() if hasattr(b, "tobytes") else a == b
    report = da.verify(path)  # never raises
    event(f"{how}: load {'refused' if got is None else 'yielded the original'}, verify {'ok' if report.ok else 'reported'}")
    if not report.ok:
        text = "\n".join(report.problems)
        assert any(str(d.relative_to(version)) in text for d in damaged), (how, damaged, report.problems)
    else:
        assert got is not None, (how, damaged, "load refused what verify accepted")
