"""The nearest-state index over the corpus (scipy's sparse matrices; the extra ``learn``).

Built once per corpus generation (``alphaquant learn`` does it at its end): every step's
features (features.py) hashed (CRC-32) into 2^20 columns of raw counts (the hashing trick: no
vocabulary to store or load), saved beside the corpus as one ``.npz`` holding the matrix column
by column (CSC) with the step and file id of each row.

Loading leaves out the rows of excluded files and weighs the rest by TF-IDF computed on the
kept rows only (an excluded file leaks nothing, not even its symbols' frequencies): sublinear
tf, smoothed idf, rows scaled to unit length, the formulas of scikit-learn's
``TfidfTransformer(sublinear_tf=True)``. A query is the cosine of the state's weighted features
with every row: the columns of its features, sliced out of the CSC matrix, times its weights.

Decision (measured on the standard library's 40,000 steps, a loaded machine): scikit-learn was
the first choice (``HashingVectorizer``, ``TfidfTransformer``, ``NearestNeighbors(metric=
"cosine")``), but importing it took 1 to 2.4 s, ``TfidfTransformer.fit_transform`` 2 s at load,
and ``NearestNeighbors`` 0.3 s per query (it validates and converts the whole matrix each
time). The same numbers by numpy over the stored CSC arrays load in about half a second and
answer in about a millisecond; the search asks at every state, so the query must be that
cheap. scipy builds the matrix (``alphaquant learn``, extra ``learn``); a search loads and
queries it with numpy alone.
"""

from __future__ import annotations

import functools
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alphaquant.provers.base import RecordedStep
from alphaquant.tactics.learned.corpus import Corpus, excluded
from alphaquant.tactics.learned.features import features

log = logging.getLogger(__name__)

N_FEATURES = 1 << 20
FORMAT = 4  # of the saved index: one built by another format is built again


def available() -> str | None:
    """None when scipy imports, else why not (for `doctor`)."""
    try:
        import scipy.sparse  # noqa: F401
    except ImportError as e:
        return f"{e} (pip install 'alphaquant[learn]')"
    return None


def hashed_columns(doc: list[str]) -> np.ndarray:
    """The column of each feature (CRC-32 of its text, modulo ``N_FEATURES``)."""
    return np.array([zlib.crc32(f.encode("utf-8")) & (N_FEATURES - 1) for f in doc],
                    dtype=np.int64)


def _counts(rows: list[np.ndarray]) -> Any:
    """Raw counts of each row's hashed features, as a CSC matrix of ``N_FEATURES`` columns."""
    import scipy.sparse as sp

    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    matrix = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                           shape=(len(rows), N_FEATURES))
    matrix.sum_duplicates()
    out = sp.csc_matrix(matrix, dtype=np.float32)
    out.sort_indices()
    return out


def index_path(corpus: Corpus) -> Path:
    return corpus.path.with_suffix(".index.npz")


def build_index(corpus: Corpus) -> Path | None:
    """Hash every step of ``corpus`` and save the matrix; None without scipy."""
    if available() is not None:
        return None
    generation = corpus.generation
    ids: list[int] = []
    files: list[int] = []
    rows: list[np.ndarray] = []  # each step's hashed columns (not its feature strings)
    for sid, fid, hyps, concl in corpus.all_steps():
        ids.append(sid)
        files.append(fid)
        rows.append(hashed_columns(features(hyps, concl)).astype(np.int32))
    matrix = _counts(rows)
    path = index_path(corpus)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, data=matrix.data, indices=matrix.indices, indptr=matrix.indptr,
             shape=np.array(matrix.shape), ids=np.array(ids, dtype=np.int64),
             files=np.array(files, dtype=np.int64), generation=np.array([generation]),
             format=np.array([FORMAT]))
    tmp.replace(path)
    return path


# One neighbour: how similar, and the step recorded there.
@dataclass(frozen=True)
class Neighbour:
    similarity: float
    key: str  # the file it was recorded in
    step: RecordedStep


class LearnedIndex:
    """The index loaded for queries, with some files' rows left out."""

    def __init__(self, corpus: Corpus, exclude: tuple[str, ...] = ()) -> None:
        self.corpus = corpus
        path = index_path(corpus)
        if not index_current(corpus):
            build_index(corpus)
        with np.load(path) as z:
            data, rows, indptr = z["data"], z["indices"], z["indptr"]
            n_rows, n_cols = (int(x) for x in z["shape"])
            self.ids, files = z["ids"], z["files"]
        left_out = {row.id for row in corpus.files().values() if excluded(row.key, exclude)}
        keep = ~np.isin(files, np.fromiter(left_out, dtype=np.int64, count=len(left_out)))
        self.excluded_files = frozenset(left_out)
        self.size = int(keep.sum())
        entry_kept = keep[rows]
        cols = np.repeat(np.arange(n_cols, dtype=np.int32), np.diff(indptr))
        df = np.bincount(cols[entry_kept], minlength=n_cols).astype(np.float32)
        self._idf = (np.log((1 + self.size) / (1 + df)) + 1).astype(np.float32)
        weighted = np.where(entry_kept, (1 + np.log(data)) * self._idf[cols], 0).astype(
            np.float32)
        norms = np.sqrt(np.bincount(rows, weights=weighted * weighted, minlength=n_rows))
        norms[norms == 0] = 1
        weighted /= norms[rows].astype(np.float32)
        self._rows, self._weights, self._indptr, self._n_rows = rows, weighted, indptr, n_rows

    def _scores(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Each row's dot product with a query of these columns and weights."""
        starts, ends = self._indptr[columns], self._indptr[columns + 1]
        lens = ends - starts
        if not lens.sum():
            return np.zeros(self._n_rows, dtype=np.float32)
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
        entries = offsets + np.arange(lens.sum())
        return np.bincount(self._rows[entries],
                           weights=self._weights[entries] * np.repeat(weights, lens),
                           minlength=self._n_rows)

    def nearest(self, hypotheses: tuple[str, ...], conclusion: str,
                k: int) -> list[Neighbour]:
        """The ``k`` recorded states most similar to this one, most similar first."""
        return list(self._nearest(hypotheses, conclusion, k))

    @functools.lru_cache(maxsize=1 << 12)  # noqa: B019 - one index per process, kept for its life
    def _nearest(self, hypotheses: tuple[str, ...], conclusion: str,
                 k: int) -> tuple[Neighbour, ...]:
        if not self.size or k <= 0:
            return ()
        columns, counts = np.unique(hashed_columns(features(hypotheses, conclusion)),
                                    return_counts=True)
        if not len(columns):
            return ()
        weights = (1 + np.log(counts)) * self._idf[columns]
        weights /= np.linalg.norm(weights)
        scores = self._scores(columns, weights)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]  # most similar first; ties by row
        found = [(float(scores[r]), int(self.ids[r])) for r in top if scores[r] > 0]
        steps = self.corpus.steps(sid for _, sid in found)
        return tuple(Neighbour(round(sim, 6), *steps[sid]) for sim, sid in found if sid in steps)


def index_current(corpus: Corpus) -> bool:
    """Whether the saved index was built from the corpus as it is."""
    path = index_path(corpus)
    return path.is_file() and _generation(path) == corpus.generation


def _generation(path: Path) -> int:
    try:
        with np.load(path) as z:
            if "format" not in z or int(z["format"][0]) != FORMAT:
                return -1
            return int(z["generation"][0])
    except (OSError, KeyError, ValueError):
        return -1


@functools.lru_cache(maxsize=4)
def load_index(path: Path, exclude: tuple[str, ...]) -> LearnedIndex | None:
    """The index of the corpus at ``path``, loaded once per process and exclusion; None when
    there is no corpus there or scipy is missing."""
    if available() is not None or not path.is_file():
        return None
    return LearnedIndex(Corpus(path), exclude)

