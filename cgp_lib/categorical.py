"""Categorical variables: distances between categories, an embedding in one number, and back
(paper section 3.4 and appendix D).

A gradient step cannot move "Bachelors" a little towards "Masters". The paper therefore

1. infers a distance between every two categories i, j of a variable, either from the model's
   predictions (MVDM, eq. 17) or from the context the other features give (ABDM, eq. 18),
   or a weighted mix of the two;
2. places the categories in 2-D with metric multidimensional scaling so that their Euclidean
   distances approximate those distances, and gives each category one number: its distance
   to the category with the largest norm (the "origin");
3. scales these numbers into the feature's range (min-max scaling over all categorical
   variables, or standardisation per variable);
4. searches over these numbers like over any numerical feature, and maps a perturbed value
   back to the category whose number is nearest before the model sees it.

:class:`CategoricalMap` holds the result of steps 1-3 and the mappings of step 4, for data
given ordinally (one column of codes 0..n-1 per variable) or one-hot encoded (a block of n
columns per variable); ``cat_vars`` follows alibi: {column: number of categories}, where the
column is the first of the block for one-hot data. The "search space" has one column per
variable (ordinal layout) holding the numbers of step 2-3.

Everything here mirrors alibi 0.9.6's ``alibi.utils.distance`` (``mvdm``, ``abdm``,
``multidim_scaling``), ``alibi.utils.discretizer`` and ``CounterfactualProto.fit`` so that
the cross-check can compare the two value by value; the places where alibi's behaviour is
surprising are mirrored too and named in the docstrings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .validation import check_cat_vars, check_categorical_data

D_TYPES = ("abdm", "mvdm", "abdm-mvdm")
_EPS = 1e-12  # alibi's guard against log(0) and 0/0


# ------------------------------------------------------------------ encodings
def ordinal_cat_vars(cat_vars: dict[int, int], n_columns: int, ohe: bool) -> dict[int, int]:
    """``cat_vars`` of the ordinal layout: {ordinal column: number of categories}.

    For one-hot data every block of n columns becomes one column, so later columns shift left.
    """
    cat_vars = check_cat_vars(cat_vars, n_columns, ohe)
    if not ohe:
        return cat_vars
    out, shift = {}, 0
    for key, n_cat in cat_vars.items():
        out[key - shift] = n_cat
        shift += n_cat - 1
    return out


def ordinal_width(cat_vars: dict[int, int], n_columns: int, ohe: bool) -> int:
    """Number of columns in the ordinal layout (the search space)."""
    cat_vars = check_cat_vars(cat_vars, n_columns, ohe)
    return n_columns - (sum(v - 1 for v in cat_vars.values()) if ohe else 0)


def ohe_to_ord(X: np.ndarray, cat_vars: dict[int, int]) -> tuple[np.ndarray, dict[int, int]]:
    """One-hot blocks → one column of codes each (the position of the 1). Returns the data and
    the ordinal ``cat_vars``."""
    X = np.asarray(X)
    cat_vars = check_cat_vars(cat_vars, X.shape[1], ohe=True)
    check_categorical_data(X, cat_vars, ohe=True)
    columns, c = [], 0
    while c < X.shape[1]:
        if c in cat_vars:
            columns.append(np.argmax(X[:, c : c + cat_vars[c]], axis=1).astype(X.dtype))
            c += cat_vars[c]
        else:
            columns.append(X[:, c])
            c += 1
    return np.stack(columns, axis=1), ordinal_cat_vars(cat_vars, X.shape[1], ohe=True)


def ord_to_ohe(X_ord: np.ndarray, cat_vars_ord: dict[int, int]) -> tuple[np.ndarray, dict[int, int]]:
    """Columns of codes → one-hot blocks. Returns the data and the one-hot ``cat_vars``."""
    X_ord = np.asarray(X_ord)
    cat_vars_ord = check_cat_vars(cat_vars_ord, X_ord.shape[1], ohe=False)
    check_categorical_data(X_ord, cat_vars_ord, ohe=False)
    blocks, cat_vars_ohe, k = [], {}, 0
    for c in range(X_ord.shape[1]):
        if c in cat_vars_ord:
            n_cat = cat_vars_ord[c]
            blocks.append(np.eye(n_cat, dtype=np.float32)[X_ord[:, c].astype(int)])
            cat_vars_ohe[k] = n_cat
            k += n_cat
        else:
            blocks.append(X_ord[:, c : c + 1].astype(np.float32))
            k += 1
    return np.concatenate(blocks, axis=1), cat_vars_ohe


# ------------------------------------------------------------------ distances between categories
def discretize(X: np.ndarray, columns, percentiles=(25, 50, 75)) -> tuple[np.ndarray, dict[int, int]]:
    """Bin numerical ``columns`` at their ``percentiles`` (duplicates merged), as alibi's
    ``Discretizer``: a value v goes to bin ``searchsorted(edges, v)`` (v ≤ edge 0 → bin 0).
    Returns the data with those columns replaced by bin numbers, and {column: number of bins}."""
    X = np.array(X, dtype=np.float64, copy=True)
    bins = {}
    for c in columns:
        edges = np.unique(np.percentile(X[:, c], percentiles))
        X[:, c] = np.searchsorted(edges, X[:, c])
        bins[int(c)] = len(edges) + 1
    return X, bins


def _conditional(X: np.ndarray, given: int, n_given: int, of: int, n_of: int) -> np.ndarray:
    """P(column ``of`` = t | column ``given`` = i) as an (n_of, n_given) table (0 for empty i)."""
    table = np.zeros((n_of, n_given))
    np.add.at(table, (X[:, of].astype(int), X[:, given].astype(int)), 1.0)
    return table / (table.sum(axis=0, keepdims=True) + _EPS)


def mvdm(
    X_ord: np.ndarray, labels: np.ndarray, cat_vars_ord: dict[int, int], n_labels: int | None = None, alpha: float = 1.0
) -> dict[int, np.ndarray]:
    """Modified Value Difference Metric (paper eq. 17; Cost & Salzberg 1993).

    ``d(i, j) = Σ_y |P(y | x = i) − P(y | x = j)|^α``, where y is the model's predicted class on the
    training data. Categories the model treats alike are close. ``n_labels`` defaults to the
    number of distinct labels, as in alibi. Returns {column: (n, n) distance matrix}.
    """
    labels = np.asarray(labels).astype(int)
    if labels.shape != (len(X_ord),):
        raise ValueError(f"labels: expected shape ({len(X_ord)},), got {labels.shape}")
    n_labels = len(np.unique(labels)) if n_labels is None else int(n_labels)
    out = {}
    for col, n_cat in cat_vars_ord.items():
        table = np.zeros((n_cat, n_labels))
        keep = labels < n_labels
        np.add.at(table, (X_ord[keep, col].astype(int), labels[keep]), 1.0)
        p = table / (np.bincount(X_ord[:, col].astype(int), minlength=n_cat)[:, None] + _EPS)
        out[col] = (np.abs(p[:, None, :] - p[None, :, :]) ** alpha).sum(axis=2)
    return out


def abdm(X_bin: np.ndarray, cat_vars_ord: dict[int, int], bins: dict[int, int] | None = None) -> dict[int, np.ndarray]:
    """Association-Based Distance Metric (paper eq. 18; Le & Ho 2005).

    d(i, j) = Σ_{other features k} Σ_t [P(t|i) log(P(t|i)/P(t|j)) + P(t|j) log(P(t|j)/P(t|i))]:
    the symmetric Kullback-Leibler divergence between the distributions of every other feature
    k (categorical, or numerical binned by :func:`discretize`: ``bins``) given category i and
    given category j. Categories that come with the same context are close. Returns
    {column: (n, n) distance matrix}.
    """
    others = {**cat_vars_ord, **(bins or {})}
    out = {}
    for col, n_cat in cat_vars_ord.items():
        d = np.zeros((n_cat, n_cat))
        for other, n_other in others.items():
            if other == col:
                continue
            p = _conditional(X_bin, col, n_cat, other, n_other)  # (n_other, n_cat)
            a, b = p[:, :, None], p[:, None, :]
            d += (a * np.log((a + _EPS) / (b + _EPS)) + b * np.log((b + _EPS) / (a + _EPS))).sum(axis=0)
        np.fill_diagonal(d, 0.0)
        out[col] = d
    return out


# ------------------------------------------------------------------ one number per category
def mds_positions(distances: np.ndarray, n_components: int = 2, random_state: int = 0) -> np.ndarray:
    """Metric multidimensional scaling of an (n, n) distance matrix to ``n_components``
    dimensions: SMACOF as in alibi (scikit-learn's ``MDS``, 4 random starts with seed 0,
    5000 iterations, tolerance 1e-9). Returns the (n, n_components) positions."""
    from sklearn.manifold import MDS

    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1] or len(distances) < 2:
        raise ValueError(f"distances: expected a square matrix of at least 2 categories, got {distances.shape}")
    if not np.allclose(distances, distances.T) or np.any(distances < 0):
        raise ValueError("distances: expected a symmetric matrix of non-negative distances")
    mds = MDS(
        n_components=n_components,
        metric_mds=True,
        metric="precomputed",
        init="random",
        n_init=4,
        max_iter=5000,
        eps=1e-9,
        random_state=random_state,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mds.fit(distances).embedding_


def origin_distances(positions: np.ndarray) -> np.ndarray:
    """Distance of every category to the category with the largest norm (the origin of appendix D)."""
    origin = np.argsort(np.linalg.norm(positions, axis=1))[-1]
    return np.linalg.norm(positions - positions[origin], axis=1)


def scale_embeddings(
    raw: dict[int, np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    standardize_cat_vars: bool = False,
    center: bool = True,
) -> dict[int, np.ndarray]:
    """Scale the raw numbers of every variable into the search space (alibi's ``multidim_scaling``).

    Standardised (``standardize_cat_vars``): per variable, (v − mean) / std. Otherwise min-max
    over all variables at once, (v − d_min) / (d_max − d_min) · (hi − lo) + lo with the bounds
    (lo, hi) of the variable's column, so that a variable with larger distances spans more of
    its range; then, with ``center``, shifted so that its midpoint is 0. (alibi centres at 0,
    not at the middle of the range: for a range like (0, 1) the values leave the range.)
    """
    if not raw:
        return {}
    d_min = min(v.min() for v in raw.values())
    d_max = max(v.max() for v in raw.values())
    out = {}
    for col, v in raw.items():
        if standardize_cat_vars:
            scaled = (v - v.mean()) / (v.std() + _EPS)
        else:
            lo, hi = float(lower[col]), float(upper[col])
            scaled = (v - d_min) / (d_max - d_min) * (hi - lo) + lo
            if center:
                scaled = scaled - 0.5 * (scaled.max() + scaled.min())
        out[col] = scaled
    return out


def frequency_embedding(X_ord: np.ndarray, col: int, n_cat: int) -> np.ndarray:
    """The naive alternative of Figure 5: each category's relative frequency in ``X_ord``."""
    counts = np.bincount(np.asarray(X_ord)[:, col].astype(int), minlength=n_cat)
    return counts / counts.sum()


def embed_categories(
    X_ord: np.ndarray,
    labels: np.ndarray,
    cat_vars_ord: dict[int, int],
    lower: np.ndarray,
    upper: np.ndarray,
    d_type: str = "abdm",
    w: float | None = None,
    disc_perc=(25, 50, 75),
    standardize_cat_vars: bool = False,
    smooth: float = 1.0,
    center: bool = True,
    n_labels: int | None = None,
) -> tuple[dict[int, np.ndarray], dict]:
    """Steps 1-3: one number per category of every variable (alibi's ``fit`` for categorical data).

    ``lower``, ``upper``: the bounds of the ordinal columns (only used by min-max scaling).
    ``smooth``: distances are raised to this power before scaling. ``d_type='abdm-mvdm'``
    scales both embeddings separately, mixes them as w·ABDM + (1 − w)·MVDM and recentres.
    ABDM bins the numerical columns at ``disc_perc`` percentiles.

    Returns (embedding, details): embedding {column: (n,) values}; details holds the distance
    matrices (``'distances'``, or ``'abdm'`` and ``'mvdm'``) and the 2-D MDS positions.
    """
    if d_type not in D_TYPES:
        raise ValueError(f"d_type: expected one of {D_TYPES}, got {d_type!r}")
    if d_type == "abdm-mvdm":
        if w is None:
            raise ValueError("w: d_type='abdm-mvdm' needs the weight w of ABDM, between 0 and 1")
        if not 0.0 <= float(w) <= 1.0:
            raise ValueError(f"w: expected a weight between 0 and 1, got {w!r}")
    if not (isinstance(smooth, (int, float)) and smooth > 0):
        raise ValueError(f"smooth: expected a positive exponent, got {smooth!r}")
    X_ord = np.asarray(X_ord, dtype=np.float64)
    lower, upper = np.ravel(lower), np.ravel(upper)

    def distances(kind):
        if kind == "mvdm":
            return mvdm(X_ord, labels, cat_vars_ord, n_labels=n_labels)
        numerical = [c for c in range(X_ord.shape[1]) if c not in cat_vars_ord]
        X_bin, bins = discretize(X_ord, numerical, disc_perc) if numerical else (X_ord, {})
        return abdm(X_bin, cat_vars_ord, bins)

    def embed(d_pair):
        positions = {c: mds_positions(d**smooth) for c, d in d_pair.items()}
        raw = {c: origin_distances(p) for c, p in positions.items()}
        return positions, raw

    details: dict = {}
    if d_type == "abdm-mvdm":
        d_a, d_m = distances("abdm"), distances("mvdm")
        pos_a, raw_a = embed(d_a)
        pos_m, raw_m = embed(d_m)
        s_a = scale_embeddings(raw_a, lower, upper, standardize_cat_vars, center)
        s_m = scale_embeddings(raw_m, lower, upper, standardize_cat_vars, center)
        embedding = {}
        for c in cat_vars_ord:
            v = float(w) * s_a[c] + (1.0 - float(w)) * s_m[c]
            if center:
                v = v - 0.5 * (v.max() + v.min())
            embedding[c] = v
        details.update(abdm=d_a, mvdm=d_m, positions={"abdm": pos_a, "mvdm": pos_m})
    else:
        d_pair = distances(d_type)
        positions, raw = embed(d_pair)
        embedding = scale_embeddings(raw, lower, upper, standardize_cat_vars, center)
        details.update(distances=d_pair, positions=positions)
    return embedding, details


# ------------------------------------------------------------------ the mapping used by the search
@dataclass
class CategoricalMap:
    """Mapping between the model's input space and the search space (step 4).

    ``cat_vars``, ``ohe``: the layout of the model's input, as in alibi; ``n_columns``: its
    width; ``embedding``: {ordinal column: the number of every category}, from
    :func:`embed_categories`. The search space has the ordinal layout with each code replaced
    by its number; a search value goes back to the category with the nearest number (ties: the
    lower code).
    """

    cat_vars: dict[int, int]
    ohe: bool
    n_columns: int
    embedding: dict[int, np.ndarray]
    details: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.cat_vars = check_cat_vars(self.cat_vars, self.n_columns, self.ohe)
        self.cat_vars_ord = ordinal_cat_vars(self.cat_vars, self.n_columns, self.ohe)
        self.n_search = ordinal_width(self.cat_vars, self.n_columns, self.ohe)
        if set(self.embedding) != set(self.cat_vars_ord):
            raise ValueError(
                f"embedding: expected the ordinal columns {sorted(self.cat_vars_ord)}, got {sorted(self.embedding)}"
            )
        for c, n_cat in self.cat_vars_ord.items():
            values = np.asarray(self.embedding[c], dtype=np.float64)
            if values.shape != (n_cat,) or not np.all(np.isfinite(values)):
                raise ValueError(f"embedding: column {c} needs {n_cat} finite values, got shape {values.shape}")
            self.embedding[c] = values
        self._tf = None

    # numpy mappings
    def to_ordinal(self, X: np.ndarray) -> np.ndarray:
        """Model input → ordinal layout (codes as floats)."""
        X = np.asarray(X, dtype=np.float64)
        return ohe_to_ord(X, self.cat_vars)[0] if self.ohe else X.copy()

    def from_ordinal(self, X_ord: np.ndarray) -> np.ndarray:
        """Ordinal layout → model input (float32)."""
        if self.ohe:
            return ord_to_ohe(X_ord, self.cat_vars_ord)[0].astype(np.float32)
        return np.asarray(X_ord, dtype=np.float32)

    def to_search(self, X: np.ndarray) -> np.ndarray:
        """Model input → search space: every code replaced by its category's number (float32)."""
        check_categorical_data(X, self.cat_vars, self.ohe)
        Z = self.to_ordinal(X)
        for c, values in self.embedding.items():
            Z[:, c] = values[Z[:, c].astype(int)]
        return Z.astype(np.float32)

    def nearest_category(self, Z: np.ndarray) -> np.ndarray:
        """Search space → ordinal layout: each categorical value → code of the nearest number."""
        X_ord = np.array(Z, dtype=np.float64, copy=True)
        for c, values in self.embedding.items():
            X_ord[:, c] = np.argmin(np.abs(X_ord[:, c][:, None] - values.astype(np.float32)[None, :]), axis=1)
        return X_ord

    def to_model(self, Z: np.ndarray) -> np.ndarray:
        """Search space → model input (float32)."""
        return self.from_ordinal(self.nearest_category(Z))

    # TensorFlow mapping, differentiable by the straight-through rule
    def _constants(self):
        import tensorflow as tf

        if self._tf is None:
            cols = list(self.cat_vars_ord)
            m = max(self.cat_vars_ord.values())
            table = np.full((len(cols), m), np.inf, np.float32)
            for i, c in enumerate(cols):
                table[i, : self.cat_vars_ord[c]] = self.embedding[c]
            # G[j, k] = 1 when model column k belongs to search column j: the straight-through
            # gradient of a search value is the sum of the gradients of its model columns.
            G = np.zeros((self.n_search, self.n_columns), np.float32)
            j = 0
            k = 0
            while k < self.n_columns:
                width = self.cat_vars.get(k, 1) if self.ohe else 1
                G[j, k : k + width] = 1.0
                j, k = j + 1, k + width
            numeric = np.ones(self.n_search, np.float32)
            numeric[cols] = 0.0
            A = G * numeric[:, None]  # numerical search column → its model column
            B = np.zeros((len(cols) * m, self.n_columns), np.float32)  # (variable, code) → model column
            for i, c in enumerate(cols):
                start = int(np.flatnonzero(G[c])[0])
                for code in range(self.cat_vars_ord[c]):
                    B[i * m + code, start + (code if self.ohe else 0)] = 1.0 if self.ohe else float(code)
            self._tf = dict(cols=np.array(cols, np.int32), table=table, G=G, A=A, B=B, m=m, n_cat=len(cols))
        # numpy arrays, made constants of whichever graph (or eager context) calls
        return {key: tf.constant(v) if isinstance(v, np.ndarray) else v for key, v in self._tf.items()}

    def to_model_tf(self, z):
        """Search space → model input inside a TensorFlow computation.

        Forward: the nearest category (one-hot or code). Backward: straight through, as alibi
        does (its ``argmin_grad``/``one_hot_grad``): the gradient with respect to a search value
        is the gradient with respect to the code, or the sum over the variable's one-hot columns.
        """
        import tensorflow as tf

        k = self._constants()

        @tf.custom_gradient
        def mapping(z):
            values = tf.gather(z, k["cols"], axis=1)  # (N, C)
            codes = tf.argmin(tf.abs(values[:, :, None] - k["table"][None]), axis=2)  # (N, C)
            onehot = tf.reshape(tf.one_hot(codes, k["m"]), [-1, k["n_cat"] * k["m"]])
            out = tf.matmul(z, k["A"]) + tf.matmul(onehot, k["B"])

            def grad(dy):
                return tf.matmul(dy, k["G"], transpose_b=True)

            return out, grad

        return mapping(z)

    def bounds(self, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` of the search space with each categorical column set to the
        [min, max] of its numbers (``update_feature_range``)."""
        lower, upper = np.array(lower, np.float32, copy=True), np.array(upper, np.float32, copy=True)
        for c, values in self.embedding.items():
            lower[..., c], upper[..., c] = np.float32(values.min()), np.float32(values.max())
        return lower, upper


def fit_categorical_map(
    X: np.ndarray,
    labels: np.ndarray,
    cat_vars: dict[int, int],
    ohe: bool,
    lower: np.ndarray,
    upper: np.ndarray,
    n_labels: int | None = None,
    **embed_kwargs,
) -> CategoricalMap:
    """Steps 1-3 on training data ``X`` (model input layout) labelled with the model's
    predictions; ``lower``, ``upper``: bounds of the search space. Keywords go to
    :func:`embed_categories` (``d_type``, ``w``, ``disc_perc``, ``standardize_cat_vars``,
    ``smooth``, ``center``)."""
    X = np.asarray(X)
    cat_vars = check_cat_vars(cat_vars, X.shape[1], ohe)
    check_categorical_data(X, cat_vars, ohe)
    X_ord = ohe_to_ord(X, cat_vars)[0] if ohe else X
    cat_vars_ord = ordinal_cat_vars(cat_vars, X.shape[1], ohe)
    embedding, details = embed_categories(X_ord, labels, cat_vars_ord, lower, upper, n_labels=n_labels, **embed_kwargs)
    return CategoricalMap(cat_vars, ohe, X.shape[1], embedding, details)
