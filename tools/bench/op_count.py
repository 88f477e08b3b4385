"""Operation counts: a CPU proxy of how many kernels a GPU would launch.

:func:`count_ops` runs a callable once under ``torch.profiler`` (after one untimed call, so that
caches are warm) and counts the ``aten::`` operations it records, nested calls included, views
and allocations left out (they launch no kernel). The absolute figure depends on the torch
version and the CPU backend a convolution takes (each ``conv1d`` records its dispatch chain),
so compare counts taken in one process. :func:`summary` adds the convolutions and the matrix
products (waveflow runs its 1x1 convolutions as batched matrix products).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from torch.profiler import ProfilerActivity, profile

VIEWS = frozenset(
    f"aten::{name}"
    for name in (
        "view", "_unsafe_view", "_reshape_alias", "reshape", "view_as", "alias", "as_strided",
        "slice", "select", "narrow", "unsqueeze", "squeeze", "unsqueeze_", "squeeze_",
        "permute", "transpose", "t", "mT", "expand", "expand_as", "chunk", "split",
        "split_with_sizes", "unbind", "unfold", "flatten", "contiguous", "detach", "diagonal",
        "lift_fresh", "resolve_conj", "resolve_neg", "_neg_view", "_conj",
    )
)  # fmt: skip
ALLOCATIONS = frozenset(
    f"aten::{name}"
    for name in ("empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
                 "resize_")
)  # fmt: skip


def count_ops(run: Callable[[], object]) -> Counter[str]:
    """``Counter`` of the ``aten::`` operations one call of ``run`` records (see the module doc),
    after one uncounted call; ``run`` sets its own grad mode."""
    run()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return Counter(
        event.name
        for event in prof.events()
        if event.name.startswith("aten::") and event.name not in VIEWS | ALLOCATIONS
    )


MATRIX_PRODUCTS = ("aten::mm", "aten::bmm", "aten::baddbmm", "aten::addmm")


def summary(counts: Counter[str]) -> dict[str, int]:
    """``{"ops": total, "convolutions": aten::convolution calls, "matrix_products": mm, bmm,
    baddbmm and addmm calls}`` (a 1x1 convolution may run as a matrix product)."""
    return {
        "ops": sum(counts.values()),
        "convolutions": counts["aten::convolution"],
        "matrix_products": sum(counts[name] for name in MATRIX_PRODUCTS),
    }
