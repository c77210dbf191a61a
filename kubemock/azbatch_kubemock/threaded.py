"""``KubeStandInThread``: the stand-in in its own thread and event loop, for sync code and pytest.

kopf must run in its own loop too (``kopf.operator()`` cancels tasks it did not create), so a test
typically starts this runner, writes a kubeconfig, and runs kopf in another thread against it::

    with KubeStandInThread(crds=[crd]) as kube:
        kube.write_kubeconfig(tmp_path / "kubeconfig")
        client = KubeClient(kube.url)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import pathlib
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from azbatch_kubemock.standin import KubeStandIn

T = TypeVar("T")
_START_TIMEOUT = 30.0


class KubeStandInThread:
    """Runs a ``KubeStandIn`` in a daemon thread; ``start()``/``stop()`` or ``with``."""

    def __init__(
        self,
        *,
        crds: Iterable[Mapping[str, Any]] = (),
        crd_files: Iterable[str | pathlib.Path] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
    ) -> None:
        self._crds = list(crds)
        self._crd_files = list(crd_files)
        self._kube = KubeStandIn(host=host, port=port, token=token)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def kube(self) -> KubeStandIn:
        """The stand-in itself; read its state through ``call()`` while it runs."""
        return self._kube

    @property
    def url(self) -> str:
        return self._kube.base_url

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("KubeStandInThread is already started")
        self._thread = threading.Thread(target=self._run, name="kube-stand-in", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"the Kubernetes stand-in did not start within {_START_TIMEOUT:.0f} s")
        if self._failure is not None:
            raise RuntimeError(f"the Kubernetes stand-in failed to start: {self._failure}") from self._failure
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=_START_TIMEOUT)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def call(self, function: Callable[[KubeStandIn], T]) -> T:
        """Run ``function(kube)`` in the stand-in's loop (thread-safe) and return its result."""
        if self._loop is None:
            raise RuntimeError("the stand-in is not running")

        async def run() -> T:
            return function(self._kube)

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout=_START_TIMEOUT)

    def register_crd(self, crd: Mapping[str, Any]) -> None:
        self.call(lambda kube: kube.register_crd(crd))

    def write_kubeconfig(self, path: str | pathlib.Path, *, namespace: str = "default") -> pathlib.Path:
        return self._kube.write_kubeconfig(path, namespace=namespace)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for crd in self._crds:
            self._kube.register_crd(crd)
        for path in self._crd_files:
            self._kube.register_crd_file(path)
        async with self._kube:
            self._ready.set()
            await self._stopping.wait()
