"""A fake of nvidia-ml-py's `pynvml` module: the calls seams.host makes, answering from constructor arguments."""

from __future__ import annotations


class NVMLError(Exception):
    """Stands in for pynvml.NVMLError (e.g. NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded)."""


class FakeNVML:
    """An NVML with `driver` and `gpus` ((name, (major, minor)) pairs). `fail` makes nvmlInit raise it;
    `as_bytes` answers strings as bytes, as old pynvml releases do."""

    def __init__(
        self,
        driver: str = "580.65.06",
        gpus: tuple[tuple[str, tuple[int, int]], ...] = (("NVIDIA H100 80GB HBM3", (9, 0)),),
        cuda: int = 13000,
        fail: str | None = None,
        as_bytes: bool = False,
    ) -> None:
        self.driver, self.gpus, self.cuda, self.fail, self.as_bytes = driver, gpus, cuda, fail, as_bytes
        self.initialised = 0
        self.shut_down = 0

    def _s(self, s: str) -> str | bytes:
        return s.encode() if self.as_bytes else s

    def nvmlInit(self) -> None:
        if self.fail:
            raise NVMLError(self.fail)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.shut_down += 1

    def nvmlSystemGetDriverVersion(self) -> str | bytes:
        return self._s(self.driver)

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        if not 0 <= i < len(self.gpus):
            raise NVMLError("Invalid Argument")
        return i

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return self._s(self.gpus[handle][0])

    def nvmlDeviceGetCudaComputeCapability(self, handle: int) -> tuple[int, int]:
        return self.gpus[handle][1]
