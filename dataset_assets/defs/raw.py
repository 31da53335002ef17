"""Group `raw`: the source files, validated, described, and versioned by their content.

The raw assets store nothing (no IO manager, no pickle): they check the files the `raw_data`
resource points at and record what they found. The dataset assets downstream read the same files
with the same readers, so bad input fails here first with a message naming the file.
"""

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, DataVersion, MaterializeResult, MetadataValue, TableColumn, TableSchema, asset

from ..errors import DatasetAssetsError
from .resources import RawData

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_DECODABLE = {"PNG", "JPEG", "BMP", "GIF"}  # what tf.io.decode_image reads
_CHANNELS = {"1": 1, "L": 1, "I": 1, "I;16": 1, "F": 1, "LA": 2, "RGB": 3, "P": 3, "CMYK": 3, "YCbCr": 3, "RGBA": 4}


class RawDataError(DatasetAssetsError, ValueError):
    """A raw source file or folder cannot be turned into a dataset."""


# --- readers shared with the dataset assets --------------------------------------------------------------


def _digest_files(root: Path, paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return "sha256:" + h.hexdigest()


def _need_file(path: Path, what: str, setting: str) -> None:
    if not path.is_file():
        raise RawDataError(
            f"{what}: {path} does not exist or is not a file; put the file there or point "
            f"resources.raw_data.config.{setting} at yours"
        )


def read_numeric(path: Path) -> tuple[dict[str, np.ndarray] | np.ndarray, str]:
    """The arrays of a numeric file (rows along the first axis) and the file's content digest."""
    _need_file(path, "raw_numeric", "numeric_file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            data: dict[str, np.ndarray] | np.ndarray = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                data = {name: npz[name] for name in npz.files}
        elif suffix == ".csv":
            data = {name: _numeric_column(path, name, col) for name, col in _read_csv(path).items()}
        else:
            raise RawDataError(f"raw_numeric: {path} is a {suffix or 'extensionless'} file; use a .npy, .npz or .csv file")
    except (ValueError, OSError) as e:
        if isinstance(e, RawDataError):
            raise
        raise RawDataError(f"raw_numeric: {path} cannot be read as numeric data ({e}); save it with numpy.save/savez (no objects)") from e
    arrays = data if isinstance(data, dict) else {"": data}
    if not arrays:
        raise RawDataError(f"raw_numeric: {path} holds no arrays; save at least one with numpy.savez")
    lengths = {}
    for name, arr in arrays.items():
        label = f"array {name!r} of {path}" if name else str(path)
        if arr.ndim == 0 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise RawDataError(f"raw_numeric: {label} is {arr.dtype} with shape {arr.shape}; it must be a numeric array with rows along the first axis")
        lengths[name] = len(arr)
    if len(set(lengths.values())) != 1:
        raise RawDataError(f"raw_numeric: the arrays of {path} differ in length ({lengths}); every array needs one row per record")
    if not next(iter(lengths.values())):
        raise RawDataError(f"raw_numeric: {path} holds no rows; add data to it")
    return data, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as e:
        raise RawDataError(f"{path} is empty; it needs a header line and at least one row") from e
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise RawDataError(f"{path} is not a readable CSV ({str(e).splitlines()[0]}); fix the line it names") from e
    if frame.empty:
        raise RawDataError(f"{path} has a header but no rows; add at least one row")
    return frame


def _numeric_column(path: Path, name: str, col: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.to_numpy()
    bad = int(np.flatnonzero(pd.to_numeric(col, errors="coerce").isna().to_numpy())[0])
    raise RawDataError(f"raw_numeric: column {name!r} of {path} is not numeric (line {bad + 2}: {col.iloc[bad]!r}); fix the cell or drop the column")


def read_table(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """Columns of a CSV typed as int64 / float64 / bool / string, and the file's content digest.

    A column must hold only numbers or only text; empty cells are allowed in number columns (NaN) only.
    """
    _need_file(path, "raw_table", "table_file")
    frame = _read_csv(path)
    columns = {}
    for name in frame.columns:
        col = frame[name]
        where = f"raw_table: column {name!r} of {path}"
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            columns[str(name)] = col.to_numpy()
            continue
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            raise RawDataError(f"{where} has type {col.dtype}, which cannot be stored; write it as numbers or text")
        missing = np.flatnonzero(col.isna().to_numpy())
        if len(missing):
            raise RawDataError(f"{where} is empty at line {missing[0] + 2}; fill in the cell (text columns cannot have gaps)")
        as_number = pd.to_numeric(col, errors="coerce").notna().to_numpy()
        if as_number.any():
            num, txt = int(np.flatnonzero(as_number)[0]), int(np.flatnonzero(~as_number)[0])
            raise RawDataError(
                f"{where} cannot be typed: it mixes numbers (line {num + 2}: {col.iloc[num]!r}) and text "
                f"(line {txt + 2}: {col.iloc[txt]!r}); make the column all numbers or all text"
            )
        columns[str(name)] = col.astype(str).to_numpy(dtype=object)
    return columns, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ImageFolder:
    root: Path
    paths: list[str]  # absolute, in class order then file name order
    labels: np.ndarray  # int64 index into class_names
    class_names: list[str]
    shape: tuple[int, int, int]  # height, width, channels of every element
    digest: str


def scan_images(root: Path, image_size: list[int] | None = None) -> ImageFolder:
    """Index a folder of class subfolders, checking that every image can be decoded by TensorFlow."""
    from PIL import Image, UnidentifiedImageError

    if not root.is_dir():
        raise RawDataError(
            f"raw_images: {root} does not exist or is not a folder; create it with one subfolder per class, "
            "or point resources.raw_data.config.images_dir at yours"
        )
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise RawDataError(f"raw_images: {root} has no class subfolders; put each class's images in a subfolder named after it")
    if image_size is not None and (len(image_size) != 2 or min(image_size) < 1):
        raise RawDataError(f"raw_images: image_size {image_size} must be [height, width] with positive sides")
    paths, labels, sizes, channels = [], [], {}, 1
    for label, name in enumerate(classes):
        files = sorted(
            p for p in (root / name).rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
        )
        if not files:
            raise RawDataError(f"raw_images: class folder {root / name} holds no images ({', '.join(IMAGE_EXTENSIONS)}); add some or remove it")
        paths += files
        labels += [label] * len(files)
    for path in paths:
        try:
            with Image.open(io.BytesIO(path.read_bytes())) as im:
                fmt, size, mode = im.format, im.size, im.mode
                im.verify()  # structure and checksums, without a full decode
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise RawDataError(f"raw_images: {path} is not a readable image ({e}); replace or delete the file") from e
        if fmt not in _DECODABLE:
            raise RawDataError(f"raw_images: {path} is a {fmt} image; TensorFlow decodes PNG, JPEG, BMP and GIF only: convert it")
        sizes.setdefault((size[1], size[0]), path)
        channels = max(channels, _CHANNELS.get(mode, 3))
    if image_size is None and len(sizes) > 1:
        (first, p1), (other, p2) = list(sizes.items())[:2]
        raise RawDataError(
            f"raw_images: images differ in size: {p1} is {first[0]}x{first[1]} but {p2} is {other[0]}x{other[1]} (height x width); "
            "resize them, or set resources.raw_data.config.image_size to [height, width]"
        )
    height, width = image_size if image_size is not None else next(iter(sizes))
    return ImageFolder(
        root=root,
        paths=[str(p) for p in paths],
        labels=np.asarray(labels, np.int64),
        class_names=classes,
        shape=(int(height), int(width), channels),
        digest=_digest_files(root, paths),
    )


# --- the assets ----------------------------------------------------------------------------------------------


def _schema(columns: dict[str, np.ndarray]) -> TableSchema:
    return TableSchema(columns=[TableColumn(name, "string" if a.dtype == object else f"{a.dtype}{list(a.shape[1:]) or ''}") for name, a in columns.items()])


def _columns_result(path, columns: dict[str, np.ndarray], digest: str) -> MaterializeResult:
    """A raw file of columns: row count, schema and content digest (also its data version)."""
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "dagster/row_count": len(next(iter(columns.values()))),
            "dagster/column_schema": _schema(columns),
            "sha256": digest,
        },
        data_version=DataVersion(digest),
    )


@asset(group_name="raw", kinds={"numpy"}, description="A numeric array file (.npz/.npy/.csv): one record per row.")
def raw_numeric(context: AssetExecutionContext, raw_data: RawData) -> MaterializeResult:
    data, digest = read_numeric(raw_data.numeric_path)
    return _columns_result(raw_data.numeric_path, data if isinstance(data, dict) else {"(rows)": data}, digest)


@asset(group_name="raw", kinds={"file"}, description="A folder of images, one subfolder per class.")
def raw_images(context: AssetExecutionContext, raw_data: RawData) -> MaterializeResult:
    folder = scan_images(raw_data.images_path, raw_data.image_size)
    counts = np.bincount(folder.labels, minlength=len(folder.class_names))
    table = "| class | label | images |\n| --- | --- | --- |\n" + "\n".join(
        f"| {name} | {i} | {n} |" for i, (name, n) in enumerate(zip(folder.class_names, counts))
    )
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(folder.root)),
            "dagster/row_count": len(folder.paths),
            "image_shape": str(list(folder.shape)),
            "classes": MetadataValue.md(table),
            "sha256": folder.digest,
        },
        data_version=DataVersion(folder.digest),
    )


@asset(group_name="raw", kinds={"csv"}, description="A CSV of records with number and text columns, read with pandas.")
def raw_table(context: AssetExecutionContext, raw_data: RawData) -> MaterializeResult:
    columns, digest = read_table(raw_data.table_path)
    return _columns_result(raw_data.table_path, columns, digest)
