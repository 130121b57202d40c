"""The one trainer every task uses: seeded, early-stopped, LR on plateau, NaN-safe, pruning-aware."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from codesign.config import Frozen
from codesign.core import hgq as hgq_mod
from codesign.core import pruning as pruning_mod
from codesign.core.hgq import HGQTraining
from codesign.core.spec import Pruning
from codesign.errors import CodesignError


class Training(Frozen):
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(1024, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    loss: Literal["mse", "mae"] = "mse"
    early_stopping_patience: int = Field(8, ge=1)
    lr_patience: int = Field(3, ge=1)
    lr_factor: float = Field(0.1, gt=0.0, lt=1.0)
    min_lr: float = Field(1e-6, ge=0.0)
    min_delta: float = Field(1e-4, ge=0.0)
    shuffle: bool = True
    hgq: HGQTraining = HGQTraining()


class TrainingFailed(CodesignError):
    """Training diverged (NaN loss); a search records it as a failed candidate and goes on."""


@dataclass(frozen=True)
class Fitted:
    model: object  # the trained Keras model, pruning wrappers stripped
    history: dict[str, list[float]]
    epochs_run: int
    sparsity: dict[str, float]  # per-layer kernel sparsity after stripping (HGQ: the zero-bit weights)
    ebops: float | None = None  # HGQ's effective bit operations of the trained model (None: not an HGQ model)


def seed_everything(seed: int, deterministic: bool = True) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def fit(model, x, y, x_val, y_val, training: Training, pruning: Pruning | None = None, seed: int = 0,
        verbose: int = 0, tensorboard: str | None = None) -> Fitted:
    """Train `model` (pruning it when `pruning` is set) and return the stripped result.

    `tensorboard`: a directory for TensorBoard logs of the losses (and a VAE's KL term) per epoch.
    An HGQ model (built with `quantizer: hgq`) trains with `training.hgq`'s callbacks and is returned
    as its proxy (`core.hgq.finalize`), ranges traced on `x`.
    """
    import tensorflow as tf

    seed_everything(seed)
    steps_per_epoch = math.ceil(len(x) / training.batch_size)
    callbacks = [
        tf.keras.callbacks.TerminateOnNaN(),
        tf.keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=training.lr_factor,
                                             patience=training.lr_patience, min_delta=training.min_delta,
                                             cooldown=2, min_lr=training.min_lr),
        # Early stopping only watches epochs after pruning has reached its final sparsity,
        # so the restored "best" weights are always pruned ones.
        tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=training.early_stopping_patience,
                                         min_delta=training.min_delta, restore_best_weights=True,
                                         start_from_epoch=pruning.end_epoch if pruning else 0),
    ]
    if tensorboard:
        callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=str(tensorboard), histogram_freq=0,
                                                        write_graph=False, profile_batch=0))
    if pruning is not None:
        if pruning.end_epoch >= training.epochs:
            raise CodesignError(f"pruning.end_epoch ({pruning.end_epoch}) must be below training.epochs "
                                f"({training.epochs}) so that the pruned model is trained after reaching its sparsity")
        model = pruning_mod.wrap(model, pruning, steps_per_epoch)
        callbacks += pruning_mod.callbacks()
    hgq = hgq_mod.is_hgq(model)
    if hgq:
        callbacks += hgq_mod.callbacks(training.hgq)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=training.learning_rate), loss=training.loss)
    history = model.fit(x, y, validation_data=(x_val, y_val), epochs=training.epochs,
                        batch_size=training.batch_size, shuffle=training.shuffle, callbacks=callbacks,
                        verbose=verbose)
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    losses = hist.get("loss", [])
    if not losses or not np.all(np.isfinite(losses)):
        raise TrainingFailed(f"training diverged: loss became non-finite at epoch {len(losses)}")
    ebops = None
    if hgq:
        from codesign.core.layers import Sampling

        model, ebops = hgq_mod.finalize(model, x, training.hgq, keep=(Sampling,))
    if pruning is not None:
        model = pruning_mod.strip(model)
        sparsity = pruning_mod.verify(model, pruning)
    else:
        sparsity = pruning_mod.kernel_sparsity(model)
    return Fitted(model=model, history=hist, epochs_run=len(losses), sparsity=sparsity, ebops=ebops)
