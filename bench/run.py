"""`make bench`: FISTA step throughput of cgp_lib against alibi 0.9.6's CounterfactualProto.

Measured in one run on this machine, so ratios are like for like:

* MNIST losses A-F (paper's CNN, autoencoder and encoder; eq. 15 settings of Table 1):
  image-steps per second of cgp_lib at batch 1 and at batch 256, and of alibi at batch 1
  (alibi explains one instance at a time, in its own graph-mode subprocess);
* Breast Cancer losses A-C (2x40 MLP, 20-10-6 autoencoder, k-d tree prototypes);
* the black-box path (Table 3 set-up): seconds per 100 steps for A' (loss A with
  numerical gradients), E and F, with the CNN behind a plain predict function;
* where the time of one MNIST step goes at batch 256 (per model and per term);
* loss D with k-means prototypes (3 centroids per class in the latent space) against the
  encoder's K = 5 prototypes at batch 256, and the k-means fit on the 60,000 training images;
* CIFAR-10 loss D (the CIFAR-10 chapter's CNN and autoencoder, trained on the first use, about
  10 min): image-steps per second at batch 1 and 256 against alibi at batch 1;
* appendix E's tests (RelMulti and RelPSI, six models of 256 features, Gaussian samples):
  milliseconds per repetition at sample sizes 250-2000, both tests on one set of kernel
  evaluations (``rel_tests``) against the two run one after the other.

Every figure is a median over repeats; nothing here is asserted. Results are also written
to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("CGP_ALIBI_CACHE_DIR", None)  # alibi is timed here: never read its results from a cache

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cgp_lib import model_comparison  # noqa: E402
from cgp_lib.explainer import CounterfactualProto  # noqa: E402
from cgp_lib.prototypes import KMeansPrototypes  # noqa: E402
from cgp_lib.reference.runner import keep_worker, run_alibi_cfproto  # noqa: E402
from cgp_lib.repro import datasets, experiments, paper, trained  # noqa: E402

# Eq. 15 with the settings of appendix B (c = 1, gamma = 100, theta = 200 for C and E, 100 for D and F).
MNIST_LOSSES = {
    name: experiments.loss_kwargs(
        name, gamma=paper.MNIST["gamma"], c=paper.MNIST["c_init"], theta=paper.MNIST["theta"].get(name, 0.0)
    )
    for name in "ABCDEF"
}
# Eq. 16 (no L_AE; C without L_pred) with theta = 100, the Breast Cancer chapter's choice (the paper gives none).
BREAST_CANCER_LOSSES = {
    name: experiments.loss_kwargs(
        name, theta=100.0, c=paper.BREAST_CANCER["c_init"], losses=experiments.BREAST_CANCER_LOSSES
    )
    for name in "ABC"
}
# kappa and beta: the same in both experiments (appendices A and B).
assert (paper.MNIST["beta"], paper.MNIST["kappa"]) == (paper.BREAST_CANCER["beta"], paper.BREAST_CANCER["kappa"])
BETA, KAPPA = paper.MNIST["beta"], paper.MNIST["kappa"]


#: The sections of the report, in order (``--sections``).
SECTIONS = ("mnist", "breast_cancer", "black_box", "breakdown", "block_rows", "kmeans", "cifar10", "model_comparison")
#: The sections that need the MNIST models, and those that need the Breast Cancer MLP.
NEEDS_MNIST = {"mnist", "black_box", "breakdown", "block_rows", "kmeans"}
NEEDS_BREAST_CANCER = {"breast_cancer", "block_rows"}


def median(values):
    return float(np.median(values))


def models_for(loss: dict, ae, enc):
    return (ae if loss.get("gamma") else None), (enc if loss.get("theta") else None)


def make_explainer(
    predict,
    shape,
    loss,
    steps,
    fit_data,
    ae=None,
    enc=None,
    use_kdtree=False,
    feature_range=(-0.5, 0.5),
    prototypes=None,
):
    explainer = CounterfactualProto(
        predict,
        shape,
        beta=BETA,
        kappa=KAPPA,
        feature_range=feature_range,
        ae_model=ae,
        enc_model=enc,
        use_kdtree=use_kdtree,
        prototypes=prototypes,
        max_iterations=steps,
        c_steps=1,
        **loss,
    )
    return explainer.fit(fit_data)


def cgp_rate(predict, shape, loss, X, steps, fit_data, k=None, repeats=3, **kw):
    """Image-steps per second of cgp_lib on the rows of X explained together (median of repeats)."""
    explainer = make_explainer(predict, shape, loss, steps, fit_data, **kw)
    explainer.explain(X, k=k)  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        explainer.explain(X, k=k)
        times.append(time.perf_counter() - start)
    return len(X) * steps / median(times)


def cgp_rate_batch1(predict, shape, loss, X, steps, fit_data, k=None, **kw):
    """Steps per second of cgp_lib explaining the rows of X one at a time (median over rows)."""
    explainer = make_explainer(predict, shape, loss, steps, fit_data, **kw)
    explainer.explain(X[:1], k=k)  # trace and warm up
    times = []
    for i in range(len(X)):
        start = time.perf_counter()
        explainer.explain(X[i : i + 1], k=k)
        times.append(time.perf_counter() - start)
    return steps / median(times)


def alibi_rate(
    predict,
    shape,
    loss,
    X,
    steps,
    fit_data,
    ae=None,
    enc=None,
    use_kdtree=False,
    k=None,
    black_box=False,
    feature_range=(-0.5, 0.5),
):
    init = dict(
        beta=BETA,
        kappa=KAPPA,
        feature_range=feature_range,
        use_kdtree=use_kdtree,
        max_iterations=steps,
        c_steps=1,
        **loss,
    )
    result = run_alibi_cfproto(
        X,
        predict_model=predict,
        shape=shape,
        ae_model=ae,
        enc_model=enc,
        black_box=black_box,
        fit_data=fit_data,
        init_kwargs=init,
        explain_kwargs=dict(k=k),
        timeout=3600,
    )
    return steps / median(result.time_s[1:] if len(X) > 1 else result.time_s)


def time_fn(fn, *args, repeats=10):
    fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args)
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
        times.append(time.perf_counter() - start)
    return median(times)


def step_breakdown(m, X, batch):
    """Milliseconds per call at ``batch`` rows for each model pass a loss-D step makes."""
    x = tf.constant(X[:batch])

    @tf.function
    def cnn_forward(x):
        return m.cnn(x, training=False)

    @tf.function
    def input_grad(model, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(model(x, training=False))
        return tape.gradient(out, x)

    @tf.function
    def enc_dec_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = m.enc(x, training=False)
            out = tf.reduce_sum(tf.square(m.dec(z, training=False) - x)) + tf.reduce_sum(tf.square(z))
        return tape.gradient(out, x)

    explainer = CounterfactualProto(
        m.cnn,
        (1, 28, 28, 1),
        feature_range=(-0.5, 0.5),
        ae_model=m.ae,
        enc_model=m.enc,
        max_iterations=50,
        c_steps=1,
        **MNIST_LOSSES["D"],
    )
    explainer.fit(X[:2000])
    whole = time_fn(lambda: explainer.explain(X[:batch], k=paper.MNIST["k"]), repeats=3) / 50
    rows = {
        "CNN forward (check of x_k)": time_fn(cnn_forward, x),
        "CNN forward + input gradient (c*L_pred)": time_fn(lambda v: input_grad(m.cnn, v), x),
        "AE forward + input gradient (gamma*L_AE)": time_fn(lambda v: input_grad(m.ae, v), x),
        "encoder forward + input gradient (theta*L_proto)": time_fn(lambda v: input_grad(m.enc, v), x),
        "encoder once, shared by L_AE and L_proto (fused)": time_fn(enc_dec_grad, x),
        "whole loss-D step in explain()": whole,
    }
    return {name: 1000 * t for name, t in rows.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="FISTA steps per batch-1 measurement")
    parser.add_argument("--batch", type=int, default=256, help="large batch size")
    parser.add_argument("--instances", type=int, default=3, help="instances timed at batch 1")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "latest.json"))
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, among {', '.join(SECTIONS)} (default: all)",
    )
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    if not sections <= set(SECTIONS):
        parser.error(f"--sections: unknown {sorted(sections - set(SECTIONS))}; expected among {SECTIONS}")
    keep_worker()  # one alibi process for all measurements (its timings exclude start-up anyway)

    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "tensorflow": tf.__version__},
        "mnist": {},
        "breast_cancer": {},
        "black_box": {},
        "block_rows": {},
        "kmeans": {},
        "cifar10": {},
        "model_comparison": {},
    }
    big_steps = 50
    if sections & NEEDS_MNIST:  # trains the MNIST models on the first use (about 2 min)
        (x_train, _), (x_test, y_test) = datasets.load_mnist()
        m = trained.mnist_models()
        fit_data = x_train[:5000]
        one_per_class = x_test[[int(np.flatnonzero(y_test == c)[0]) for c in range(10)]]
        X1 = one_per_class[: args.instances]
        Xb = x_test[: args.batch]
    if sections & NEEDS_BREAST_CANCER:
        (bx_train, _), (bx_test, _), _ = datasets.load_breast_cancer()
        mlp = trained.breast_cancer_mlp()
        fr = (bx_train.min(axis=0), bx_train.max(axis=0))
        fr = (np.minimum(fr[0], bx_test.min(axis=0)), np.maximum(fr[1], bx_test.max(axis=0)))
        Xbc_big = np.resize(bx_test, (args.batch, bx_test.shape[1]))

    print(f"# cgp_lib vs alibi 0.9.6: image-steps per second ({os.cpu_count()} CPUs, TF {tf.__version__})\n")
    if "mnist" in sections:
        print(
            "| MNIST loss | alibi b=1 | cgp_lib b=1 | cgp_lib b=%d | b=1 ratio | b=%d ratio |"
            % (args.batch, args.batch)
        )
        print("|---|---|---|---|---|---|")
        for name, loss in MNIST_LOSSES.items():
            ae, enc = models_for(loss, m.ae, m.enc)
            kw = dict(ae=ae, enc=enc, k=paper.MNIST["k"] if enc is not None else None)
            a1 = alibi_rate(m.cnn, (28, 28, 1), loss, X1, args.steps, fit_data, **kw)
            c1 = cgp_rate_batch1(m.cnn, (1, 28, 28, 1), loss, X1, args.steps, fit_data, **kw)
            cb = cgp_rate(m.cnn, (1, 28, 28, 1), loss, Xb, big_steps, fit_data, repeats=2, **kw)
            report["mnist"][name] = dict(alibi_b1=a1, cgp_b1=c1, cgp_batch=cb)
            print(f"| {name} | {a1:.0f} | {c1:.0f} | {cb:.0f} | {c1 / a1:.1f}x | {cb / a1:.1f}x |", flush=True)

    if "breast_cancer" in sections:
        print(
            "\n| Breast Cancer loss | alibi b=1 | cgp_lib b=1 | cgp_lib b=%d | b=1 ratio | b=%d ratio |"
            % (args.batch, args.batch)
        )
        print("|---|---|---|---|---|---|")
        for name, loss in BREAST_CANCER_LOSSES.items():
            # eq. 16 has no L_AE term: no autoencoder
            kw = dict(use_kdtree=bool(loss.get("theta")), feature_range=fr)
            a1 = alibi_rate(mlp, (30,), loss, bx_test[: args.instances], 1000, bx_train, **kw)
            c1 = cgp_rate_batch1(mlp, (1, 30), loss, bx_test[: args.instances], 1000, bx_train, **kw)
            cb = cgp_rate(mlp, (1, 30), loss, Xbc_big, 200, bx_train, repeats=2, **kw)
            report["breast_cancer"][name] = dict(alibi_b1=a1, cgp_b1=c1, cgp_batch=cb)
            print(f"| {name} | {a1:.0f} | {c1:.0f} | {cb:.0f} | {c1 / a1:.1f}x | {cb / a1:.1f}x |", flush=True)

    if "black_box" in sections:
        print(
            "\n| Black box (MNIST), seconds per 100 steps | alibi b=1 | cgp_lib b=1 | cgp_lib b=10, per instance |"
            " paper (alibi, i7 laptop) |"
        )
        print("|---|---|---|---|---|")
        black_box_predict = experiments.black_box_predict(m.cnn)
        table3 = paper.table3()
        for name, loss, steps in (
            ("A'", MNIST_LOSSES["A"], 20),
            ("E", MNIST_LOSSES["E"], 100),
            ("F", MNIST_LOSSES["F"], 100),
        ):
            ae, enc = models_for(loss, m.ae, m.enc)
            kw = dict(ae=ae, enc=enc, k=paper.MNIST["k"] if enc is not None else None)
            # alibi skips the numerical gradient at step 0, so time from enough steps to matter
            a1 = alibi_rate(m.cnn, (28, 28, 1), loss, X1[:2], steps, fit_data, black_box=True, **kw)
            c1 = cgp_rate_batch1(black_box_predict, (1, 28, 28, 1), loss, X1[:2], steps, fit_data, **kw)
            cb = cgp_rate(black_box_predict, (1, 28, 28, 1), loss, one_per_class, steps, fit_data, repeats=1, **kw)
            report["black_box"][name] = dict(
                alibi_b1_s_per_100=100 / a1, cgp_b1_s_per_100=100 / c1, cgp_b10_s_per_100_per_instance=100 / cb
            )
            reported = paper.reported_text(table3, name, "seconds", 2)
            print(f"| {name} | {100 / a1:.2f} | {100 / c1:.2f} | {100 / cb:.2f} | {reported} |", flush=True)

    if "breakdown" in sections:
        print(f"\n| Where a loss-D step goes, batch {args.batch} | ms per call |")
        print("|---|---|")
        breakdown = step_breakdown(m, x_test, args.batch)
        report["breakdown_ms"] = breakdown
        for name, ms in breakdown.items():
            print(f"| {name} | {ms:.1f} |")

    if "block_rows" in sections:
        # the price of a batch-size-independent search (every call padded to 16 rows), one instance at a time
        print("\n| One instance at a time, steps per second | block_rows=None | block_rows=16 | cost |")
        print("|---|---|---|---|")
        d_ae, d_enc = models_for(MNIST_LOSSES["D"], m.ae, m.enc)
        cases = {
            "MNIST D": (m.cnn, (1, 28, 28, 1), MNIST_LOSSES["D"], X1, args.steps, fit_data,
                        dict(ae=d_ae, enc=d_enc, k=paper.MNIST["k"])),
            "Breast Cancer B": (mlp, (1, 30), BREAST_CANCER_LOSSES["B"], bx_test[: args.instances], 1000, bx_train,
                                dict(use_kdtree=True, feature_range=fr)),
        }  # fmt: skip
        for name, (predict, shape, loss, X, steps, fit, kw) in cases.items():
            plain = cgp_rate_batch1(predict, shape, loss, X, steps, fit, **kw)
            padded = cgp_rate_batch1(predict, shape, dict(loss, block_rows=16), X, steps, fit, **kw)
            report["block_rows"][name] = dict(none=plain, sixteen=padded)
            print(f"| {name} | {plain:.0f} | {padded:.0f} | {plain / padded:.2f}x the time |", flush=True)

    if "kmeans" in sections:
        print(f"\n| MNIST loss D, prototypes | cgp_lib b={args.batch}, image-steps/s | fit (s) |")
        print("|---|---|---|")
        d_ae, d_enc = models_for(MNIST_LOSSES["D"], m.ae, m.enc)
        rate = cgp_rate(m.cnn, (1, 28, 28, 1), MNIST_LOSSES["D"], Xb, big_steps, fit_data, repeats=2,
                        ae=d_ae, enc=d_enc, k=paper.MNIST["k"])  # fmt: skip
        report["kmeans"]["encoder K=5"] = dict(rate=rate)
        print(f"| encoder, K = {paper.MNIST['k']} | {rate:.0f} | |", flush=True)
        labels = m.cnn.predict(x_train, verbose=0).argmax(1)
        for n in (3, 10):
            fitted = KMeansPrototypes(n_clusters=n, enc_model=m.enc).fit(x_train, labels, 10)
            rate = cgp_rate(m.cnn, (1, 28, 28, 1), MNIST_LOSSES["D"], Xb, big_steps, fit_data, repeats=2,
                            ae=d_ae, enc=d_enc, prototypes=KMeansPrototypes(n_clusters=n, enc_model=m.enc))  # fmt: skip
            report["kmeans"][f"kmeans {n}"] = dict(rate=rate, fit_60000_s=fitted.fit_seconds_)
            print(f"| k-means, {n} per class | {rate:.0f} | {fitted.fit_seconds_:.1f} on {len(x_train)} |", flush=True)

    if "cifar10" in sections:
        print(
            f"\n| CIFAR-10 loss | alibi b=1 | cgp_lib b=1 | cgp_lib b={args.batch} | b=1 ratio | b={args.batch} ratio |"
        )
        print("|---|---|---|---|---|---|")
        (cx_train, _), (cx_test, _) = datasets.load_cifar10()
        cm = trained.cifar10_models()
        loss = MNIST_LOSSES["D"]  # the chapter's settings are MNIST's on images in [0, 1]
        kw = dict(ae=cm.ae, enc=cm.enc, k=paper.MNIST["k"], feature_range=(0.0, 1.0))
        cfit = cx_train[:5000]
        a1 = alibi_rate(cm.cnn, (32, 32, 3), loss, cx_test[: args.instances], args.steps, cfit, **kw)
        c1 = cgp_rate_batch1(cm.cnn, (1, 32, 32, 3), loss, cx_test[: args.instances], args.steps, cfit, **kw)
        cb = cgp_rate(cm.cnn, (1, 32, 32, 3), loss, cx_test[: args.batch], big_steps, cfit, repeats=2, **kw)
        report["cifar10"]["D"] = dict(alibi_b1=a1, cgp_b1=c1, cgp_batch=cb)
        print(f"| D | {a1:.0f} | {c1:.0f} | {cb:.0f} | {c1 / a1:.1f}x | {cb / a1:.1f}x |", flush=True)

    if "model_comparison" in sections:
        print("\n| Appendix E tests (6 models, 256 features), n | rel_tests, ms | rel_multi + rel_psi, ms | ratio |")
        print("|---|---|---|---|")
        rng = np.random.default_rng(0)
        for n in (250, 500, 1000, 2000):
            reference = rng.standard_normal((n, 256))
            samples = [rng.standard_normal((n, 256)) + 0.02 * i for i in range(6)]
            shared = time_fn(model_comparison.rel_tests, samples, reference, repeats=3)
            separate = time_fn(
                lambda s, r: (model_comparison.rel_multi(s, r), model_comparison.rel_psi(s, r)),
                samples, reference, repeats=3,
            )  # fmt: skip
            report["model_comparison"][n] = dict(rel_tests_ms=1000 * shared, separate_ms=1000 * separate)
            print(f"| {n} | {1000 * shared:.0f} | {1000 * separate:.0f} | {separate / shared:.2f}x |", flush=True)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
