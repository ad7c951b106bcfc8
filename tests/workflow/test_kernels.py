"""The build's warm kernels: reused by notebooks in turn, each as from a kernel of its own."""

from __future__ import annotations

import json
import os
import subprocess
import time

import nbformat
import papermill
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


def _run(src, out, cwd, pooled=True):
    """Execute `src` into `out`: through the pool (as a build's notebook job) or in a kernel
    of its own; return the executed notebook."""
    with (kernels.lease(cwd) if pooled else _no_pool()) as km:
        papermill.execute_notebook(str(src), str(out), kernel_name="python3", cwd=str(cwd),
                                   progress_bar=False, log_output=False,
                                   kernel_manager_class=kernels.IPCKernelManager,
                                   **({"km": km} if km is not None else {}))
    return nbformat.read(out, as_version=4)


class _no_pool:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


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
    with pytest.raises(papermill.PapermillExecutionError):
        _run(bad, tmp_path / "bad.out.ipynb", tmp_path)
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
