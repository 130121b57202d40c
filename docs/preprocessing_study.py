"""What decides an autoencoder's TPR at FPR 1e-5 under each input preprocessing (docs/search.md).

For each preprocessing, two float autoencoders of different width, latent size and training seed
(57-32-16-3 and 57-64-32-4, ReLU, batch norm, no input BN) are trained on the same generated
events and scored on 3,000,000 test background events (30 above the threshold at FPR 1e-5) and
100,000 events per signal. Printed per model: AUC and TPR per signal; per preprocessing: how many
of the 30 background events above the threshold the two models share, and what those events hold.
Where two different networks put the same events on top, the preprocessing, not the network,
decides the score.

    python docs/preprocessing_study.py            # about 15 minutes on two cores
"""

from __future__ import annotations

import numpy as np

from codesign import metrics
from codesign.core import models
from codesign.core.preprocessing import Preprocessor
from codesign.core.scoring import anomaly_score
from codesign.core.spec import DenseAE
from codesign.core.trainer import Training, fit
from codesign.data import adc2021
from codesign.data import l1_generator as gen

N_TRAIN, N_VAL, N_TEST, N_SIGNAL, TOP = 400_000, 100_000, 3_000_000, 100_000, 30
MODELS = [((32, 16), 3, 1), ((64, 32), 4, 2)]  # (encoder, latent, training seed)


def per_quantity(x: np.ndarray, groups: list[str]) -> Preprocessor:
    """Unbounded per-quantity scaling (pT / its RMS over filled slots): shown for contrast, not in the space."""
    scale = np.ones(x.shape[1])
    for g in set(groups):
        cols = np.array(groups) == g
        v = x[:, cols].ravel()
        scale[cols] = np.sqrt(np.mean(v[v != 0].astype(np.float64) ** 2))
    return Preprocessor("standard", np.zeros(x.shape[1]), scale)


def content(events: np.ndarray) -> str:
    n_e = (events[:, 3:15:3] > 0).sum(axis=1)
    n_mu = (events[:, 15:27:3] > 0).sum(axis=1)
    n_jet = (events[:, 27::3] > 0).sum(axis=1)
    return (f"{np.mean(n_e >= 3):.0%} with >= 3 e/gamma, {np.mean(n_mu >= 2):.0%} with >= 2 muons, "
            f"{n_jet.mean():.1f} jets, leading pT {np.median(events[:, 0::3].max(axis=1)):.0f} GeV (median)")


def main() -> None:
    x_train = adc2021.flatten(gen.background(N_TRAIN, seed=7000).particles)
    x_val = adc2021.flatten(gen.background(N_VAL, seed=7001).particles)
    x_test = adc2021.flatten(gen.background(N_TEST, seed=7002).particles)
    signals = {s: adc2021.flatten(gen.signal(s, N_SIGNAL, seed=7003).particles) for s in gen.SIGNALS}
    groups = adc2021.input_quantities()
    preprocessings = {
        "standard (per slot)": Preprocessor.fit("standard", x_train),
        "per quantity, unbounded": per_quantity(x_train, groups),
        "bounded": Preprocessor.fit("bounded", x_train, groups),
        "bounded_slot": Preprocessor.fit("bounded_slot", x_train, groups),
    }
    for name, pre in preprocessings.items():
        tops = []
        for encoder, latent, seed in MODELS:
            spec = DenseAE(encoder=encoder, latent=latent, activation="relu", input_batchnorm=False)
            fitted = fit(models.build(spec, (57,)), pre.transform(x_train), pre.transform(x_train),
                         pre.transform(x_val), pre.transform(x_val),
                         Training(epochs=12, early_stopping_patience=3, lr_patience=2), None, seed)
            background = anomaly_score(fitted.model, spec, x_test, transform=pre.transform)
            ranked = metrics.SortedScores(background)
            threshold, above = metrics.threshold_at_fpr(ranked, 1e-5)
            row = []
            for s, xs in signals.items():
                score = anomaly_score(fitted.model, spec, xs, transform=pre.transform)
                row.append(f"{s} AUC {metrics.auc(ranked, score):.3f} TPR {np.mean(score > threshold):.2e}")
            print(f"{name:26s} 57-{'-'.join(map(str, encoder))}-{latent}: " + "; ".join(row), flush=True)
            tops.append(np.argsort(-background)[:TOP])
        shared = len(set(tops[0]) & set(tops[1]))
        print(f"{name:26s} the two models share {shared} of their {TOP} highest background events; those hold "
              f"{content(x_test[tops[0]])}", flush=True)


if __name__ == "__main__":
    main()
