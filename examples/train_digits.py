"""Train a small Keras classifier on the digit images, loaded by name without Dagster.

    dataset-assets materialize          # once: writes the artifacts and pipelines, and verifies them
    python examples/train_digits.py     # trains on image_train_pipeline, evaluates on image_test_pipeline

The pipelines are the `image_pathlist` artifact ({"image": uint8 [8, 8, 1], "label": int64} for
1,000 handwritten digits) with the recipes in data/recipes/: scaled to [0, 1], a seeded split of
800 training and 200 held-out images, batched. `--asset image_pathlist` trains on the raw artifact
instead, doing the same steps here in code.
"""

from __future__ import annotations

import argparse

import dataset_assets as da  # first: it loads TensorFlow without the INFO lines TensorFlow prints while loading

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def from_pipelines() -> tuple[tf.data.Dataset, tf.data.Dataset, str]:
    # the batches the pipelines' `rebuild` checks verified, (image, label) tuples ready for Keras
    return da.load_asset("image_train_pipeline"), da.load_asset("image_test_pipeline"), "image_train_pipeline"


def from_artifact(name: str, seed: int) -> tuple[tf.data.Dataset, tf.data.Dataset, str]:
    dataset = da.load_asset(name)  # the latest artifact whose round-trip check passed
    n = int(dataset.cardinality())
    pairs = dataset.map(lambda e: (tf.cast(e["image"], tf.float32) / 255, e["label"]))
    pairs = pairs.shuffle(n, seed=seed, reshuffle_each_iteration=False)
    n_test = n // 5  # held out: never seen while training
    return pairs.skip(n_test).cache().shuffle(n, seed=seed).batch(32), pairs.take(n_test).cache().batch(256), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asset", help="train on this artifact (e.g. image_pathlist) instead of the pipelines")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # pipelines are built before the global seed is set: TF mixes it into every op seed
    train, test, source = from_artifact(args.asset, args.seed) if args.asset else from_pipelines()
    keras.utils.set_random_seed(args.seed)

    image_spec, _ = train.element_spec
    n_train = int(train.unbatch().reduce(0, lambda n, _: n + 1))
    n_test = int(test.unbatch().reduce(0, lambda n, _: n + 1))
    num_classes = 1 + int(test.unbatch().reduce(tf.constant(0, tf.int64), lambda m, e: tf.maximum(m, e[1])))
    model = keras.Sequential(
        [
            keras.Input(image_spec.shape[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(num_classes),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train, epochs=args.epochs, verbose=0, shuffle=False)  # the datasets shuffle themselves; Keras warns it cannot
    _, accuracy = model.evaluate(test, verbose=0)
    print(f"{source}: {n_train} training and {n_test} held-out images of {num_classes} classes")
    print(f"held-out accuracy: {accuracy:.3f} (chance: {1 / num_classes:.3f})")


if __name__ == "__main__":
    main()
