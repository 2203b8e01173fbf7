"""The chapters' seed -> models factories (cgp_lib.repro.trained), with training stubbed out."""

from types import SimpleNamespace

import numpy as np
import pytest

from cgp_lib.repro import trained


def test_mnist_seed_models_loads_each_seed_once_and_shares_the_metric(monkeypatch):
    calls = []

    def fake_mnist_models(seed):
        calls.append(seed)
        return trained.MnistModels(cnn=f"cnn{seed}", ae=f"ae{seed}", enc=f"enc{seed}", dec=f"dec{seed}")

    monkeypatch.setattr(trained, "mnist_models", fake_mnist_models)
    metric = SimpleNamespace(class_aes={0: "ae_0"}, ae_all="ae_all")
    models_for = trained.mnist_seed_models(metric)
    a, b, again = models_for(0), models_for(1), models_for(0)
    assert calls == [0, 1]
    assert (a.classifier, a.ae, a.enc) == ("cnn0", "ae0", "enc0") and b.classifier == "cnn1"
    assert a.class_aes is metric.class_aes and b.ae_all == "ae_all" and again == a


def test_breast_cancer_seed_models_offsets_the_metric_seed(monkeypatch):
    seen = []
    monkeypatch.setattr(trained, "breast_cancer_mlp", lambda seed, epochs: ("mlp", seed, epochs))

    def fake_autoencoder(seed, epochs, classes=None):
        seen.append((seed, epochs, classes))
        return (("ae", seed, classes), None, None)

    monkeypatch.setattr(trained, "breast_cancer_autoencoder", fake_autoencoder)
    m = trained.breast_cancer_seed_models(classifier_epochs=7, autoencoder_epochs=9, metric_seed_offset=100)(3)
    assert m.classifier == ("mlp", 3, 7)
    assert sorted(seen, key=str) == sorted([(103, 9, 0), (103, 9, 1), (103, 9, None)], key=str)
    assert m.class_aes == {0: ("ae", 103, 0), 1: ("ae", 103, 1)} and m.ae_all == ("ae", 103, None)


def test_own_class_errors_compare_each_autoencoder_on_its_class_and_the_others():
    class Shifted:  # reconstructs every row as the constant c + 0.1
        def __init__(self, c):
            self.c = c

        def predict(self, x, batch_size=None, verbose=0):
            return np.full_like(x, self.c + 0.1)

    x = np.repeat(np.arange(3, dtype=np.float32), 4)[:, None, None] * np.ones((1, 2, 2), np.float32)
    y = np.repeat(np.arange(3), 4)
    metric = trained.MetricAutoencoders(class_aes={c: Shifted(c) for c in range(3)}, ae_all=None)
    table = metric.own_class_errors(x, y, per_class=8)  # 4 rows of its class, the 8 of the others
    np.testing.assert_allclose(table["own class"], 0.01, rtol=1e-5)
    others = {0: [1, 2], 1: [0, 2], 2: [0, 1]}
    for c, rest in others.items():
        expected = np.mean([(d - c - 0.1) ** 2 for d in rest])
        assert table.loc[c, "other classes"] == pytest.approx(expected, rel=1e-5)
        assert table.loc[c, "ratio"] == pytest.approx(expected / 0.01, rel=1e-4)
    with pytest.raises(ValueError, match="y:"):
        metric.own_class_errors(x, y[:-1])
    with pytest.raises(ValueError, match="per_class"):
        metric.own_class_errors(x, y, per_class=0)
