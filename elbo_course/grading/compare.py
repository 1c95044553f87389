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
    if not (math.isfinite(expected) and math.isfinite(got)):
        return f"expected {shown[0]}, got {shown[1]}"
    if shown[0] != shown[1]:
        return f"expected {shown[0]}, got {shown[1]} (allowed ±{atol + rtol * abs(expected):.2g})"
    for digits in (8, 10, 12, 14, 17):
        shown = (f"{expected:.{digits}g}", f"{got:.{digits}g}")
        if shown[0] != shown[1]:
            break
    diff, tol = abs(got - expected), atol + rtol * abs(expected)
    scale = f"{diff / tol:.3g} times the tolerance {tol:.2g}" if tol > 0 else "the tolerance is 0"
    return f"expected {shown[0]}, got {shown[1]} (they differ by {diff:.2g}, {scale})"


_FACTORS = ((2.0, "2"), (0.5, "1/2"), (10.0, "10"), (0.1, "1/10"), (4.0, "4"), (0.25, "1/4"))
_UNITS = ((1 / math.log(2), "in bits instead of nats (log base 2)"), (math.log(2), "in nats where bits were asked"),
          (1 / math.log(10), "in log base 10 instead of natural logs"))


def pattern(expected: float, got: float, rtol: float, atol: float,
            offsets: dict[str, float] | None = None) -> str | None:
    """A recognisable slip behind ``got``: the wrong sign, a named offset, a factor, another log base; or None.

    Each is matched within the exercise's tolerance (and never tighter than a relative 1e-6 of the target).
    """
    tol = atol + rtol * abs(expected)

    def near(target: float, scale: float) -> bool:
        return abs(got - target) <= max(tol, 1e-6 * abs(scale))

    if expected != 0 and near(-expected, expected):
        return "has the wrong sign (its size is right)"
    for name, offset in (offsets or {}).items():
        for sign, word in ((1.0, "too large"), (-1.0, "too small")):
            if near(expected + sign * offset, offset):
                return f"is {word} by exactly {name} (= {offset:.4g})"
    for factor, label in _FACTORS:
        if expected != 0 and near(factor * expected, factor * expected):
            return f"is {label} times the right value: a factor is missing or doubled"
    for factor, words in _UNITS:
        if expected != 0 and near(factor * expected, factor * expected):
            return f"looks like the right value {words}"
    return None


def diagnose(expected: float, got: float, rtol: float, atol: float,
             offsets: dict[str, float] | None = None) -> str:
    """What is wrong with the number ``got`` (finite, outside the tolerance), without stating ``expected``."""
    tol, diff = atol + rtol * abs(expected), got - expected
    allowed = f"{rtol:.0e} relative" if rtol > 0 else f"±{atol:.2g}"
    if abs(diff) <= 3 * tol:
        return (f"is just outside the tolerance: it misses by {abs(diff):.2g}, {abs(diff) / tol:.3g} times the "
                f"allowed {tol:.2g} — look for lost precision (float32, rounding) or a slightly different "
                "formula (a divisor N against N - 1, a grid or a sample size)")
    found = pattern(expected, got, rtol, atol, offsets)
    if found:
        return found
    if expected == 0:
        return f"should be 0 (within {atol:g}); it is {'positive' if got > 0 else 'negative'}"
    if got == 0:
        return "is 0, but the right value is not"
    if (got > 0) != (expected > 0):
        return "has the wrong sign, and its size is off too"
    ratio = abs(got) / abs(expected)
    if 0.99 <= ratio <= 1.01:
        return (f"is close: its size is off by a relative {abs(ratio - 1):.1e} (allowed: {allowed}); "
                f"it is {'further from' if ratio > 1 else 'closer to'} zero than the right value")
    if 2 / 3 <= ratio <= 1.5:
        return (f"is {'too large' if ratio > 1 else 'too small'} in size by about {100 * abs(ratio - 1):.0f}% "
                f"(allowed: {allowed})")
    if ratio > 1:
        return f"is about {ratio:.2g} times the right value in size (allowed: {allowed})"
    return f"is about 1/{1 / ratio:.2g} of the right value in size (allowed: {allowed})"


def compare(expected: Any, got: Any, rtol: float, atol: float, where: str, reveal: bool = True,
            offsets: dict[str, float] | None = None, choices: tuple[str, ...] = ()) -> None:
    """Raise ``Mismatch`` describing the first difference between ``got`` and ``expected``.

    ``reveal=False``: the message never contains the expected value (see ``diagnose``), and in a dict the
    True/False and text entries that are wrong are counted, not named (naming them would hand over the
    answer one rerun at a time). ``choices``: the options of a text answer, so a misspelling is told apart
    from a wrong choice."""
    opts = (rtol, atol, reveal, offsets)
    if isinstance(expected, (bool, np.bool_)):
        if _is_data(got) and _to_numpy(got).shape == () and _to_numpy(got).dtype == np.bool_:
            got = bool(_to_numpy(got))  # a 0-d bool tensor or array is a bool
        if not isinstance(got, (bool, np.bool_)):
            raise Mismatch(f"{where} should be True or False, got {type_name(got)} {fmt(got)}"
                           + (": convert it with bool(...)." if _is_data(got) else "."))
        if bool(got) != bool(expected):
            raise Mismatch(f"{where}: expected {bool(expected)}, got {bool(got)}." if reveal
                           else f"{where} is {bool(got)}, which is not right: reconsider the reasoning.")
    elif isinstance(expected, str):
        if not isinstance(got, str):
            raise Mismatch(f"{where} should be a str, got {type_name(got)}.")
        if got.strip().lower() != expected.strip().lower():
            options = f" ({', '.join(map(repr, choices))})" if choices else ""
            if choices and got.strip().lower() not in {c.strip().lower() for c in choices}:
                raise Mismatch(f"{where} is {got!r}, which is not one of the options{options}: check the spelling.")
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
            compare(e, g, rtol, atol, f"{where}[{i}]", reveal, offsets, choices)
    elif isinstance(expected, dict):
        if not isinstance(got, dict):
            raise Mismatch(f"{where} should be a dict with keys {sorted(map(str, expected))}, got {type_name(got)}.")
        missing, extra = sorted(map(str, set(expected) - set(got))), sorted(map(str, set(got) - set(expected)))
        if missing or extra:
            raise Mismatch(f"{where} should have exactly the keys {sorted(map(str, expected))}"
                           + (f"; missing: {missing}" if missing else "") + (f"; not asked for: {extra}" if extra else "")
                           + ".")
        hidden_wrong = []
        for key in expected:
            if not reveal and isinstance(expected[key], (bool, np.bool_, str)):
                try:
                    compare(expected[key], got[key], rtol, atol, f"{where}[{key!r}]", False, offsets, choices)
                except Mismatch as err:
                    if "not right" not in str(err) and "not the right answer" not in str(err):
                        raise  # a wrong type or spelling is said as such
                    hidden_wrong.append(key)
                continue
            compare(expected[key], got[key], rtol, atol, f"{where}[{key!r}]", reveal, offsets, choices)
        if hidden_wrong:
            choice_keys = [k for k in expected if isinstance(expected[k], (bool, np.bool_, str))]
            raise Mismatch(f"{where}: {len(hidden_wrong)} of the {len(choice_keys)} True/False or choice entries "
                           "are wrong (which ones is yours to find; reconsider each reason).")
    elif _is_data(got) or got != expected:
        raise Mismatch(f"{where}: expected {fmt(expected)}, got {fmt(got)}." if reveal
                       else f"{where} ({fmt(got)}) is not the right answer.")


def _number_message(expected: float, got: float, rtol: float, atol: float, reveal: bool,
                    offsets: dict[str, float] | None) -> str:
    if not reveal:
        return diagnose(expected, got, rtol, atol, offsets)
    found = pattern(expected, got, rtol, atol, offsets) if math.isfinite(expected) else None
    return _expected_got(expected, got, rtol, atol) + (f" — it {found}" if found else "")


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
                       + f": {_NAN if math.isnan(value) else _INF}.")
    if math.isfinite(expected) and abs(value - expected) > 1e-2 * abs(expected):
        note = ""  # a miss this large is not lower-precision rounding
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
            detail = f"at index {index} " + _number_message(float(exp[index]), float(arr[index]), rtol, atol,
                                                             True, offsets)
        else:
            detail = f"the entry at index {index} " + diagnose(float(exp[index]), float(arr[index]), rtol, atol,
                                                               offsets)
        raise Mismatch(f"{where}: {note + '; ' if note else ''}{int(wrong.sum())} of {arr.size} entries differ; "
                       f"{detail}.")
