"""How ``check`` compares an answer with the expected value, and what it tells the student when they differ.

``compare(expected, got, rtol, atol, where, reveal=True, offsets=None)`` raises ``Mismatch`` with a
student-facing sentence naming the first difference: wrong type or shape, NaN/inf entries, values outside
``atol + rtol |expected|``, and a float32/float16 answer to a float64 exercise named as such. It never
changes what passes: a lower-precision answer within the tolerance passes.

With ``reveal=True`` a wrong number is shown as "expected E, got G" (more digits and the distance in
tolerances when they print alike). With ``reveal=False`` the expected value is never printed: ``diagnose``
says what is wrong instead — a miss by little more than the tolerance (and by how much), the wrong sign, a
factor (2, 1/2, 10, 1/10), a named additive offset (``offsets={"log K": 1.609}``), or how far off in
relative terms and in which direction.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


class Mismatch(Exception):
    """Raised by the comparison helpers with a student-facing description."""


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter")


def _is_data(value: Any) -> bool:
    return _is_tensor(value) or isinstance(value, np.ndarray)


def _to_numpy(value: Any) -> np.ndarray:
    if not _is_tensor(value):
        return np.asarray(value)
    tensor = value.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16 and other dtypes NumPy lacks
        return tensor.double().numpy()


def fmt(value: Any) -> str:
    """A short, rounded rendering (6 significant digits) for messages."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    if _is_data(value):
        arr = _to_numpy(value)
        return fmt(arr.reshape(()).item()) if arr.size == 1 else f"{type(value).__name__} of shape {tuple(arr.shape)}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__.split('.')[0]}.{kind.__name__}"


def _float_dtype(value: Any) -> str | None:
    """'float64', 'float32', ... of a tensor, array or NumPy scalar ('float64' for a Python float), else None."""
    if _is_tensor(value):
        return str(value.dtype).removeprefix("torch.")
    if isinstance(value, (np.ndarray, np.generic)):
        return str(value.dtype)
    return "float64" if isinstance(value, float) else None


def _precision_note(expected: Any, got: Any) -> str:
    """Names a lower-precision float answer to a float64 exercise; '' otherwise."""
    have = _float_dtype(got)
    if _float_dtype(expected) != "float64" or have not in ("float32", "float16", "bfloat16"):
        return ""
    want = "tensor" if _is_tensor(expected) else "array" if isinstance(expected, np.ndarray) else "number"
    kind = "tensor" if _is_tensor(got) else "array" if isinstance(got, np.ndarray) else "number"
    advice = ".double()" if _is_tensor(got) else ".astype(np.float64)"
    return (f"expected a float64 {want}, got {have if kind == want else f'a {have} {kind}'} — "
            f"compute in float64 (e.g. {advice})")


def _expected_got(expected: float, got: float, rtol: float, atol: float) -> str:
    """'expected E, got G', with more digits and the distance in tolerances when 6 digits look alike."""
    shown = (fmt(expected), fmt(got))
    if shown[0] != shown[1] or not (math.isfinite(expected) and math.isfinite(got)):
        return f"expected {shown[0]}, got {shown[1]}"
    for digits in (8, 10, 12, 14, 17):
        shown = (f"{expected:.{digits}g}", f"{got:.{digits}g}")
        if shown[0] != shown[1]:
            break
    diff, tol = abs(got - expected), atol + rtol * abs(expected)
    scale = f"{diff / tol:.3g} times the tolerance {tol:.2g}" if tol > 0 else "the tolerance is 0"
    return f"expected {shown[0]}, got {shown[1]} (they differ by {diff:.2g}, {scale})"


_FACTORS = ((2.0, "2"), (0.5, "1/2"), (10.0, "10"), (0.1, "1/10"), (4.0, "4"), (0.25, "1/4"))


def diagnose(expected: float, got: float, rtol: float, atol: float,
             offsets: dict[str, float] | None = None) -> str:
    """What is wrong with the number ``got`` (finite, outside the tolerance), without stating ``expected``."""
    tol, diff = atol + rtol * abs(expected), got - expected
    if abs(diff) <= 3 * tol:
        return (f"is just outside the tolerance: it misses by {abs(diff):.2g}, {abs(diff) / tol:.3g} times the "
                f"allowed {tol:.2g} — compute in float64 and do not round")

    def near(target: float) -> bool:  # within the tolerance, and never looser than 0.1% of the target
        return abs(got - target) <= min(10 * tol, 1e-3 * abs(target)) + 1e-300

    if expected != 0 and near(-expected):
        return "has the wrong sign (its size is right)"
    for name, offset in (offsets or {}).items():
        for sign, word in ((1.0, "too large"), (-1.0, "too small")):
            if abs(diff - sign * offset) <= min(10 * tol, 1e-3 * abs(offset)) + 1e-300:
                return f"is {word} by exactly {name} (= {offset:.4g})"
    for factor, label in _FACTORS:
        if near(factor * expected):
            return f"is {label} times the right value: a factor is missing or doubled"
    if expected == 0:
        return f"should be 0 (within {atol:g}); it is {'positive' if got > 0 else 'negative'}"
    if got == 0:
        return "is 0, but the right value is not"
    if (got > 0) != (expected > 0):
        return "has the wrong sign, and its size is off too"
    rel = abs(diff) / abs(expected)
    size = (f"about {100 * rel:.0f}%" if 0.01 <= rel < 1 else f"a relative {rel:.1e}" if rel < 0.01
            else f"about {rel:.2g} times the right value's size")
    allowed = f"{rtol:.0e} relative" if rtol > 0 else f"{atol:.2g}"
    return f"is {'too large' if diff > 0 else 'too small'}: off by {size} (allowed: {allowed})"


def compare(expected: Any, got: Any, rtol: float, atol: float, where: str, reveal: bool = True,
            offsets: dict[str, float] | None = None) -> None:
    """Raise ``Mismatch`` describing the first difference between ``got`` and ``expected``.

    ``reveal=False``: the message never contains the expected value (see ``diagnose``)."""
    opts = (rtol, atol, reveal, offsets)
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            raise Mismatch(f"{where} should be True or False, got {type_name(got)} {fmt(got)}.")
        if bool(got) != bool(expected):
            raise Mismatch(f"{where}: expected {bool(expected)}, got {bool(got)}." if reveal
                           else f"{where} is {bool(got)}, which is not right: reconsider the reasoning.")
    elif isinstance(expected, str):
        if not isinstance(got, str):
            raise Mismatch(f"{where} should be a str, got {type_name(got)}.")
        if got.strip().lower() != expected.strip().lower():
            raise Mismatch(f"{where}: got {got!r}, which is not the right answer"
                           + (f" (expected {expected!r})." if reveal else "."))
    elif isinstance(expected, numbers.Real):
        _compare_number(expected, got, where, *opts)
    elif _is_data(expected) and _to_numpy(expected).ndim == 0 and not _is_data(got):
        _compare_number(expected, got, where, *opts)  # a 0-d tensor accepts a float
    elif _is_data(expected):
        _compare_array(expected, got, where, *opts)
    elif isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise Mismatch(f"{where} should be a {type(expected).__name__} of length {len(expected)}, "
                           f"got {type_name(got)} {fmt(got)}.")
        for i, (e, g) in enumerate(zip(expected, got)):
            compare(e, g, rtol, atol, f"{where}[{i}]", reveal, offsets)
    elif isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            raise Mismatch(f"{where} should be a dict with keys {sorted(map(str, expected))}, got {fmt(got)}.")
        for key in expected:
            compare(expected[key], got[key], rtol, atol, f"{where}[{key!r}]", reveal, offsets)
    elif _is_data(got) or got != expected:
        raise Mismatch(f"{where}: expected {fmt(expected)}, got {fmt(got)}." if reveal
                       else f"{where} ({fmt(got)}) is not the right answer.")


def _number_message(expected: float, got: float, rtol: float, atol: float, reveal: bool,
                    offsets: dict[str, float] | None) -> str:
    return _expected_got(expected, got, rtol, atol) if reveal else diagnose(expected, got, rtol, atol, offsets)


_NAN = ("0·∞, ∞ − ∞, 0/0 or 0 · log 0 happened somewhere (e.g. a probability of 0 times its log): find where "
        "and treat that case explicitly")
_INF = ("an exp overflowed or a log got 0 somewhere; subtract the maximum before exponentiating, or work with "
        "logs throughout")


def _compare_number(expected: Any, got: Any, where: str, rtol: float, atol: float, reveal: bool = True,
                    offsets: dict[str, float] | None = None) -> None:
    note = _precision_note(expected, got)
    expected = float(_to_numpy(expected)) if _is_data(expected) else float(expected)
    if _is_data(got):
        arr = _to_numpy(got)
        if arr.size != 1:
            raise Mismatch(f"{where} should be a single number, got an array of shape {tuple(arr.shape)}: "
                           "reduce it (sum/mean over the right dimension) or pick the entry asked for.")
        got = arr.reshape(()).item()
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Real):
        raise Mismatch(f"{where} should be a number, got {type_name(got)} {fmt(got)}.")
    value = float(got)
    if not math.isfinite(value) and math.isfinite(expected):
        raise Mismatch(f"{where} is {value}" + (f" (expected {fmt(expected)})" if reveal else "")
                       + f": {_NAN if math.isnan(value) else _INF}" + (f"; {note}." if note else "."))
    if not (value == expected or (math.isfinite(expected) and abs(value - expected) <= atol + rtol * abs(expected))):
        message = _number_message(expected, value, rtol, atol, reveal or not math.isfinite(expected), offsets)
        raise Mismatch(f"{where}{': ' if reveal or note or not math.isfinite(expected) else ' '}"
                       f"{note + '; ' if note else ''}{message}.")


def _compare_array(expected: Any, got: Any, where: str, rtol: float, atol: float, reveal: bool = True,
                   offsets: dict[str, float] | None = None) -> None:
    kind = "torch.Tensor" if _is_tensor(expected) else "numpy.ndarray"
    if _is_tensor(expected) != _is_tensor(got) or not _is_data(got):
        advice = "torch.as_tensor(...)" if _is_tensor(expected) else "numpy.asarray(...)"
        raise Mismatch(f"{where} should be a {kind}, got {type_name(got)}: convert it with {advice}.")
    exp, arr = _to_numpy(expected).astype(np.float64), _to_numpy(got)
    if arr.shape != exp.shape:
        raise Mismatch(f"{where} has shape {tuple(arr.shape)}, expected {tuple(exp.shape)}: check which dim "
                       "you reduce over (and keepdim), and reshape or transpose if the axes are swapped.")
    if arr.dtype.kind not in "biuf":
        raise Mismatch(f"{where} has dtype {arr.dtype}; expected real numbers.")
    if arr.ndim == 0:  # a 0-d tensor reads best as a number
        _compare_number(expected, got, where, rtol, atol, reveal, offsets)
        return
    arr, note = arr.astype(np.float64), _precision_note(expected, got)
    finite = np.isfinite(exp)
    bad = finite & ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise Mismatch(f"{where} has {int(bad.sum())} NaN/inf entries of {arr.size} (first at index {first}, "
                       f"{arr[first]}): {_NAN if np.isnan(arr[first]) else _INF}" + (f"; {note}." if note else "."))
    safe = np.where(finite, exp, 0.0)
    wrong = (~finite & (arr != exp)) | (finite & (np.abs(arr - safe) > atol + rtol * np.abs(safe)))
    if wrong.any():
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        if reveal or not finite[index]:
            detail = f"at index {index} " + _expected_got(float(exp[index]), float(arr[index]), rtol, atol)
        else:
            detail = f"the entry at index {index} " + diagnose(float(exp[index]), float(arr[index]), rtol, atol,
                                                               offsets)
        raise Mismatch(f"{where}: {note + '; ' if note else ''}{int(wrong.sum())} of {arr.size} entries differ; "
                       f"{detail}.")
