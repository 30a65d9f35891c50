"""An extension that refuses subinterpreters (NumPy) gets a first line that
says so, names the module, and gives the two ways out."""

import pytest

import interp_work
import shoal
from shoal import interpreters

pytest.importorskip("numpy")


def check_first_line(text):
    first = text.splitlines()[0]
    assert "numpy cannot be imported in a subinterpreter" in first
    assert "numpy._core._multiarray_umath" in first and "a limit of numpy itself" in first
    assert "shoal.ProcessPoolExecutor" in first and "keep the import of numpy out" in first


def test_import_inside_the_function_in_call():
    with interpreters.create() as interp:
        with pytest.raises(ImportError) as caught:
            interp.call(interp_work.import_module, "numpy")
    check_first_line(str(caught.value))


def test_import_at_the_top_of_a_worker_module_in_a_task():
    task = interpreters.run(interp_work.import_module, "numpy_worker_module")
    task.join(60)
    check_first_line(str(task.exception()))


def test_import_in_an_executor_task():
    with shoal.SubinterpreterExecutor(max_workers=1) as pool:
        with pytest.raises(ImportError) as caught:
            pool.submit(interp_work.import_module, "numpy").result(timeout=60)
    check_first_line(str(caught.value))


def test_exec_reports_it_first_too():
    with interpreters.create() as interp:
        with pytest.raises(interpreters.ExecutionFailed) as caught:
            interp.exec("import numpy")
    assert str(caught.value).startswith("ImportError: numpy cannot be imported in a subinterpreter")
