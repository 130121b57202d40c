"""HGQ models of the shared core: a VAE trains with HGQ layers and ends as a proxy that keeps its sampling layer."""

import numpy as np

from codesign.core import models
from codesign.core.hgq import HGQTraining
from codesign.core.scoring import anomaly_score, radius_score
from codesign.core.spec import VAE
from codesign.core.trainer import Training, fit


def test_an_hgq_vae_becomes_a_proxy_whose_halves_give_its_reconstruction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    spec = VAE(encoder=(8,), latent=2, beta=1e-3, activation="relu", input_batchnorm=False, quantizer="hgq",
               score="radius")
    training = Training(epochs=2, batch_size=256, hgq=HGQTraining(beta=1e-5))
    fitted = fit(models.build(spec, (6,), training.hgq), x, x, x[:500], x[:500], training, seed=1)
    proxy = fitted.model
    kinds = {layer.name: type(layer).__name__ for layer in proxy.layers}
    # HGQ's proxy of every HGQ layer, the sampling layer kept, and the decoder's input quantized (z_quantize)
    assert kinds["sampling"] == "Sampling" and kinds["z_mean_quantizer"] == kinds["z_quantize"] == \
        "FixedPointQuantizer"
    assert not any(k.startswith("H") for k in kinds.values()) and fitted.ebops > 0

    # the score reads the quantized z_mean: each element on its own learned grid
    z_mean, _ = models.vae_encoder(proxy).predict(x[:200], verbose=0)
    _, bits, integers = (np.asarray(v).ravel() for v in proxy.get_layer("z_mean_quantizer").get_weights())
    step = np.broadcast_to(np.ldexp(1.0, (integers - bits).astype(int)), (2,))  # each element's own LSB
    np.testing.assert_array_equal(z_mean / step, np.round(z_mean / step))
    np.testing.assert_array_equal(anomaly_score(proxy, spec, x[:200]), radius_score(z_mean))

    # the on-detector half ends at z_mean's quantizer, without the log-variance branch
    encoder = models.encoder(proxy, spec)
    names = [layer.name for layer in encoder.layers]
    assert names[-1] == "z_mean_quantizer" and not any(n.startswith("z_log_var") for n in names)
    codes = encoder.predict(x, verbose=0)
    np.testing.assert_array_equal(codes, models.vae_encoder(proxy).predict(x, verbose=0)[0])
    decoded = models.decoder(proxy, spec).predict(codes, verbose=0)
    np.testing.assert_array_equal(decoded, proxy.predict(x, verbose=0))  # inference decodes z_mean
    np.testing.assert_array_equal(models.mean_reconstruction(proxy, spec).predict(x, verbose=0), decoded)
