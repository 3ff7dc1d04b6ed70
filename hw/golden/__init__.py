"""Golden numpy kernels, bit-exact to the fabric's arithmetic and evaluation order.

``hw.golden.kernels`` — the bit-exact models (public API re-exported here);
``hw.golden.order`` — the PCU's reduction and scan orders;
``hw.golden.reference`` — independent float64 references;
``hw.golden.report`` — error reports (max abs / rel error, SQNR).
"""

from . import reference
from .kernels import *  # noqa: F401,F403
from .kernels import __all__ as _kernels_all
from .order import reduce_add, reduce_max, scan_add, scan_pairs
from .report import ErrorReport, error_report

__all__ = list(_kernels_all) + ["reference", "reduce_add", "reduce_max", "scan_add", "scan_pairs",
                                "ErrorReport", "error_report"]
