"""Exact k-nearest-neighbour search with a k-d tree (Bentley, 1975), in numpy.

J. L. Bentley, "Multidimensional binary search trees used for associative
searching", Communications of the ACM 18(9), 509-517, 1975.

`cgp_lib.prototypes` builds one tree per predicted class over the encoded
training instances and takes the k-th nearest instance of a class as that
class's prototype (Van Looveren & Klaise, section 3.3, Algorithm 2,
"k-d trees"). Distances are Euclidean (L2), as in the paper.

Construction
    Nodes are split recursively at the median (``np.argpartition``, O(n) per
    level) until a node holds at most ``leaf_size`` points. Bentley cycles
    through the dimensions; like most later implementations we instead split
    on the dimension of largest spread (max - min of the node's points), which
    keeps cells compact when dimensions have different scales. The tree lives
    in flat arrays (split dimension, split value, children, leaf ranges into a
    permuted index array, per-node bounding boxes) rather than node objects.

Search
    Depth-first, nearer child first, keeping the k best candidates sorted. A
    node is skipped when the distance from the query to its bounding box is
    larger than the current k-th best distance. Leaves are scanned with one
    vectorised distance computation. Among equally distant points the one with
    the smaller original row index comes first, so results are deterministic.
"""

import numpy as np

__all__ = ["KDTree"]

# Relative slack in the pruning test: a box is skipped only when it is farther
# than the k-th best by more than rounding error, so floating-point rounding
# can never prune a box holding an equally distant point (which the tie rule
# might need).
_PRUNE_RTOL = 1e-10


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class KDTree:
    """k-d tree over the rows of ``data`` for exact Euclidean k-NN queries.

    Parameters
    ----------
    data : array_like, shape (n, d)
        Points, finite floats, n >= 1 and d >= 1. The tree keeps a read-only copy.
    leaf_size : int, default 40
        Nodes with at most this many points are not split further.

    Attributes
    ----------
    n, d : int
        Number of points and dimensions.
    data : ndarray, shape (n, d)
        Read-only copy of the points.
    n_leaves : int
        Number of leaves in the tree.
    last_query_leaves_visited : ndarray of int, shape (m,)
        For the last call to `query`, how many leaves were scanned per query row
        (to check that pruning works).
    """

    def __init__(self, data, leaf_size=40):
        data = np.array(data, dtype=float)  # always a copy
        if data.ndim != 2:
            raise ValueError(f"data must be a 2-D array (n, d), got {data.ndim} dimension(s)")
        if data.size == 0:
            raise ValueError(f"data must not be empty, got shape {data.shape}")
        if not np.all(np.isfinite(data)):
            raise ValueError("data must not contain NaN or inf")
        if not _is_int(leaf_size) or leaf_size < 1:
            raise ValueError(f"leaf_size must be an int >= 1, got {leaf_size!r}")
        data.setflags(write=False)
        self._data = data
        self.n, self.d = data.shape
        self.leaf_size = int(leaf_size)
        self.last_query_leaves_visited = np.zeros(0, dtype=int)
        self._build()

    @property
    def data(self):
        return self._data

    def _build(self):
        data = self._data
        order = np.arange(self.n)  # permuted row indices; leaves own slices of it
        split_dim, split_value, left, right, start, end = [], [], [], [], [], []

        def new_node(lo, hi):
            for column, value in (
                (split_dim, -1),
                (split_value, np.nan),
                (left, -1),
                (right, -1),
                (start, lo),
                (end, hi),
            ):
                column.append(value)
            return len(start) - 1

        pending = [new_node(0, self.n)]
        while pending:
            node = pending.pop()
            lo, hi = start[node], end[node]
            if hi - lo <= self.leaf_size:
                continue
            points = data[order[lo:hi]]
            dim = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
            half = (hi - lo) // 2
            ranks = np.argpartition(points[:, dim], half)
            order[lo:hi] = order[lo:hi][ranks]
            split_dim[node] = dim
            split_value[node] = data[order[lo + half], dim]
            left[node] = new_node(lo, lo + half)
            right[node] = new_node(lo + half, hi)
            pending += [left[node], right[node]]

        self._order = order
        self._points = np.ascontiguousarray(data[order])  # leaf slices are contiguous views
        self._split_dim = np.array(split_dim, dtype=np.intp)
        self._split_value = np.array(split_value, dtype=float)
        self._left = np.array(left, dtype=np.intp)
        self._right = np.array(right, dtype=np.intp)
        self._start = np.array(start, dtype=np.intp)
        self._end = np.array(end, dtype=np.intp)
        # Bounding boxes: a leaf's box spans its points, a parent's spans its children's.
        n_nodes = len(start)
        self._box_min = np.empty((n_nodes, self.d))
        self._box_max = np.empty((n_nodes, self.d))
        for node in reversed(range(n_nodes)):  # children are created after their parent
            if self._split_dim[node] < 0:
                cell = self._points[self._start[node] : self._end[node]]
                self._box_min[node] = cell.min(axis=0)
                self._box_max[node] = cell.max(axis=0)
            else:
                kids = [self._left[node], self._right[node]]
                self._box_min[node] = self._box_min[kids].min(axis=0)
                self._box_max[node] = self._box_max[kids].max(axis=0)
        self.n_leaves = int(np.sum(self._split_dim < 0))

    def query(self, X, k=1):
        """Exact k nearest neighbours (Euclidean) of each row of ``X``.

        Parameters
        ----------
        X : array_like, shape (m, d) or (d,)
            Finite query points; a 1-D array is one query.
        k : int
            Number of neighbours, 1 <= k <= n.

        Returns
        -------
        dist : ndarray, shape (m, k)
            Distances, increasing along each row.
        idx : ndarray of int, shape (m, k)
            Row indices into `data`. Equally distant points are ordered by
            increasing index. Otherwise as ``scipy.spatial.cKDTree.query(X, k)``,
            except that the output is always 2-D.
        """
        if not _is_int(k) or not 1 <= k <= self.n:
            raise ValueError(f"k must be an int with 1 <= k <= {self.n} (the tree holds {self.n} points), got {k!r}")
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.d:
            raise ValueError(f"X must have shape (m, {self.d}) or ({self.d},), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must not contain NaN or inf")

        dist = np.empty((len(X), k))
        idx = np.empty((len(X), k), dtype=np.intp)
        visited = np.zeros(len(X), dtype=int)
        for row, q in enumerate(X):
            sq_dist, idx[row], visited[row] = self._query_one(q, int(k))
            dist[row] = np.sqrt(sq_dist)
        self.last_query_leaves_visited = visited
        return dist, idx

    def _query_one(self, q, k):
        """k best (squared distance, index) for one query, plus leaves scanned."""
        best_sq = np.empty(0)
        best_idx = np.empty(0, dtype=np.intp)
        bound = np.inf  # k-th best squared distance so far
        leaves = 0
        stack = [0]
        while stack:
            node = stack.pop()
            gap = np.maximum(np.maximum(self._box_min[node] - q, q - self._box_max[node]), 0.0)
            if gap @ gap > bound * (1 + _PRUNE_RTOL):
                continue
            dim = self._split_dim[node]
            if dim >= 0:
                near, far = self._left[node], self._right[node]
                if q[dim] >= self._split_value[node]:
                    near, far = far, near
                stack += [far, near]  # near is popped first
                continue
            leaves += 1
            lo, hi = self._start[node], self._end[node]
            diff = self._points[lo:hi] - q
            sq = np.einsum("ij,ij->i", diff, diff)
            keep = sq <= bound
            if not keep.any():
                continue
            cand_sq = np.concatenate([best_sq, sq[keep]])
            cand_idx = np.concatenate([best_idx, self._order[lo:hi][keep]])
            first = np.lexsort((cand_idx, cand_sq))[:k]  # by distance, then index
            best_sq, best_idx = cand_sq[first], cand_idx[first]
            if len(best_sq) == k:
                bound = best_sq[-1]
        return best_sq, best_idx, leaves
