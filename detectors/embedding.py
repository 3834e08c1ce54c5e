"""Embedding drift: a model's named vectors, their reference, their current windows and verdicts.

`EmbeddingReference.fit()` fits once per reference what every evaluation reuses: the Gaussian
kernel's random features (bandwidth by the median heuristic on the reference) and the reference's
features, the reference's principal components and its sorted projections on them, a 2-D
projection for the UI. `EmbeddingWindow` is a ring of the last `capacity` vectors (bounded
memory: capacity x dim float32). `EmbeddingMonitor.evaluate()` runs the configured methods:

- `mmd`: squared maximum mean discrepancy through the random features, p-value by permutations;
- `pcs`: share of the reference's top principal components whose KS test rejects (BH-corrected);
- `classifier`: a domain classifier's cross-validated AUROC on the top components (opt-in: costs more).

>>> rng = np.random.default_rng(3)
>>> spec = EmbeddingSpec(dim=32, window=1000)
>>> monitor = EmbeddingMonitor({"query": spec})
>>> reference = {"query": rng.normal(size=(2000, 32))}
>>> monitor.update({"query": rng.normal(size=(1000, 32))})
>>> [(d.method, d.drifted) for d in monitor.evaluate(reference)]
[('mmd', False), ('pcs', False)]
>>> monitor.update({"query": rng.normal(size=(1000, 32)) + 0.3})
>>> [(d.method, d.drifted) for d in monitor.evaluate(reference)]
[('mmd', True), ('pcs', True)]
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from driftwarden.core import alert_names
from driftwarden.core.arrays import Float32Array
from driftwarden.detectors.embedding_stats import (
    RandomFeatures,
    classifier_auroc,
    mmd_permutation,
    pc_ks,
    permutation_weights,
)
from driftwarden.detectors.findings import Finding, FindingKind, Severity
from driftwarden.params import EmbeddingSpec

__all__ = [
    "EMBEDDING_METHODS",
    "MAX_DIM",
    "EmbeddingDrift",
    "EmbeddingDriftFinding",
    "EmbeddingMonitor",
    "EmbeddingReference",
    "EmbeddingWindow",
    "embedding_findings",
]

EMBEDDING_METHODS = ("mmd", "pcs", "classifier")
MAX_DIM = 4096
_CHECKPOINT = struct.Struct("<4sHqqq")  # EmbeddingWindow.to_bytes' header: magic, version, total, rows, dim
_MAGIC = b"DWEW"
REFERENCE_ROWS = 5000  # reference vectors kept per embedding (a uniform sample)
PROJECTION_POINTS = 300  # points of each side drawn in the UI's 2-D projection


@dataclass(frozen=True)
class EmbeddingDrift:
    embedding: str
    method: str
    score: float  # mmd: MMD^2; pcs: share of components drifted; classifier: AUROC
    threshold: float
    pvalue: float | None
    drifted: bool
    rows: dict[str, int]
    projection: dict[str, list[list[float]]] | None = None  # {"reference": [[x, y]...], "current": [...]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedding": self.embedding,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "pvalue": self.pvalue,
            "drifted": self.drifted,
            "rows": self.rows,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class EmbeddingDriftFinding(Finding):
    """One of a model's embeddings drifted by at least one method: `value` its first drifted method's score."""

    kind: ClassVar[FindingKind] = FindingKind.DRIFT
    alertname: ClassVar[str] = alert_names.MODEL_EMBEDDING_DRIFT
    model: str
    embedding: str
    methods: tuple[EmbeddingDrift, ...] = ()  # every method's verdict on this embedding
    model_version: str | None = None

    @property
    def subject(self) -> str:
        return self.embedding

    @property
    def evidence(self) -> Mapping[str, Any]:
        return MappingProxyType(
            {
                "embedding": self.embedding,
                "drifted_methods": [d.method for d in self.methods if d.drifted],
                "methods": [d.to_dict() for d in self.methods],
                "model_version": self.model_version,
            }
        )


def embedding_findings(
    model: str, results: tuple[EmbeddingDrift, ...], *, model_version: str | None, at: float
) -> list[Finding]:
    """A finding per embedding that drifted by any of its methods."""
    out: list[Finding] = []
    for name in dict.fromkeys(d.embedding for d in results):
        methods = tuple(d for d in results if d.embedding == name)
        first = next((d for d in methods if d.drifted), None)
        if first is None:
            continue
        out.append(
            EmbeddingDriftFinding(
                model=model,
                embedding=name,
                severity=Severity.WARNING,
                value=first.score,
                threshold=first.threshold,
                labels={"embedding": name},
                methods=methods,
                model_version=model_version,
                at=at,
            )
        )
    return out


@dataclass(frozen=True)
class EmbeddingReference:
    vectors: Float32Array  # (rows, dim) float32, at most REFERENCE_ROWS
    features: RandomFeatures
    reference_features: Float32Array  # (rows, D)
    mean: Float32Array  # (dim,)
    components: Float32Array  # (dim, k) principal axes of the reference
    sorted_projections: Float32Array  # (rows, k) the held-out half of the reference on them, sorted per column

    @classmethod
    def fit(cls, vectors: npt.ArrayLike, spec: EmbeddingSpec, *, seed: int = 0) -> EmbeddingReference:
        ref = np.asarray(vectors, dtype=np.float32)
        if len(ref) > REFERENCE_ROWS:
            ref = ref[np.sort(np.random.default_rng(seed).choice(len(ref), REFERENCE_ROWS, replace=False))]
        features = RandomFeatures.fit(ref, dim=spec.features, seed=seed)
        # the components are fitted on one half and the other half is what the window is compared with: the
        # rows a PCA was fitted on spread more along its top components than any other sample does
        half = len(ref) // 2
        fit_rows, held_out = ref[: max(half, 2)], ref[half:]
        mean = fit_rows.mean(axis=0)
        k = max(2, min(spec.components, ref.shape[1], len(fit_rows) - 1))
        centred = fit_rows - mean
        _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending: the last columns explain the most
        components = np.ascontiguousarray(vectors[:, ::-1][:, :k], dtype=np.float32)
        projections = (held_out - mean) @ components
        return cls(ref, features, features.transform(ref), mean, components, np.sort(projections, axis=0))

    def project(self, vectors: Float32Array) -> Float32Array:
        return np.asarray((vectors - self.mean) @ self.components, dtype=np.float32)


class EmbeddingWindow:
    """The last `capacity` vectors of one embedding (a ring of float32 rows)."""

    def __init__(self, dim: int, capacity: int) -> None:
        self.dim = dim
        self.capacity = capacity
        self._data = np.empty((0, dim), dtype=np.float32)  # grows to capacity
        self._next = 0  # where the next row goes once full
        self.total_rows = 0

    @property
    def rows(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def append(self, vectors: npt.ArrayLike) -> None:
        rows = np.asarray(vectors, dtype=np.float32)
        self.total_rows += len(rows)  # every row sent, kept or not
        rows = rows[-self.capacity :]
        free = self.capacity - len(self._data)
        if free > 0:
            take = rows[:free]
            self._data = np.concatenate([self._data, take])
            rows = rows[free:]
        if len(rows):
            at = (self._next + np.arange(len(rows))) % self.capacity
            self._data[at] = rows
            self._next = int((self._next + len(rows)) % self.capacity)

    def snapshot(self) -> Float32Array:
        return self._data.copy()

    def clear(self) -> None:
        self._data = np.empty((0, self.dim), dtype=np.float32)
        self._next = 0

    def ordered(self) -> Float32Array:
        """The rows oldest first (a copy)."""
        return np.concatenate([self._data[self._next :], self._data[: self._next]])

    def to_bytes(self) -> bytes:
        """A checkpoint: magic, version, total rows, rows, dim (little-endian), then the rows oldest first as
        little-endian float32 (at most capacity x dim x 4 bytes)."""
        rows = self.ordered().astype("<f4", copy=False)
        return _CHECKPOINT.pack(_MAGIC, 1, self.total_rows, rows.shape[0], self.dim) + rows.tobytes()

    def restore(self, blob: bytes) -> None:
        """Rows from `to_bytes()` (the last `capacity` of them); ValueError when the blob is not one, or is one
        of another dimension (the embedding's `dim` changed: the rows would not compare)."""
        if len(blob) < _CHECKPOINT.size:
            raise ValueError(f"an embedding window checkpoint is at least {_CHECKPOINT.size} bytes, not {len(blob)}")
        magic, version, total, rows, dim = _CHECKPOINT.unpack_from(blob)
        if magic != _MAGIC or version != 1:
            raise ValueError("not an embedding window checkpoint (version 1)")
        if dim != self.dim:
            raise ValueError(f"saved with dim {dim}; the embedding's dim is {self.dim} now")
        if len(blob) != _CHECKPOINT.size + rows * dim * 4:
            raise ValueError(f"{rows} x {dim} float32 rows announced, {len(blob) - _CHECKPOINT.size} bytes found")
        data = np.frombuffer(blob, dtype="<f4", offset=_CHECKPOINT.size).reshape(rows, dim)
        self.clear()
        self.append(data)
        self.total_rows = max(int(total), self.rows)


@dataclass
class _Fitted:
    source: int  # id() of the reference vectors it was fitted on
    reference: EmbeddingReference
    # window rows -> (permutation weights, their reference columns times the reference's features)
    weights: dict[int, tuple[Float32Array, Float32Array]] = field(default_factory=dict)


class EmbeddingMonitor:
    """A model's embedding windows and the reference fitted for each; `update()` is cheap and may run
    while `evaluate()` runs in another thread."""

    def __init__(self, specs: Mapping[str, EmbeddingSpec]) -> None:
        self.specs = dict(specs)
        self.windows = {name: EmbeddingWindow(spec.dim, spec.window) for name, spec in self.specs.items()}
        self.results: tuple[EmbeddingDrift, ...] = ()
        self._fitted: dict[str, _Fitted] = {}
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(w.nbytes for w in self.windows.values())

    @property
    def total_rows(self) -> int:
        """Vectors appended over every window's life (a checkpoint is due when it moved)."""
        return sum(w.total_rows for w in self.windows.values())

    def checkpoint(self) -> dict[str, bytes]:
        """Each window with rows, as `EmbeddingWindow.to_bytes()` (copies taken under the lock)."""
        with self._lock:
            return {name: w.to_bytes() for name, w in self.windows.items() if w.rows}

    def restore(self, name: str, blob: bytes) -> None:
        """One window from its checkpoint; KeyError when the embedding is no longer configured, ValueError
        when the blob does not load (or was saved with another dim)."""
        window = self.windows.get(name)
        if window is None:
            raise KeyError(f"embedding {name!r} is not configured for this model now")
        with self._lock:
            window.restore(blob)

    def update(self, embeddings: Mapping[str, Float32Array]) -> None:
        """Append each named block of vectors (rows with NaN, sent without that embedding, are skipped)."""
        with self._lock:
            for name, vectors in embeddings.items():
                window = self.windows.get(name)
                if window is None:
                    continue
                present = ~np.isnan(vectors).any(axis=1)
                window.append(vectors if present.all() else vectors[present])

    def evaluate(self, reference: Mapping[str, Float32Array], *, seed: int = 0) -> tuple[EmbeddingDrift, ...]:
        """Each embedding with reference vectors and current rows, by each configured method."""
        out: list[EmbeddingDrift] = []
        for name, spec in self.specs.items():
            vectors = reference.get(name)
            if vectors is None or len(vectors) < 2:
                continue
            with self._lock:
                current = self.windows[name].snapshot()
            if len(current) < 2:
                continue
            fitted = self._fitted.get(name)
            if fitted is None or fitted.source != id(vectors):
                fitted = self._fitted[name] = _Fitted(id(vectors), EmbeddingReference.fit(vectors, spec, seed=seed))
            with _one_blas_thread():  # the evaluation has a thread of its own on a sidecar's shared cores
                out.extend(_judge(name, spec, fitted, current, seed))
        self.results = tuple(out)
        return self.results

    def projection(self, name: str) -> dict[str, list[list[float]]] | None:
        """Reference and current points on the reference's first two components (for the UI)."""
        fitted = self._fitted.get(name)
        window = self.windows.get(name)
        if fitted is None or window is None:
            return None
        with self._lock:
            current = window.snapshot()
        ref = fitted.reference
        rng = np.random.default_rng(0)
        ref_points = ref.vectors[rng.choice(len(ref.vectors), min(PROJECTION_POINTS, len(ref.vectors)), replace=False)]
        if len(current) > PROJECTION_POINTS:
            current = current[rng.choice(len(current), PROJECTION_POINTS, replace=False)]
        return {
            "reference": np.round(ref.project(ref_points)[:, :2], 4).tolist(),
            "current": np.round(ref.project(current)[:, :2], 4).tolist(),
        }


def _one_blas_thread() -> Any:
    """BLAS on one thread, as the multivariate PCA: on 2 shared cores its spinning threads cost more CPU
    than they save wall time."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _judge(name: str, spec: EmbeddingSpec, fitted: _Fitted, current: Float32Array, seed: int) -> list[EmbeddingDrift]:
    ref = fitted.reference
    rows = {"reference": len(ref.vectors), "current": len(current)}
    out = []
    if "mmd" in spec.methods:
        n, m = len(ref.vectors), len(current)
        cached = fitted.weights.get(m)
        if cached is None:
            fitted.weights.clear()  # one window size at a time: the full window's, once it has filled
            weights = permutation_weights(n, m, spec.permutations, seed=seed)
            cached = fitted.weights[m] = (weights, weights[:, :n] @ ref.reference_features)
        weights, reference_part = cached
        current_features = ref.features.transform(current)
        result = mmd_permutation(
            ref.reference_features, current_features, weights=weights, reference_part=reference_part
        )
        out.append(
            EmbeddingDrift(name, "mmd", result.mmd2, result.threshold, result.pvalue, result.pvalue < spec.alpha, rows)
        )
    projections: Float32Array | None = None
    if "pcs" in spec.methods:
        projections = ref.project(current)
        pcs = pc_ks(ref.sorted_projections, projections, alpha=spec.alpha)
        pvalue = float(pcs.pvalues.min()) if pcs.components else None
        out.append(EmbeddingDrift(name, "pcs", pcs.share, spec.pcs_share, pvalue, pcs.share >= spec.pcs_share, rows))
    if "classifier" in spec.methods:
        projections = ref.project(current) if projections is None else projections
        held_out = ref.project(ref.vectors[len(ref.vectors) // 2 :])
        auc, pvalue = classifier_auroc(held_out, projections, seed=seed)
        drifted = auc > spec.auroc and pvalue < spec.alpha
        out.append(EmbeddingDrift(name, "classifier", auc, spec.auroc, pvalue, drifted, rows))
    return out
