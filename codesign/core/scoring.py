"""Anomaly scores of the model families, as the trigger would compute them.

AE: mean squared (or absolute) reconstruction error over the inputs. VAE: a score from
the encoder alone, since only the encoder is deployed — the KL divergence of q(z|x) from
the prior, or the latent radius sum(mu^2) — or the reconstruction error for comparison.
LSTM AE over a window of time steps: the mean absolute error of the window's oldest step (the
seed's choice): a lumisection is scored by the window that starts at it, once the following
ones have arrived, so that it is reconstructed from the context after it and a LS that does not
fit its neighbours (a nearly empty one in a full fill) stands out. The newest step would be
reconstructed from itself: measured on a sparse LSTM (16 units, 20 LS), AUC for empty LS 0.99
at the oldest step, 0.95 at the newest, and 0.19-0.45 for models trained on the newest alone.
"""

from __future__ import annotations

import numpy as np

from codesign.core.models import vae_encoder
from codesign.core.spec import LSTMAE, VAE, ModelSpec

PREDICT_BATCH = 16384


def reconstruction_error(x: np.ndarray, reconstruction: np.ndarray, kind: str = "mse") -> np.ndarray:
    diff = np.asarray(reconstruction, dtype=np.float64) - np.asarray(x, dtype=np.float64)
    axes = tuple(range(1, diff.ndim))
    return np.mean(diff * diff, axis=axes) if kind == "mse" else np.mean(np.abs(diff), axis=axes)


def oldest_step_error(x: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Mean |x - reco| over the features of the oldest step of each (event, step, feature) window.

    `reconstruction`: of the whole window, or of its oldest step only (events, features).
    """
    x = np.asarray(x, dtype=np.float64)
    reco = np.asarray(reconstruction).reshape(len(x), -1, x.shape[-1])
    return reconstruction_error(x[:, 0], reco[:, 0], "mae")


def kl_score(z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    z_mean = np.asarray(z_mean, dtype=np.float64)
    z_log_var = np.asarray(z_log_var, dtype=np.float64)
    return -0.5 * np.sum(1.0 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)


def radius_score(z_mean: np.ndarray) -> np.ndarray:
    return np.sum(np.asarray(z_mean, dtype=np.float64) ** 2, axis=-1)


def anomaly_score(model, spec: ModelSpec, x: np.ndarray, loss: str = "mse", transform=None,
                  chunk: int = 1 << 18) -> np.ndarray:
    """Per-event anomaly score of a trained float or QKeras model.

    `x` is preprocessed, or raw with `transform` (the preprocessing) applied block by block: a
    memory-mapped test set of millions of events is scored `chunk` events at a time.
    """
    if isinstance(spec, VAE) and spec.score != "mse":
        encoder = vae_encoder(model)
    parts = []
    for start in range(0, len(x), chunk):
        block = np.asarray(x[start:start + chunk])
        block = transform(block) if transform is not None else block
        if isinstance(spec, VAE) and spec.score != "mse":
            z_mean, z_log_var = encoder.predict(block, batch_size=PREDICT_BATCH, verbose=0)
            parts.append(kl_score(z_mean, z_log_var) if spec.score == "kl" else radius_score(z_mean))
            continue
        reconstruction = model.predict(block, batch_size=PREDICT_BATCH, verbose=0)
        parts.append(oldest_step_error(block, reconstruction) if isinstance(spec, LSTMAE) else
                     reconstruction_error(block, reconstruction, loss))
    return np.concatenate(parts) if parts else np.zeros(0)
