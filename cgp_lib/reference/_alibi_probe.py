"""Probe of alibi 0.9.6's ``CounterfactualProto`` internals, run in its own graph-mode process.

``python -m cgp_lib.reference._alibi_probe TRIALS`` prints one JSON object with the evidence
for three quirks of the cross-check chapter (:mod:`cgp_lib.reference.quirks` starts it):

* ``explain_before_fit``: what a black-box ``explain`` before ``fit`` raises (quirk 1);
* ``rows_10``, ``rows_20``: rows the black box predicts in 10 and 20 steps (quirk 4);
* ``no_momentum``, ``other``: of ``TRIALS`` FISTA updates of ``adv_s`` from set values, those
  computed without the momentum term, and those matching neither formula (quirk 6).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings

import numpy as np
import tensorflow as tf

FEATURES = 30


def _black_box_quirks(model, rng, x) -> dict:
    from alibi.explainers import CounterfactualProto

    rows: list[int] = []

    def black_box(z):
        rows.append(len(z))
        return model.predict(z, verbose=0)

    out = {}
    explainer = CounterfactualProto(black_box, shape=(1, FEATURES), max_iterations=3, c_steps=1)
    try:
        explainer.explain(x)
        out["explain_before_fit"] = "no error"
    except Exception as error:  # the quirk is which error alibi raises
        out["explain_before_fit"] = f"{type(error).__name__}: {error}"
    # c tiny: the iterate stays put and every numerical gradient is computed
    for steps in (10, 20):
        explainer = CounterfactualProto(black_box, shape=(1, FEATURES), max_iterations=steps, c_init=1e-6, c_steps=1)
        explainer.fit(rng.normal(size=(50, FEATURES)).astype(np.float32))
        rows.clear()
        explainer.explain(x)
        out[f"rows_{steps}"] = int(sum(rows))
    return out


def _momentum_race(model, rng, trials: int) -> dict:
    """Which value of ``adv`` the update of ``adv_s`` reads, in ``trials`` updates."""
    from alibi.explainers import CounterfactualProto

    explainer = CounterfactualProto(model, shape=(1, FEATURES), beta=0.1, max_iterations=10, c_init=1.0, c_steps=1)
    sess, set_step = explainer.sess, explainer.global_step.assign(5.0)
    no_momentum, other = [], []
    for trial in range(trials):
        sess.run(explainer.init)
        adv = rng.normal(size=(1, FEATURES)).astype(np.float32)
        adv_s = 3 * rng.normal(size=(1, FEATURES)).astype(np.float32)
        feed = {
            explainer.assign_orig: np.zeros((1, FEATURES)),
            explainer.assign_target: [[1.0, 0.0]],
            explainer.assign_const: [1.0],
            explainer.assign_adv: adv,
            explainer.assign_adv_s: adv_s,
            explainer.assign_target_proto: np.zeros((1, FEATURES)),
        }
        sess.run(explainer.setup, feed_dict=feed)
        sess.run(set_step)
        sess.run([explainer.adv_updater, explainer.adv_updater_s, explainer.delta, explainer.delta_s])
        new_s = sess.run(explainer.adv_s)
        shrunk = np.where(adv_s > 0.1, adv_s - 0.1, np.where(adv_s < -0.1, adv_s + 0.1, 0.0))
        # step 5: z = 5 / 8; read before the write gives FISTA's momentum step
        if np.allclose(new_s, shrunk + 5 / 8 * (shrunk - adv), atol=1e-5):
            continue
        (no_momentum if np.allclose(new_s, shrunk, atol=1e-5) else other).append(trial)
    return {"no_momentum": no_momentum, "other": other}


def main(trials: int) -> dict:
    tf.compat.v1.disable_eager_execution()
    warnings.simplefilter("ignore")
    logging.getLogger("alibi").setLevel(logging.CRITICAL)
    tf.random.set_seed(0)
    model = tf.keras.Sequential([tf.keras.Input(shape=(FEATURES,)), tf.keras.layers.Dense(2, activation="softmax")])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, FEATURES)).astype(np.float32)
    out = _black_box_quirks(model, rng, x)
    out.update(_momentum_race(model, rng, trials))
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
