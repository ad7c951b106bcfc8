"""The notebook step's kernels: one warm kernel per worker, reused by the notebooks in turn.

A kernel start and the scientific stack's imports cost each notebook 4-5 s (the benchmark's
table of notebooks alone), most of a short notebook's run. So during a local build a notebook
job leaves its kernel running in the build's kernel pool (`POOL_ENV`, a folder in the build's
`.build/`) and the next notebook job takes a free one instead of starting its own: papermill
executes with that kernel manager (`km=`; papermill's maintainers point to nbclient's `km` for
reuse), so nbclient neither starts nor stops it. Before each notebook `fresh()` gives the kernel
a new namespace, execution counter, working folder and environment, and the warnings,
matplotlib, numpy and pandas settings it had before its first notebook: the executed notebook
is the same, byte for byte, as from a kernel of its own (nbval checks the committed notebooks
in fresh kernels).

A kernel serves one job at a time (an flock on its lease file); a notebook that fails or is
interrupted takes its kernel down with it. The build stops every pooled kernel when its
workflow ends (`stop_pool`), and a kernel whose build has gone stops itself (`_watch`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

POOL_ENV = "LENSTOP_KERNEL_POOL"
"""The pool's folder, set by the build for its local workflow (unset: a kernel per notebook)."""

RESET_TIMEOUT = 60.0
"""Seconds a kernel may take to answer and take its reset (a new kernel starts within them;
nbclient allows the same); `RESET_TIMEOUT_ENV` overrides it (tests)."""
RESET_TIMEOUT_ENV = "LENSTOP_KERNEL_RESET_TIMEOUT"

STOP_REQUESTED = False
"""Set by `stop_handler` when this process was asked to stop (Ctrl-C, SIGTERM)."""


def stop_handler(signum, frame):
    """SIGINT/SIGTERM: remember that a stop was asked for, then stop like Ctrl-C."""
    global STOP_REQUESTED
    STOP_REQUESTED = True
    raise KeyboardInterrupt


class IPCKernelManager(AsyncKernelManager):
    """Kernel manager talking over Unix sockets: parallel kernels cannot race for TCP ports.

    jupyter_client interrupts a kernel before every shutdown; after a notebook has finished
    the kernel is idle, and that interrupt only makes ipykernel print 'KeyboardInterrupt
    caught in kernel' and, when it races with the sockets closing, a ZMQError traceback on
    the build's console. So the shutdown interrupts the kernel only when a stop was asked for
    (a notebook may then still be running).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        # each kernel gets its own socket folder, so parallel builds never share a path
        self.socket_dir = Path(tempfile.mkdtemp(prefix="lenstop-kernel-"))
        self.ip = str(self.socket_dir / "ipc")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        """Remove the socket folder with the kernel (every run left one behind in /tmp)."""
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down and not STOP_REQUESTED:
            return
        await super()._async_interrupt_kernel()


class PooledKernelManager(AsyncKernelManager):
    """A pooled kernel, maybe started by an earlier job: talk to it, never stop it (the pool
    does); `clients` are closed when the lease ends (nbclient leaves them open)."""

    def __init__(self, connection: dict, pid: int, **kwargs):
        super().__init__(**kwargs)
        self.load_connection_info(connection)
        self.kernel_pid = pid
        self.clients: list = []

    @property
    def has_kernel(self) -> bool:
        return True

    def client(self, **kwargs):
        kc = super().client(**kwargs)
        self.clients.append(kc)
        return kc

    async def is_alive(self) -> bool:
        return _alive(self.kernel_pid)

    _async_is_alive = is_alive  # (what its clients ask, e.g. waiting for a busy kernel)

    async def interrupt_kernel(self) -> None:
        if _alive(self.kernel_pid):
            os.kill(self.kernel_pid, signal.SIGINT)

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """Not this manager's to stop: a failed lease kills it (`lease`), the build the rest."""


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def pool_dir() -> Path | None:
    """The running build's kernel pool (None outside a local build)."""
    value = os.environ.get(POOL_ENV, "").strip()
    return Path(value) if value else None


def start_pool(folder: Path) -> Path:
    """An empty pool in `folder` owned by this process (its kernels stop when it is gone)."""
    stop_pool(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "owner").write_text(f"{os.getpid()}\n", encoding="utf-8")
    return folder


def stop_pool(folder: Path) -> None:
    """Stop every kernel of the pool in `folder` and remove it (idle kernels: SIGTERM, then
    SIGKILL for any still there after 2 s)."""
    if not folder.is_dir():
        return
    kernels = []
    for info in folder.glob("k-*.json"):
        try:
            meta = json.loads(info.read_text(encoding="utf-8"))
            kernels.append((int(meta["pid"]), meta.get("sockets")))
        except (OSError, ValueError, KeyError):
            continue
    pids = [pid for pid, _sockets in kernels]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    _wait_gone(pids, 2)
    for pid in pids:
        _signal(pid, signal.SIGKILL)
    _wait_gone(pids, 5)
    for _pid, sockets in kernels:
        if sockets:
            shutil.rmtree(sockets, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)


def _wait_gone(pids: list[int], seconds: float) -> None:
    """Wait until none of `pids` runs, for at most `seconds` (a signal is delivered later)."""
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


class _Lease:
    """One pooled kernel held by this job: its files, its lock and its manager."""

    def __init__(self, info: Path, handle):
        self.info, self.handle = info, handle
        meta = json.loads(info.read_text(encoding="utf-8"))
        self.pid, self.sockets = int(meta["pid"]), meta["sockets"]
        self.km = PooledKernelManager(meta["connection"], self.pid)

    def release(self) -> None:
        for kc in self.km.clients:
            kc.stop_channels()
        self.handle.close()  # (closing the file releases the lock)

    def kill(self) -> None:
        """Take the kernel out of the pool and stop it (after a failed or stopped notebook)."""
        self.info.unlink(missing_ok=True)
        _signal(self.pid, signal.SIGKILL)
        _wait_gone([self.pid], 5)
        shutil.rmtree(self.sockets, ignore_errors=True)


def _take(folder: Path) -> _Lease | None:
    """A free, live kernel of the pool, locked for this job (None if there is none)."""
    import fcntl

    for info in sorted(folder.glob("k-*.json")):
        handle = open(info.with_suffix(".lock"), "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            lease = _Lease(info, handle)
        except (OSError, ValueError, KeyError):
            handle.close()
            continue
        if _alive(lease.pid):
            return lease
        lease.kill()
        handle.close()
    return None


def _start(folder: Path, cwd: Path) -> _Lease:
    """A new kernel for the pool, started by this job and locked for it. It runs in a session
    of its own, so that it outlives the job (and Ctrl-C reaches it only through the pool)."""
    import fcntl

    from jupyter_client.utils import run_sync

    km = IPCKernelManager(kernel_name="python3")
    name = f"k-{os.getpid()}-{time.monotonic_ns()}"

    run_sync(km.start_kernel)(independent=True, cwd=str(cwd), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = folder / f"{name}.json"
    handle = open(info.with_suffix(".lock"), "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    tmp = info.with_suffix(".tmp")
    connection = {k: v.decode() if isinstance(v, bytes) else v
                  for k, v in km.get_connection_info().items()}
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump({"pid": km.provisioner.pid, "connection": connection,  # (the kernel's key:
                   "sockets": str(km.socket_dir)}, f)                    # owner-only file)
    os.replace(tmp, info)
    return _Lease(info, handle)


@contextmanager
def no_lease():
    """What `lease` gives outside a pool: no kernel manager (papermill starts a kernel)."""
    yield None


@contextmanager
def lease(cwd: Path):
    """A kernel manager for one notebook from the build's pool, reset by `fresh()` (None
    outside a pool: papermill then starts a kernel of its own). The kernel goes back to the
    pool when the notebook has run, and is stopped if it failed or was interrupted."""
    folder = pool_dir()
    if folder is None or not (folder / "owner").is_file():
        yield None
        return
    owner = int((folder / "owner").read_text(encoding="utf-8"))
    held = _take(folder)
    if held is not None:
        try:
            _reset(held, cwd, owner)
        except Exception as exc:  # (a kernel that does not answer: never seen, but a spare
            held.kill()           #  costs one kernel start, a failed build far more)
            held.release()
            print(f"  a pooled kernel did not take its reset ({type(exc).__name__}: {exc}); "
                  "starting a new one", flush=True)
            held = None
    done = False
    try:
        if held is None:
            held = _start(folder, cwd)
            _reset(held, cwd, owner)
        yield held.km
        done = True
    finally:
        if held is not None:
            if not done:
                held.kill()
            held.release()


def _reset(held: _Lease, cwd: Path, owner: int) -> None:
    """Run `fresh()` in the leased kernel for a job working in `cwd` with this environment."""
    _run(held.km, f"from lenstop.workflow import kernels as _k\n"
                  f"_k.fresh({str(cwd)!r}, {dict(os.environ)!r}, {owner}, {held.sockets!r})")


def _run(km: PooledKernelManager, code: str, timeout: float | None = None) -> None:
    """Execute `code` in the kernel, silently (no output, no execution count); RuntimeError
    if it raised."""
    from jupyter_client.utils import run_sync

    if timeout is None:
        timeout = float(os.environ.get(RESET_TIMEOUT_ENV) or RESET_TIMEOUT)
    kc = km.client()
    kc.start_channels()

    async def go():
        await kc.wait_for_ready(timeout=timeout)
        return await kc.execute_interactive(code, silent=True, store_history=False,
                                            timeout=timeout, output_hook=lambda msg: None)

    reply = run_sync(go)()
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"resetting the pooled kernel failed: {reply['content'].get('evalue')}")


# ------------------------------------------------------------------ inside the kernel

_PRISTINE: dict = {}
"""The kernel's state before its first notebook (matplotlib's settings, warnings filters)."""


def fresh(cwd: str, env: dict, owner: int, sockets: str) -> None:
    """Make this kernel as a new one for the next notebook: empty namespace and history,
    execution count 1, no figures, the rcParams, warnings filters and numpy options of before
    the first notebook, pandas's default options, the job's working folder and environment.
    Runs inside the kernel (`owner`: the build's pid; `sockets`: the kernel's socket folder)."""
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    from IPython import get_ipython

    ip = get_ipython()
    if not _PRISTINE:
        _PRISTINE["rc"] = {k: v for k, v in matplotlib.rcParams.copy().items() if k != "backend"}
        _PRISTINE["filters"] = list(warnings.filters)
        _PRISTINE["numpy"] = np.get_printoptions(), np.geterr()
        threading.Thread(target=_watch, args=(owner, sockets), daemon=True).start()
    plt.close("all")
    printing, errors = _PRISTINE["numpy"]
    np.set_printoptions(**printing)
    np.seterr(**errors)
    if "pandas" in sys.modules:  # (pandas's options are its defaults in a new kernel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sys.modules["pandas"].reset_option("all")
    ip.reset(new_session=True)  # (a new history session: execution count 1, line numbers
    #                              new; the old session's would collide in IPython's history)
    dict.update(matplotlib.rcParams, _PRISTINE["rc"])  # (as matplotlib.rc_context restores)
    warnings.filters[:] = _PRISTINE["filters"]
    warnings._filters_mutated()  # forget which warnings were shown (each module's registry)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    import gc

    gc.collect()


def _watch(owner: int, sockets: str) -> None:
    """Stop this kernel, and remove its sockets, when the build that owns its pool is gone
    (killed: a build that ends stops its pool)."""
    while _alive(owner):
        time.sleep(1)
    shutil.rmtree(sockets, ignore_errors=True)
    os._exit(0)
