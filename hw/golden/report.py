"""Error of a golden (or RTL) result against a float64 reference."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["ErrorReport", "error_report"]


@dataclasses.dataclass(frozen=True)
class ErrorReport:
    """``max_abs``: max |x - ref|; ``max_rel``: max |x - ref| / max |ref| (normwise, so tiny
    reference entries do not dominate); ``sqnr_db``: 10·log10(Σ ref² / Σ (x - ref)²), ``inf`` when
    exact."""

    max_abs: float
    max_rel: float
    sqnr_db: float

    def as_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        return f"max_abs={self.max_abs:.3g} max_rel={self.max_rel:.3g} sqnr={self.sqnr_db:.1f} dB"


def error_report(x, ref):
    x = np.asarray(x)
    ref = np.asarray(ref)
    if x.shape != ref.shape:
        raise ValueError(f"error_report: shapes differ: {x.shape} vs {ref.shape}")
    x = x.astype(np.complex128 if np.iscomplexobj(x) or np.iscomplexobj(ref) else np.float64)
    ref = ref.astype(x.dtype)
    if not np.all(np.isfinite(x)):
        return ErrorReport(math.inf, math.inf, -math.inf)
    err = np.abs(x - ref)
    max_abs = float(err.max()) if err.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    max_rel = max_abs / scale if scale else (0.0 if max_abs == 0 else math.inf)
    noise = float(np.sum(err ** 2))
    signal = float(np.sum(np.abs(ref) ** 2))
    sqnr = math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal else -math.inf)
    return ErrorReport(max_abs, max_rel, sqnr)
