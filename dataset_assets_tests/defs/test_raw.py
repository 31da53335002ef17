"""Raw sources: the shipped samples read as typed data; bad input fails naming the file and the fix."""

import numpy as np
import pytest
from dagster import AssetSelection, DagsterInstance, materialize
from PIL import Image

from dataset_assets.defs import build_assets_and_checks, build_resources
from dataset_assets.defs.raw import RawDataError, read_numeric, read_table, scan_images
from dataset_assets.defs.resources import DEFAULT_RAW_ROOT

from .conftest import failures

ASSETS, CHECKS = build_assets_and_checks()


def write_images(root, sizes=((8, 8),) * 3, classes=("a", "b")):
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i, (h, w) in enumerate(sizes):
            Image.fromarray(np.full((h, w), 40 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


def test_samples_read_as_typed_data():
    columns, digest = read_table(DEFAULT_RAW_ROOT / "table" / "iris.csv")
    assert {k: v.dtype.kind for k, v in columns.items()} == {
        "id": "i", "sepal_length_cm": "f", "sepal_width_cm": "f", "petal_length_cm": "f", "petal_width_cm": "f", "species": "O",
    }
    assert len(columns["id"]) == 150 and set(columns["species"]) == {"setosa", "versicolor", "virginica"}
    assert digest.startswith("sha256:")
    arrays, _ = read_numeric(DEFAULT_RAW_ROOT / "numeric" / "digits.npz")
    assert arrays["features"].shape == (1797, 64) and arrays["target"].dtype == np.int64
    folder = scan_images(DEFAULT_RAW_ROOT / "images")
    assert folder.class_names == [str(i) for i in range(10)] and len(folder.paths) == 1000 and folder.shape == (8, 8, 1)
    assert np.all(np.diff(folder.labels) >= 0)


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b\n1,x\n2,3\n", r"column 'b' of .*bad\.csv cannot be typed: it mixes numbers \(line 3: '3'\) and text \(line 2: 'x'\)"),
        ("a,b\n1,x\n2,\n", r"column 'b' of .*bad\.csv is empty at line 3; fill in the cell"),
        ("", r"bad\.csv is empty"),
        ("a,b\n", r"bad\.csv has a header but no rows"),
    ],
)
def test_table_that_cannot_be_typed_is_refused(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(RawDataError, match=message):
        read_table(path)


def test_missing_sources_name_the_path_and_the_setting(tmp_path):
    with pytest.raises(RawDataError, match=rf"{tmp_path}/nope\.csv does not exist.*table_file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(RawDataError, match=rf"{tmp_path}/nope does not exist.*images_dir"):
        scan_images(tmp_path / "nope")
    with pytest.raises(RawDataError, match=r"has no class subfolders"):
        scan_images(tmp_path)
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    with pytest.raises(RawDataError, match=rf"class folder {tmp_path}/cats holds no images"):
        scan_images(tmp_path)


def test_unreadable_or_odd_images_are_named(tmp_path):
    root = write_images(tmp_path / "imgs")
    good = scan_images(root)
    assert good.class_names == ["a", "b"] and good.shape == (8, 8, 1) and good.labels.tolist() == [0, 0, 0, 1, 1, 1]
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "b" / "9.png")  # RGB among grayscale: 3 channels for all
    assert scan_images(root).shape == (8, 8, 3)
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(root / "b" / "8.png")
    with pytest.raises(RawDataError, match=r"images differ in size: .*a/0\.png is 8x8 but .*b/8\.png is 5x7.*image_size"):
        scan_images(root)
    assert scan_images(root, [6, 6]).shape == (6, 6, 3)
    (root / "b" / "8.png").unlink()
    broken = root / "a" / "1.png"
    broken.write_bytes(broken.read_bytes()[:40])  # truncated
    with pytest.raises(RawDataError, match=rf"{broken} is not a readable image"):
        scan_images(root)
    broken.write_bytes(b"definitely not a png")
    with pytest.raises(RawDataError, match=rf"{broken} is not a readable image"):
        scan_images(root)


def test_numeric_files_are_checked(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros((3, 2)), b=np.zeros(4))
    with pytest.raises(RawDataError, match=r"the arrays of .*x\.npz differ in length \({'a': 3, 'b': 4}\)"):
        read_numeric(tmp_path / "x.npz")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(RawDataError, match=r"o\.npy cannot be read as numeric data"):  # never unpickled
        read_numeric(tmp_path / "o.npy")
    (tmp_path / "c.csv").write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(RawDataError, match=r"column 'b' of .*c\.csv is not numeric \(line 3: 'oops'\)"):
        read_numeric(tmp_path / "c.csv")
    (tmp_path / "t.txt").write_text("1 2 3")
    with pytest.raises(RawDataError, match=r"use a \.npy, \.npz or \.csv file"):
        read_numeric(tmp_path / "t.txt")
    np.save(tmp_path / "ok.npy", np.arange(6, dtype=np.int16).reshape(3, 2))
    assert read_numeric(tmp_path / "ok.npy")[0].shape == (3, 2)


def test_bad_input_fails_the_run_naming_the_file_and_keeps_the_earlier_artifact(tmp_path):
    base = tmp_path / "artifacts"
    resources, instance = build_resources(str(base)), DagsterInstance.ephemeral()
    selection = AssetSelection.assets("raw_table", "table_dataset", "table_npy")
    first = materialize([*ASSETS, *CHECKS], selection=selection, resources=resources, instance=instance)
    assert first.success
    before = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}

    bad = tmp_path / "records.csv"
    bad.write_text("id,name\n1,ok\n2,\n")
    config = {"resources": {"raw_data": {"config": {"table_file": str(bad)}}}}
    result = materialize([*ASSETS, *CHECKS], selection=selection, resources=resources, instance=instance, run_config=config, raise_on_error=False)
    assert not result.success
    (message,) = failures(result)
    assert message.startswith("raw_table: ") and f"column 'name' of {bad} is empty at line 3; fill in the cell" in message
    assert {p: p.read_bytes() for p in base.rglob("*") if p.is_file()} == before  # nothing overwritten
