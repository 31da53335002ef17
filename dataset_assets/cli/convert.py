"""`dataset-assets convert`: stream an artifact into another format; the fingerprint stays the same."""

from __future__ import annotations

import argparse

from .output import emit, size, target

EXAMPLE = """examples:
  dataset-assets convert artifacts/train artifacts/train_tfrecord --format tfrecord --option num_shards=4
  dataset-assets convert image_npy /tmp/images --format pathlist --option image_format=png
  dataset-assets convert artifacts/train s3://bucket/train --format hdf5 --option compression=gzip --overwrite"""


HELP = "stream an artifact into a new artifact of another format (the fingerprint is unchanged)"
DESCRIPTION = (
    "Read SRC (every byte checked) and save it at DST in --format. Data the target format cannot hold is refused "
    "before anything is written; the exit status is 1 if the new artifact's fingerprint differs (a lossy option "
    "such as image_format=jpeg)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..formats import FORMATS

    p.add_argument("src", metavar="SRC", help="an artifact folder, an fsspec URL, or an asset name")
    p.add_argument("dst", metavar="DST", help="where the new artifact goes (a folder or an fsspec URL)")
    p.add_argument("--format", required=True, choices=FORMATS, help="the target format")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a format option (value read as YAML: 4, true, gzip); repeatable")
    p.add_argument("--overwrite", action="store_true", help="commit a new version if DST exists (default: refuse)")


def parse_options(pairs: list[str]) -> dict:
    import yaml

    from ..errors import UnsupportedDatasetError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UnsupportedDatasetError(f"--option {pair!r}: give KEY=VALUE, e.g. --option compression=gzip")
        try:
            options[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            options[key] = value
    return options


def run(args) -> int:
    import dataset_assets as da

    options = parse_options(args.option)
    src = target(args.src)
    source = da.read_manifest(src)
    dataset = da.load(src)
    try:
        manifest = da.save(dataset, args.dst, format=args.format, overwrite=args.overwrite, **options)
    except da.ArtifactExistsError as e:  # its advice is the Python keyword; here it is a flag
        raise da.ArtifactExistsError(str(e).replace("pass overwrite=True", "pass --overwrite")) from None
    same = manifest.fingerprint == source.fingerprint
    doc = {
        "src": str(src), "dst": str(args.dst), "format": manifest.format, "version": manifest.version, "options": manifest.options,
        "num_elements": manifest.num_elements, "bytes": manifest.total_bytes, "fingerprint": manifest.fingerprint,
        "source_fingerprint": source.fingerprint, "fingerprint_unchanged": same,
    }
    human = [
        f"{src} ({source.format}) -> {args.dst} ({manifest.format}, version {manifest.version})",
        f"  {manifest.num_elements:,} elements, {size(manifest.total_bytes)}, {manifest.write_seconds:.2f} s",
        f"  fingerprint {manifest.fingerprint} " + ("(unchanged)" if same else f"DIFFERS from the source's {source.fingerprint}: the options lost information"),
    ]
    emit(doc, human, args.json)
    return 0 if same else 1
