"""Prototype library changes, applied by monkeypatching inside a measurement process only.

Measure what a proposed change would gain without editing `dataset_assets`:
`python -m benchmarks.run --workloads numeric --methods tfdata,tf_save --patch benchmarks.patches:tfdata_source_pass`
(also `python -m benchmarks.profile ... --patch ...`). Prototypes that paid off were moved into the
library (skipping AutoGraph, batch-first encoding, hashing npy files on write, fingerprinting
tfdata on the way into TF's save); what is left here was measured and not adopted.
"""

from __future__ import annotations


def tfdata_source_pass(parallel: bool = False) -> None:
    """tfdata: fingerprint the *source* in a second pass (optionally in a thread beside TF's save).

    Measured 1.24x-1.38x TF's save on the numeric workload, about the same as the adopted
    one-pass tap, but NOT adopted: a source that is not deterministic (unseeded shuffles or
    augmentation) would get a fingerprint of data that was never written, and an expensive
    source would be computed twice.
    """
    import threading

    from dataset_assets.columns import iter_batches
    from dataset_assets.formats import tfdata

    def write(dataset, layout, directory, options, fingerprinter):
        def fingerprint():
            for batch in iter_batches(dataset, layout):
                fingerprinter.update(batch)

        thread = threading.Thread(target=fingerprint) if parallel else None
        if thread:
            thread.start()
        tfdata._save(dataset, directory / tfdata.SUBDIR, options)
        if thread:
            thread.join()
        else:
            fingerprint()
        return tfdata.Written(details={"path": tfdata.SUBDIR, "compression": options["compression"], "num_shards": options["num_shards"]})

    tfdata.write = write


def tfdata_source_pass_parallel() -> None:
    tfdata_source_pass(parallel=True)
