"""Run inside the wheel smoke test's fresh environment (see smoke.py): the installed wheel, its
runtime dependencies only. Exits non-zero on any failure."""

import importlib
import pkgutil
import sys
from pathlib import Path

import cgp_lib

site_packages = Path(sys.argv[1]).resolve()
where = Path(cgp_lib.__file__).resolve()
assert where.is_relative_to(site_packages), f"cgp_lib was imported from {where}, not from the installed wheel"

# every public module of every subpackage imports with the runtime dependencies alone (the
# extras are imported lazily, where they are used); the private ones are only looked up (the
# alibi worker switches its process to graph mode when imported)
modules = sorted(m.name for m in pkgutil.walk_packages(cgp_lib.__path__, "cgp_lib."))
for name in ("cgp_lib.repro", "cgp_lib.reference", "cgp_lib.repro.models", "cgp_lib.reference._worker"):
    assert name in modules, f"{name} is not in the installed package"
for name in modules:
    if name.rsplit(".", 1)[-1].startswith("_"):
        assert importlib.util.find_spec(name) is not None, name
    else:
        importlib.import_module(name)
for extra in ("alibi", "saliency", "matplotlib", "myst_nb"):
    assert importlib.util.find_spec(extra) is None, f"{extra} is visible: the environment is not runtime-only"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cgp_lib import CounterfactualProto  # noqa: E402

rng = np.random.default_rng(0)
centers = np.array([[-1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [0.0, -1.0, 1.5]], np.float32)
y = np.repeat(np.arange(3), 60)
X = (centers[y] + 0.3 * rng.standard_normal((len(y), 3))).astype(np.float32)
tf.keras.utils.set_random_seed(0)
model = tf.keras.Sequential(
    [tf.keras.Input((3,)), tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(3, activation="softmax")]
)
model.compile(tf.keras.optimizers.Adam(0.03), "sparse_categorical_crossentropy")
model.fit(X, y, epochs=30, batch_size=32, verbose=0)

explainer = CounterfactualProto(
    model, (1, 3), use_kdtree=True, theta=10.0, beta=0.01, max_iterations=200, c_steps=2, feature_range=(-3.0, 3.0)
).fit(X)
rows = X[[0, 60, 120, 1]]
result = explainer.explain(rows, k=2)
orig = model.predict(rows, verbose=0).argmax(axis=1)
found = np.asarray(result.found)
assert found.all(), f"no counterfactual for rows {np.flatnonzero(~found)}"
cf_class = model.predict(np.asarray(result.cf), verbose=0).argmax(axis=1)
assert (cf_class != orig).all(), (cf_class, orig)
print(f"explained {len(rows)} rows from the installed wheel at {where.parent}: classes {orig} -> {cf_class}")

# a fitted explainer saved and loaded again from the installed package gives the same answers
import tempfile  # noqa: E402

with tempfile.TemporaryDirectory() as folder:
    explainer.save(folder)
    again = CounterfactualProto.load(folder, model).explain(rows, k=2)
np.testing.assert_array_equal(again.cf, result.cf)
print("saved and loaded: the same counterfactuals")
