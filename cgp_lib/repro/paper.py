"""Every number and setting quoted from the paper, each with the place it comes from.

Van Looveren & Klaise, "Interpretable Counterfactual Explanations Guided by Prototypes"
(ECML-PKDD 2021, arXiv 1907.02584). The chapters and ``bench/run.py`` set these beside the
numbers they measure; nothing here is computed. Tables are returned as fresh
``pandas.DataFrame`` copies, one row per loss function: a column holds the reported mean
and the column ``<name>_pm`` the half-width of its 95% confidence bound ("mean ± bound" in the
paper). IM2 is stored unscaled (Tables 1 and 2 print IM2 × 10).

Settings the paper does not give are not here: each chapter states its choice beside them.
"""

from __future__ import annotations

from types import MappingProxyType

import pandas as pd

__all__ = [
    "table1",
    "table2",
    "table3",
    "table4",
    "reported_text",
    "MNIST",
    "BREAST_CANCER",
    "MNIST_SPEED_CUTS",
    "MNIST_IM1_CUTS",
    "MNIST_IM2_CUTS",
    "BREAST_CANCER_SPEED_CUTS",
    "BREAST_CANCER_IM_CUTS",
]

_TABLE_1 = {  # section 4.2.1, Table 1 (MNIST, eq. 15; 1,500 counterfactuals per loss)
    "time_s": ([13.06, 8.40, 3.06, 2.31, 1.93, 4.01], [0.23, 0.38, 0.11, 0.04, 0.10, 0.05]),
    "steps_to_best": ([5158, 2380, 835, 497, 777, 1116], [82, 113, 36, 10, 44, 14]),
    "im1": ([1.56, 1.36, 1.16, 1.21, 1.10, 1.19], [0.03, 0.02, 0.02, 0.02, 0.02, 0.02]),
    "im2": ([0.165, 0.160, 0.109, 0.126, 0.110, 0.127], [0.004, 0.003, 0.002, 0.003, 0.003, 0.003]),
}
_TABLE_2 = {  # section 4.3.1, Table 2 (Breast Cancer, eq. 16; 19 instances x 5 seeds)
    "time_s": ([2.68, 0.35, 0.22], [0.20, 0.03, 0.02]),
    "steps_to_best": ([2752, 253, 182], [203, 33, 30]),
    "im1": ([2.07, 0.94, 0.88], [0.16, 0.10, 0.10]),
    "im2": ([0.765, 0.147, 0.141], [0.079, 0.015, 0.015]),
}
_TABLE_3 = {  # appendix C, Table 3: seconds per 100 steps, one MNIST test instance per class
    "seconds": ([54.64, 0.53, 0.72], [1.28, 0.04, 0.01]),
}
#: Appendix E, Table 4: counterfactuals per loss in total and per counterfactual class 0-9.
_TABLE_4 = {
    "A": [5375, 81, 46, 737, 884, 207, 610, 373, 344, 1398, 695],
    "B": [5377, 48, 8, 505, 708, 98, 155, 197, 233, 2819, 606],
    "C": [5206, 398, 88, 231, 788, 397, 663, 386, 632, 606, 1017],
    "D": [4425, 247, 54, 201, 681, 286, 529, 352, 515, 600, 960],
    "E": [5232, 399, 83, 231, 788, 394, 664, 387, 659, 609, 1018],
    "F": [5120, 379, 90, 226, 762, 390, 627, 392, 633, 604, 1017],
}


def _reported(columns: dict, index: list[str], source: str) -> pd.DataFrame:
    frame = pd.DataFrame(index=pd.Index(index, name="loss"))
    for name, (mean, bound) in columns.items():
        frame[name] = mean
        frame[f"{name}_pm"] = bound
    frame.attrs["source"] = source
    return frame


def table1() -> pd.DataFrame:
    """Table 1 (section 4.2.1): MNIST, losses A-F of eq. 15.

    Returns
    -------
    pandas.DataFrame
        Index A-F; columns ``time_s`` (seconds to a satisfactory counterfactual, one instance at a
        time with alibi on an i7-8550U laptop), ``steps_to_best`` (gradient steps to it),
        ``im1``, ``im2`` (eq. 13, 14; IM2 unscaled), each with its ``_pm`` bound.
    """
    return _reported(_TABLE_1, list("ABCDEF"), "Table 1, section 4.2.1")


def table2() -> pd.DataFrame:
    """Table 2 (section 4.3.1): Breast Cancer, losses A-C of eq. 16; columns as :func:`table1`."""
    return _reported(_TABLE_2, list("ABC"), "Table 2, section 4.3.1")


def table3() -> pd.DataFrame:
    """Table 3 (appendix C): mean seconds per 100 FISTA steps for A′ (numerical gradients), E and F.

    Returns
    -------
    pandas.DataFrame
        Index ``A'``, ``E``, ``F``; columns ``seconds`` and ``seconds_pm`` (95% bound).
    """
    return _reported(_TABLE_3, ["A'", "E", "F"], "Table 3, appendix C")


def table4() -> pd.DataFrame:
    """Table 4 (appendix E): MNIST counterfactuals per loss, in total and per counterfactual class.

    Returns
    -------
    pandas.DataFrame
        Index A-F; columns ``total`` and the classes ``0`` ... ``9`` (integers).
    """
    frame = pd.DataFrame.from_dict(_TABLE_4, orient="index", columns=["total", *range(10)])
    frame.index.name = "loss"
    frame.attrs["source"] = "Table 4, appendix E"
    return frame


def reported_text(table: pd.DataFrame, row: str, column: str, digits: int, scale: float = 1.0) -> str:
    """A reported value as the paper prints it, ``"mean ± bound"``, optionally scaled (IM2 × 10).

    Parameters
    ----------
    table
        One of :func:`table1`, :func:`table2`, :func:`table3`.
    row, column
        The loss and the quantity (``column`` and ``column + "_pm"`` must exist).
    digits
        Decimals printed.
    scale
        Factor applied to both numbers.
    """
    if column not in table.columns or f"{column}_pm" not in table.columns:
        raise ValueError(
            f"column: expected a reported quantity of {table.attrs.get('source', 'the table')}, got {column!r}"
        )
    if row not in table.index:
        raise ValueError(f"row: expected one of {list(table.index)}, got {row!r}")
    mean, bound = scale * table.loc[row, column], scale * table.loc[row, f"{column}_pm"]
    return f"{mean:.{digits}f} ± {bound:.{digits}f}"


#: The MNIST settings of section 4.2 and appendix B. ``theta`` per loss: "θ is therefore set at
#: 200 for loss functions C and E, and 100 if used in combination with L_AE in D and F".
MNIST = MappingProxyType(
    {
        "c_init": 1.0,
        "kappa": 0.0,
        "beta": 0.1,
        "gamma": 100.0,  # appendix B
        "theta": MappingProxyType({"C": 200.0, "D": 100.0, "E": 200.0, "F": 100.0}),  # appendix B
        "k": 5,  # section 4.2: K = 5 encodings
        "per_class": 50,
        "seeds": 3,
        "counterfactuals_per_loss": 1500,  # section 4.2
        "feature_range": (-0.5, 0.5),  # appendix B: images in [-0.5, 0.5]
        "cnn_epochs": 3,
        "cnn_batch_size": 64,
        "cnn_test_accuracy": 0.986,  # appendix B
        "ae_epochs": 4,
        "ae_batch_size": 128,  # appendix B
        "class_ae_epochs": 30,
        "class_ae_batch_size": 128,  # appendix B
    }
)

#: The Breast Cancer settings of section 4.3 and appendix A. θ is not given (see the chapter).
BREAST_CANCER = MappingProxyType(
    {
        "c_init": 1.0,
        "kappa": 0.0,
        "beta": 0.1,  # appendix A
        "train_size": 550,
        "test_size": 19,
        "seeds": 5,  # section 4.3
        "theta_sweep": (10.0, 20.0, 50.0, 100.0, 150.0, 200.0),  # Figure 7
        "k_sweep": (1, 2, 5, 10),  # Figure 8
        "mlp_epochs": 500,
        "mlp_batch_size": 128,
        "mlp_test_accuracy": 1.0,  # appendix A (SGD)
        "ae_epochs": 500,
        "ae_batch_size": 128,  # appendix A (Adam)
    }
)

#: Percent cut in (time, gradient steps) against A (section 4.2.2).
MNIST_SPEED_CUTS = MappingProxyType({"B": (36, 54), "C": (77, 84), "D": (82, 90)})
#: Percent cut in IM1 against A, section 4.2.3 ("13% and 26% as L_AE and L_proto are added";
#: "removing L_pred in E yields an improvement over A of 29%").
MNIST_IM1_CUTS = MappingProxyType({"B": 13, "C": 26, "E": 29})
#: Percent cut in IM2 against A, section 4.2.3 ("Adding in L_proto brings IM2 down by 34% while
#: the combination of L_AE and L_proto only reduces the metric by 24%").
MNIST_IM2_CUTS = MappingProxyType({"C": 34, "D": 24})
#: Percent cut in (time, gradient steps) against A, section 4.3.2 ("B finds x_cf in 13% of the
#: time needed compared to A while bringing the number of gradient updates down by 91%";
#: C "reduces the search time by 92% and the number of iterations by 93%").
BREAST_CANCER_SPEED_CUTS = MappingProxyType({"B": (87, 91), "C": (92, 93)})
#: Percent cut in (IM1, IM2) against A, section 4.3.3 ("Including L_proto in the loss function
#: reduces IM1 and IM2 by respectively 55% and 81%"); C: "similar improvements".
BREAST_CANCER_IM_CUTS = MappingProxyType({"B": (55, 81)})
