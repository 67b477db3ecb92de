"""The text component: a logistic regression on the tokens of a change's diff (JITLine-style).

A change's tokens are the compact text ``riskml mine`` keeps beside the changes table
(``+name:count`` for added lines, ``-name:count`` for deleted lines;
:func:`riskml.mine.content.format_bag`), a ``tokens`` column of the dataset and of a pending
change's row. :func:`fit_text` learns, from training rows only, a vocabulary (tokens in at
least :data:`MIN_DF` training changes, the :data:`MAX_FEATURES` most frequent), TF-IDF
weights (``log(1 + count) · idf``, rows scaled to unit length) and an L2 logistic regression;
:meth:`TextComponent.margin` is its log-odds for any rows, training or pending alike.

:func:`out_of_fold_margins` gives training rows a margin no model trained on their own label
produced: the rows are cut into consecutive blocks in time and each block is scored by a
component fitted on the blocks before it (the first block gets NaN, LightGBM's missing value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# chosen by backtests inside the development period (docs/training.md)
MIN_DF = 5
MAX_FEATURES = 20_000
TEXT_C = 1.0
OOF_BLOCKS = 5
# fewer training changes (or positives) than this: no text component
MIN_ROWS = 200
MIN_POSITIVES = 20


class TokenCounts:
    """Every row's tokens as one sparse count matrix over the tokens seen in any row.

    Built once per fit (one pass over the texts); each component picks its own vocabulary
    from its training rows' columns.
    """

    def __init__(self, texts: Sequence) -> None:
        from scipy import sparse

        index: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        data: list[int] = []
        setdefault = index.setdefault
        for text in texts:
            if isinstance(text, str) and text:
                row: dict[int, int] = {}
                for item in text.split():
                    name, _, n = item.partition(":")
                    j = setdefault(name, len(index))
                    row[j] = row.get(j, 0) + (int(n) if n else 1)
                indices.extend(row)
                data.extend(row.values())
            indptr.append(len(indices))
        self.tokens = list(index)
        self.matrix = sparse.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
            shape=(len(indptr) - 1, len(index)),
        )


@dataclass
class TextComponent:
    """A fitted text component: vocabulary, idf weights and the logistic regression."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float
    params: dict = field(default_factory=dict)
    columns: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["columns"] = None  # positions in the fit's TokenCounts: meaningless later
        return state

    def transform(self, counts):
        """TF-IDF rows of a count matrix in this component's vocabulary order (unit length)."""
        from scipy import sparse

        X = counts.astype(np.float64, copy=True)
        X.data = np.log1p(X.data)
        X = X.multiply(self.idf).tocsr()
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ X

    def _row(self, text: str) -> dict[int, int]:
        """Column -> count of one row's tokens (``name`` or ``name:count`` words) that are in
        the vocabulary."""
        get = self.vocabulary.get
        row: dict[int, int] = {}
        for item in text.split():
            name, _, n = item.partition(":")
            j = get(name)
            if j is not None:
                row[j] = row.get(j, 0) + (int(n) if n else 1)
        return row

    def counts(self, texts: Sequence):
        """The count matrix of ``texts`` (token text per row) in this vocabulary."""
        from scipy import sparse

        indptr = [0]
        indices: list[int] = []
        data: list[int] = []
        for text in texts:
            if isinstance(text, str) and text:
                row = self._row(text)
                indices.extend(row)
                data.extend(row.values())
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
            shape=(len(indptr) - 1, len(self.vocabulary)),
        )

    def margin(self, texts: Sequence) -> np.ndarray:
        """Log-odds per row of ``texts``; a row without tokens (or with none known) gets the
        intercept. Row by row in plain Python (what scoring a pending change needs: no sparse
        matrix, no scipy or scikit-learn import), the same numbers as :meth:`margin_of_counts`
        on :meth:`counts` (to rounding)."""
        idf, coef = self.idf, self.coef
        out = np.full(len(texts), self.intercept, dtype=float)
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text:
                continue
            row = self._row(text)
            if not row:
                continue
            cols = np.fromiter(row, dtype=np.int64, count=len(row))
            weights = np.log1p(np.fromiter(row.values(), dtype=float, count=len(row))) * idf[cols]
            norm = float(np.sqrt(weights @ weights))
            if norm > 0:
                out[i] += float(weights @ coef[cols]) / norm
        return out

    def margin_of_counts(self, counts) -> np.ndarray:
        X = self.transform(counts)
        return np.asarray(X @ self.coef, dtype=float).ravel() + self.intercept

    def top_tokens(self, k: int = 20) -> dict[str, list[tuple[str, float]]]:
        """The ``k`` tokens that raise the risk most and lower it most (for people, not scoring)."""
        names = np.array(list(self.vocabulary), dtype=object)
        order = np.argsort(self.coef)
        return {
            "raise": [(str(names[j]), float(self.coef[j])) for j in order[::-1][:k]],
            "lower": [(str(names[j]), float(self.coef[j])) for j in order[:k]],
        }


def fit_text(
    counts: TokenCounts,
    rows: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    *,
    C: float | None = None,
    min_df: int | None = None,
    max_features: int | None = None,
) -> TextComponent | None:
    """Fit on the rows ``rows`` (positions in ``counts``) with labels ``y``; ``C``,
    ``min_df``, ``max_features`` default to :data:`TEXT_C`, :data:`MIN_DF`,
    :data:`MAX_FEATURES`.

    ``None`` when there are too few rows, positives, negatives or frequent tokens.
    """
    from sklearn.linear_model import LogisticRegression

    C = TEXT_C if C is None else C
    min_df = MIN_DF if min_df is None else min_df
    max_features = MAX_FEATURES if max_features is None else max_features
    y = np.asarray(y, dtype=int)
    rows = np.asarray(rows)
    if len(rows) < MIN_ROWS or min(y.sum(), len(y) - y.sum()) < MIN_POSITIVES:
        return None
    sub = counts.matrix[rows]
    df = np.asarray((sub > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero(df >= min_df)
    if len(keep) == 0:
        return None
    if len(keep) > max_features:
        # the most frequent, ties by first appearance
        keep = np.sort(keep[np.argsort(-df[keep], kind="stable")[:max_features]])
    vocabulary = {counts.tokens[j]: k for k, j in enumerate(keep)}
    n = len(rows)
    idf = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0
    component = TextComponent(vocabulary, idf, np.zeros(len(keep)), 0.0)
    component.columns = keep  # its columns in ``counts`` (not saved)
    X = component.transform(sub[:, keep])
    lr = LogisticRegression(
        C=C, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=seed
    )
    lr.fit(X, y)
    component.coef = lr.coef_.ravel().astype(float)
    component.intercept = float(lr.intercept_[0])
    component.params = {"C": C, "min_df": min_df, "max_features": max_features, "rows": n}
    return component


def margins_for(component: TextComponent | None, counts: TokenCounts, rows: np.ndarray):
    """Margins for the rows ``rows`` of ``counts``, by a component :func:`fit_text` fitted on
    the same ``counts`` (NaN without a component)."""
    rows = np.asarray(rows)
    if component is None:
        return np.full(len(rows), np.nan)
    return component.margin_of_counts(counts.matrix[rows][:, component.columns])


def out_of_fold_margins(
    counts: TokenCounts, rows: np.ndarray, y: np.ndarray, seed: int = 0, blocks: int | None = None
) -> np.ndarray:
    """Margins for the (time-ordered) training rows ``rows``, each from a component fitted on
    the rows before its block only: consecutive blocks, the first one NaN."""
    rows = np.asarray(rows)
    y = np.asarray(y, dtype=int)
    blocks = OOF_BLOCKS if blocks is None else blocks
    out = np.full(len(rows), np.nan)
    edges = np.linspace(0, len(rows), blocks + 1).astype(int)
    for k in range(1, blocks):
        start, end = edges[k], edges[k + 1]
        component = fit_text(counts, rows[:start], y[:start], seed)
        if component is not None and end > start:
            out[start:end] = margins_for(component, counts, rows[start:end])
    return out
