"""NumPy's random streams in compiled code: a draw's ``numpy.random.Generator`` advanced in place.

The compiled window takes each draw's generator as the address of its bit generator's C struct
(``bitgen_t``: the state and the ``next_uint64`` / ``next_uint32`` / ``next_double`` functions;
:func:`address`) and calls those functions, as numba's own ``Generator`` support does. The
distributions on top are NumPy's (``numpy/random/src/distributions/distributions.c``): the
ziggurat exponential and Lemire's bounded integers, operation for operation, so a compiled draw
takes the same numbers from the same generator as ``Generator.random``, ``exponential`` and
``integers`` would, and leaves the generator in the same state (``tests/sim/test_compiled.py``
checks it against NumPy on many states). One generator must not be used by two threads at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.core.extending import intrinsic
from numba.np.random._constants import fe_double, ke_double, we_double, ziggurat_exp_r

__all__ = ["address", "bounded", "kind", "next_double", "standard_exponential", "uniform"]

_M32 = uint64(0xFFFFFFFF)


def address(rng: np.random.Generator) -> int:
    """The address of ``rng``'s bit generator struct (valid while ``rng`` lives)."""
    return int(rng.bit_generator.ctypes.bit_generator.value)


def _binding(slot: int, ret: Any) -> Any:
    """A compiled call of the bit generator's function at ``slot`` of its struct (``bitgen_t``:
    state, next_uint64, next_uint32, next_double) on its state."""

    @intrinsic
    def call(typingctx: Any, bitgen: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            void = ir.IntType(8).as_pointer()
            table = builder.inttoptr(args[0], void.as_pointer())
            state = builder.load(builder.gep(table, [ir.Constant(ir.IntType(32), 0)]))
            fnty = ir.FunctionType(context.get_value_type(ret), [void])
            slot_ptr = builder.gep(table, [ir.Constant(ir.IntType(32), slot)])
            fn = builder.bitcast(builder.load(slot_ptr), fnty.as_pointer())
            return builder.call(fn, [state])

        return ret(types.uintp), codegen

    return call


next_uint64 = _binding(1, types.uint64)
next_uint32 = _binding(2, types.uint32)
_next_double = _binding(3, types.float64)
_PCG64 = 0  # the kinds of bit generator of uniform()


def kind(rng: np.random.Generator) -> int:
    """How :func:`uniform` draws from ``rng``: 0 for PCG64 (NumPy's default), whose doubles are
    its 64-bit draws' top 53 bits (``pcg64_next_double``), taken here without the call; 1 for any
    other bit generator (its own ``next_double``)."""
    return _PCG64 if type(rng.bit_generator) is np.random.PCG64 else 1


@njit(cache=True, nogil=True, inline="always")
def uniform(bitgen: int, kind: int) -> float:
    """``Generator.random()`` (a double in [0, 1)) from a bit generator of :func:`kind`."""
    if kind == _PCG64:
        return float(next_uint64(bitgen) >> uint64(11)) * (1.0 / 9007199254740992.0)
    return _next_double(bitgen)


@njit(cache=True, nogil=True)
def next_double(bitgen: int) -> float:
    """``Generator.random()`` through the bit generator's own function."""
    return _next_double(bitgen)


@njit(cache=True, nogil=True)
def standard_exponential(bitgen: int) -> float:
    """``Generator.standard_exponential()``: NumPy's ziggurat (``random_standard_exponential``)."""
    while True:
        ri = next_uint64(bitgen)
        ri >>= uint64(3)
        idx = ri & uint64(0xFF)
        ri >>= uint64(8)
        x = ri * we_double[idx]
        if ri < ke_double[idx]:
            return x  # 98.9 % of the draws
        if idx == 0:
            return ziggurat_exp_r - np.log1p(-next_double(bitgen))
        if (fe_double[idx - 1] - fe_double[idx]) * next_double(bitgen) + fe_double[idx] < np.exp(
            -x
        ):
            return x


@njit(cache=True, nogil=True)
def bounded(bitgen: int, high: int) -> int:
    """``Generator.integers(0, high)`` for ``1 < high <= 2**32``: NumPy's Lemire rejection on
    32-bit draws (``buffered_bounded_lemire_uint32``)."""
    excl = uint64(high)
    m = uint64(next_uint32(bitgen)) * excl
    leftover = m & _M32
    if leftover < excl:
        threshold = (_M32 - uint64(high - 1)) % excl
        while leftover < threshold:
            m = uint64(next_uint32(bitgen)) * excl
            leftover = m & _M32
    return np.int64(m >> uint64(32))
