"""Exercise specs of lesson 04 (``elbo_course.grading.specs.lesson04``) against the solution notebook: the right
answer passes ``check`` and every hidden ``verify``, each listed wrong answer fails both, the stars of the
prompt match the spec, hints and stub messages carry no code, and no expected value shows above its grade cell."""
from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from elbo_course.grading import PASSED, check, evaluate, get_spec, verify
from elbo_course.grading.specs import lesson04 as spec_module

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "04_iwae.ipynb"
EXERCISES = ("iwae_bound", "finite_variance_threshold", "iwae_gradient", "active_units", "qew_mass")
IDS = [f"04_iwae-{name}" for name in EXERCISES]


@pytest.fixture(scope="module")
def cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def _cell_index(cells, grade_id: str) -> int:
    return next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _answer_name(grade_source: str, exercise_id: str) -> str:
    return re.search(rf'check\("{exercise_id}",\s*(\w+)\)', grade_source).group(1)


def _hidden_block(grade_source: str) -> str:
    return grade_source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]


def _namespace(cells) -> dict:
    """What the solution cells may use: the setup cell's imports and the context cells, run here."""
    from elbo_course import np_rng, rng
    from elbo_course.toys.linear_gaussian import LinearGaussian

    ns = {"torch": torch, "math": math, "np": np, "rng": rng, "np_rng": np_rng, "LinearGaussian": LinearGaussian,
          "check": check, "verify": verify}
    for cell in cells:
        if "context" in cell.metadata.get("tags", []):
            exec(cell.source, ns)
    return ns


def _right_answer(cells, exercise_id: str):
    ns = _namespace(cells)
    grade_source = cells[_cell_index(cells, exercise_id + "-grade")].source
    exec(cells[_cell_index(cells, exercise_id)].source, ns)
    return ns[_answer_name(grade_source, exercise_id)]


def _run_hidden(cells, exercise_id: str, answer, each: bool = False) -> None:
    """Run the grade cell's hidden block with ``answer`` bound to the answer name. ``each``: run every verify
    call on its own (after the block's assignments) and require each one to raise AssertionError."""
    grade_source = cells[_cell_index(cells, exercise_id + "-grade")].source
    hidden = _hidden_block(grade_source)
    ns = {"torch": torch, "verify": verify, _answer_name(grade_source, exercise_id): answer}
    if not each:
        exec(hidden, ns)
        return
    statements = ast.parse(hidden).body
    calls = [st for st in statements if isinstance(st, ast.Expr) and getattr(st.value.func, "id", "") == "verify"]
    for st in statements:
        if st not in calls:
            exec(compile(ast.Module([st], []), "<hidden>", "exec"), ns)
    assert calls
    for call in calls:
        with pytest.raises(AssertionError):
            exec(compile(ast.Module([call], []), "<hidden>", "exec"), ns)


@pytest.mark.parametrize("exercise_id", IDS)
def test_right_answer_passes_check_and_hidden_tests(cells, exercise_id):
    answer = _right_answer(cells, exercise_id)
    assert evaluate(exercise_id, answer).status == PASSED
    _run_hidden(cells, exercise_id, answer)
    spec = get_spec(exercise_id)
    reference = spec.reference if spec.cases is not None else spec.expected_value()
    assert evaluate(exercise_id, reference).status == PASSED
    _run_hidden(cells, exercise_id, reference)


@pytest.mark.parametrize("exercise_id", IDS)
def test_wrong_answers_fail_check_and_hidden_tests(cells, exercise_id):
    spec = get_spec(exercise_id)
    assert 2 <= len(spec.wrong) <= 4
    for wrong in spec.wrong:
        result = evaluate(exercise_id, wrong)
        assert result.status != PASSED, (exercise_id, wrong)
        _run_hidden(cells, exercise_id, wrong, each=True)       # every hidden call rejects every wrong answer


def test_hidden_tests_are_verify_calls_on_stored_literals(cells):
    for exercise_id in IDS:
        hidden = _hidden_block(cells[_cell_index(cells, exercise_id + "-grade")].source)
        statements = [line for line in hidden.splitlines() if line.strip() and not line.startswith(" ")]
        assert statements and all(s.startswith(("verify(", "_")) for s in statements), exercise_id
        assert "assert" not in hidden and "elbo_course" not in hidden


def test_stars_match_the_spec_and_every_prompt_states_a_hint(cells):
    for exercise_id in IDS:
        prompt = next(c.source for c in reversed(cells[:_cell_index(cells, exercise_id)]) if c.cell_type == "markdown")
        heading = re.match(r"### Exercise 4\.(\d) \((★+)\)", prompt)
        assert heading, prompt[:80]
        assert len(heading.group(2)) == get_spec(exercise_id).difficulty
        assert "\n**Hint:**" in prompt
    numbers = [int(m) for c in cells if c.cell_type == "markdown"
               for m in re.findall(r"^### Exercise 4\.(\d)", c.source, re.M)]
    assert numbers == [1, 2, 3, 4, 5]


_CODE = re.compile(r"torch\.|math\.|np\.|numpy|\bdim\s*=|\.sum\(|\.mean\(|\.var\(|\.std\(|\bint\(|\blog\(|\bexp\(|==")


def test_hints_and_stub_messages_carry_no_code(cells):
    for exercise_id in IDS:
        assert not _CODE.search(get_spec(exercise_id).hint), exercise_id
        cell = cells[_cell_index(cells, exercise_id)]
        instruction = cell.metadata["elbo_course"]["instruction"]
        assert not _CODE.search(instruction) and "(" not in instruction.replace("(B,)", "").replace("(B, P)", "")
        region = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
        for line in region.splitlines():
            tokens = re.findall(r"[A-Za-z_][\w.]*", line.split("#")[0])
            for a, b in zip(tokens, tokens[1:]):
                assert f"{a} {b}" not in instruction and f"{a}({b}" not in instruction, (exercise_id, line)


def _shown_forms(value: float) -> set[str]:
    """The ways ``value`` could be printed with at least three significant digits."""
    forms = {f"{value:.{d}g}" for d in range(3, 8)} | {f"{value:.{d}f}" for d in range(1, 8)}
    return {f for f in forms if len(re.sub(r"\D", "", f).lstrip("0")) >= 3}


def test_no_expected_value_appears_before_its_grade_cell(cells):
    for exercise_id in IDS:
        spec = get_spec(exercise_id)
        if spec.cases is not None:
            continue            # a function: nothing to leak but its code (see the stub test)
        expected = spec.expected_value()
        values = list(expected.values()) if isinstance(expected, dict) else [expected]
        forms = set().union(*(_shown_forms(float(v)) for v in values))
        above = cells[:_cell_index(cells, exercise_id + "-grade")]
        text = "\n".join(c.source for c in above if c.cell_type == "markdown")
        text += "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                          for c in above if c.cell_type == "code" for o in c.get("outputs", []))
        assert not [f for f in forms if re.search(rf"(?<![\d.]){re.escape(f)}(?!\d)", text)], exercise_id


def test_qew_witness_reference_is_converged_and_matches_the_notebook_draws():
    inner = spec_module.qew_inner_draws().numpy()
    assert inner.shape == (spec_module.QEW_INNER, spec_module.QEW_K - 1)
    masses = spec_module.reference_qew_masses(inner)
    expected = spec_module._qew_mass_expected()
    assert expected["mass"] == pytest.approx(masses.mean(), abs=1e-15)
    assert abs(expected["mass"] - 1) < 3 * expected["se"]                # the witness holds ...
    assert abs(expected["mass"] - 1) > 20 * get_spec("04_iwae-qew_mass").rtol   # ... and 1.0 itself is no answer
    # a much finer, wider grid changes nothing the tolerance could see
    z = np.linspace(-20.0, 20.0, 80001)
    log_w, log_joint = spec_module._qew_log_w(z)
    inner_log_w, _ = spec_module._qew_log_w(inner)
    log_s = np.logaddexp.reduce(inner_log_w, axis=1)
    fine = np.trapezoid(np.exp(math.log(spec_module.QEW_K) + log_joint - np.logaddexp(log_w, log_s[:, None])), z, axis=1)
    assert np.allclose(fine, masses, rtol=0, atol=1e-10)


def test_threshold_is_where_the_weight_variance_integral_diverges():
    t = get_spec("04_iwae-finite_variance_threshold").expected_value()
    v_star = spec_module.POSTERIOR_VAR
    for s2, finite in ((t * 1.01, True), (t * 0.99, False)):
        assert (-1 / v_star + 1 / (2 * s2) < 0) == finite
