"""The search over c, the weight of L_pred: alibi's rule, one value per row, recorded per c step.

The paper runs FISTA "for a fixed value of c" (section 4.1) and says that for loss A most of the
time goes into "finding a good range for c" (section 4.2.2), but gives no rule; the authors'
code (alibi) multiplies c by 10 after a c step that found no counterfactual, and once one has
been found bisects between the largest c that failed and the smallest that succeeded.
:class:`CSearch` holds those bounds for every row of a batch and keeps the c each row used in
each c step, which ``CounterfactualProto.explain`` returns as ``c_history``.
"""

from __future__ import annotations

import numpy as np

#: The upper bound before any counterfactual is found (alibi's 1e10); bisection starts below 1e9.
_NO_UPPER = 1e10


class CSearch:
    """The per-row value of c and its bounds across the c steps of one ``explain`` call.

    Parameters
    ----------
    c_init : float
        The first c of every row (0 for the losses without L_pred, which then stays 0).
    n : int
        Rows of the batch.
    c_steps : int
        The most c steps the search may run (the length of :attr:`history`).
    """

    def __init__(self, c_init: float, n: int, c_steps: int):
        self.c = np.full(n, float(c_init))
        self.lower = np.zeros(n)
        self.upper = np.full(n, _NO_UPPER)
        self.history = np.full((c_steps, n), np.nan)  # c used by each row in each c step; NaN: not searched
        self.steps_run = 0

    def record(self, c_step: int, rows: np.ndarray) -> None:
        """Note that ``rows`` search c step ``c_step`` with their current c."""
        self.history[c_step, rows] = self.c[rows]
        self.steps_run = max(self.steps_run, c_step + 1)

    def update(self, found: np.ndarray) -> None:
        """alibi's rule after a c step: ``found`` says which rows found a counterfactual in it.

        A row that found one lowers its upper bound to its c; one that did not raises its lower
        bound. Once a row has an upper bound its next c is the middle of the bounds; before, c
        is multiplied by 10.
        """
        self.upper = np.where(found, np.minimum(self.upper, self.c), self.upper)
        self.lower = np.where(found, self.lower, np.maximum(self.lower, self.c))
        self.c = np.where(self.upper < 1e9, (self.lower + self.upper) / 2, np.where(found, self.c, self.c * 10))

    @property
    def stuck(self) -> bool:
        """True when every c is 0: the rule keeps 0, so a further c step would repeat the last."""
        return not np.any(self.c)

    def c_history(self) -> np.ndarray:
        """``(c steps run, n)``: the c of each row in each c step run (NaN where a row sat out)."""
        return self.history[: self.steps_run].copy()
