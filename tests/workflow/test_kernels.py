"""The build's warm kernels: reused by notebooks in turn, each as from a kernel of its own."""

from __future__ import annotations

import json
import os
import subprocess
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lenstop.workflow import kernels

HELPER = '''import warnings

def warn():
    warnings.warn("shown once per kernel unless reset", UserWarning)
'''

FIRST = [  # leaves behind everything a next notebook could see
    "import os, warnings\nimport matplotlib as mpl, matplotlib.pyplot as plt\nimport helper",
    "x = 41\nmpl.rcParams['lines.linewidth'] = 9\nplt.figure()\nhelper.warn()\n"
    "os.environ['LEFT_BEHIND'] = '1'\nos.chdir('/')\nwarnings.simplefilter('ignore')",
    "import numpy as np, pandas as pd\nnp.set_printoptions(precision=1)\nnp.seterr(all='raise')\n"
    "pd.set_option('display.max_rows', 3)",
]
SECOND = [
    "import os\nimport matplotlib as mpl\nimport helper\nimport matplotlib.pyplot as plt",
    "print('x' in globals(), os.environ.get('LEFT_BEHIND'), os.path.basename(os.getcwd()))",
    "print(mpl.rcParams['lines.linewidth'], plt.get_fignums())\nhelper.warn()",
    "import numpy as np, pandas as pd\nprint(np.array([1 / 3]), np.geterr()['divide'], "
    "pd.get_option('display.max_rows'))",
    "1 + 1",
]


def _write(path, cells):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


JOB = """
import sys
import papermill
from lenstop.workflow import kernels
src, out, cwd, pooled = sys.argv[1:5]
with (kernels.lease(cwd) if pooled == "1" else kernels.no_lease()) as km:
    papermill.execute_notebook(src, out, kernel_name="python3", cwd=cwd, progress_bar=False,
                               log_output=False, kernel_manager_class=kernels.IPCKernelManager,
                               **({"km": km} if km is not None else {}))
"""


def _run(src, out, cwd, pooled=True, check=True):
    """Execute `src` into `out` in a process of its own, as a build's notebook job does:
    through the pool or in a kernel of its own; return the executed notebook."""
    import sys

    run = subprocess.run([sys.executable, "-c", JOB, str(src), str(out), str(cwd),
                          "1" if pooled else "0"], capture_output=True, text=True, timeout=300)
    if check:
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        return nbformat.read(out, as_version=4)
    return run


def _outputs(nb):
    return [(c.execution_count, c.outputs) for c in nb.cells]


def _pids(folder):
    return sorted(json.loads(p.read_text())["pid"] for p in folder.glob("k-*.json"))


@pytest.fixture
def pool(tmp_path, monkeypatch):
    folder = kernels.start_pool(tmp_path / "pool")
    monkeypatch.setenv(kernels.POOL_ENV, str(folder))
    (tmp_path / "helper.py").write_text(HELPER)
    yield folder
    kernels.stop_pool(folder)


def test_a_reused_kernel_runs_a_notebook_as_a_kernel_of_its_own(pool, tmp_path):
    first = _write(tmp_path / "first.ipynb", FIRST)
    second = _write(tmp_path / "second.ipynb", SECOND)
    _run(first, tmp_path / "first.out.ipynb", tmp_path)
    (kernel,) = _pids(pool)
    warm = _run(second, tmp_path / "second.out.ipynb", tmp_path)
    assert _pids(pool) == [kernel]  # the same kernel ran both
    cold = _run(second, tmp_path / "second.cold.ipynb", tmp_path, pooled=False)
    assert _outputs(warm) == _outputs(cold)
    text = "".join(o.get("text", "") for c in warm.cells for o in c.outputs)
    assert "False None " + tmp_path.name in text  # no variable, environment or folder left
    assert "1.5 []" in text and "shown once per kernel" in text  # rc, figures, warnings
    assert "[0.33333333] warn 60" in text  # numpy and pandas options
    assert [c.execution_count for c in warm.cells] == [1, 2, 3, 4, 5]


def test_a_failed_notebook_takes_its_kernel_down(pool, tmp_path):
    _run(_write(tmp_path / "ok.ipynb", ["1"]), tmp_path / "ok.out.ipynb", tmp_path)
    (kernel,) = _pids(pool)
    bad = _write(tmp_path / "bad.ipynb", ["raise ValueError('broken')"])
    failed = _run(bad, tmp_path / "bad.out.ipynb", tmp_path, check=False)
    assert failed.returncode != 0 and "PapermillExecutionError" in failed.stderr
    assert _pids(pool) == []
    assert not kernels._alive(kernel)
    _run(_write(tmp_path / "next.ipynb", ["2"]), tmp_path / "next.out.ipynb", tmp_path)
    assert len(_pids(pool)) == 1 and _pids(pool) != [kernel]  # the next job starts another


def test_stopping_the_pool_stops_its_kernels_and_removes_their_sockets(pool, tmp_path):
    _run(_write(tmp_path / "ok.ipynb", ["1"]), tmp_path / "ok.out.ipynb", tmp_path)
    info = json.loads(next(pool.glob("k-*.json")).read_text())
    kernels.stop_pool(pool)
    assert not kernels._alive(info["pid"])
    assert not pool.exists()
    assert not (tmp_path / info["sockets"]).exists()


def test_a_kernel_stops_itself_when_its_build_is_gone(pool, tmp_path):
    owner = subprocess.Popen(["sleep", "60"])
    (pool / "owner").write_text(f"{owner.pid}\n")
    _run(_write(tmp_path / "ok.ipynb", ["1"]), tmp_path / "ok.out.ipynb", tmp_path)
    (kernel,) = _pids(pool)
    sockets = json.loads(next(pool.glob("k-*.json")).read_text())["sockets"]
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 20
    while kernels._alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not kernels._alive(kernel)
    assert not os.path.exists(sockets)


def test_without_a_pool_a_notebook_gets_a_kernel_of_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv(kernels.POOL_ENV, raising=False)
    with kernels.lease(tmp_path) as km:
        assert km is None


def test_a_pooled_kernel_answers_its_clients_liveness_check(pool, tmp_path):
    """A client waiting for a busy kernel asks its manager whether the kernel lives (under
    load, every build's first notebook on a reused kernel): the pool's manager answers."""
    from jupyter_client.utils import run_sync

    _run(_write(tmp_path / "ok.ipynb", ["1"]), tmp_path / "ok.out.ipynb", tmp_path)
    held = kernels._Lease(next(pool.glob("k-*.json")), open(os.devnull))
    try:
        assert run_sync(held.km.client()._async_is_alive)() is True
        assert run_sync(held.km.is_alive)() is True
    finally:
        held.release()


def test_a_pooled_kernel_that_does_not_answer_is_replaced(pool, tmp_path, monkeypatch):
    """A kernel still busy (here: asleep) when the next notebook comes is taken down and a new
    one runs the notebook, instead of the build waiting on it or failing."""
    _run(_write(tmp_path / "ok.ipynb", ["1"]), tmp_path / "ok.out.ipynb", tmp_path)
    (stuck,) = _pids(pool)
    held = kernels._Lease(next(pool.glob("k-*.json")), open(os.devnull))
    kc = held.km.client()
    kc.start_channels()
    kc.execute("import time\ntime.sleep(120)")  # (not waited for)
    time.sleep(0.5)
    held.release()
    monkeypatch.setenv(kernels.RESET_TIMEOUT_ENV, "3")
    run = _run(_write(tmp_path / "next.ipynb", ["print(6 * 7)"]), tmp_path / "next.out.ipynb",
               tmp_path, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "a pooled kernel did not take its reset" in run.stdout
    done = nbformat.read(tmp_path / "next.out.ipynb", as_version=4)
    assert done.cells[0].outputs[0]["text"] == "42\n"
    assert not kernels._alive(stuck)
    assert len(_pids(pool)) == 1 and _pids(pool) != [stuck]
