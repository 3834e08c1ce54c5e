"""Which GPU memory belongs to which model: compute processes matched by pid, cgroup or command line.

`gpu.model_processes` maps a model to matchers (`ProcessMatcher.parse`); `attribute_by_gpu`
sums, per GPU, the memory of the processes each model's matchers claim, reading
/proc/<pid>/{cgroup,cmdline} once per attribution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from driftwarden.core.gpu import GpuSample, gpu_key

__all__ = ["ProcessMatcher", "attribute_by_gpu", "attribute_processes", "parse_matchers"]


@dataclass(frozen=True)
class ProcessMatcher:
    """Which processes belong to a model: `pid:1234` (exact pid), `cgroup:<substring>` (of
    /proc/<pid>/cgroup, e.g. a pod UID or container id), `cmd:<substring>` (of the command line).

    >>> ProcessMatcher.parse("cmd:vllm serve")
    ProcessMatcher(kind='cmd', value='vllm serve')
    """

    kind: Literal["pid", "cgroup", "cmd"]
    value: str

    @classmethod
    def parse(cls, text: str) -> ProcessMatcher:
        kind, sep, value = text.partition(":")
        if not sep or not value:
            raise ValueError(f"process matcher {text!r}: expected 'pid:N', 'cgroup:<substring>' or 'cmd:<substring>'")
        if kind == "pid":
            if not value.isdigit():
                raise ValueError(f"process matcher {text!r}: pid must be a number")
            return cls("pid", value)
        if kind in ("cgroup", "cmd"):
            return cls(kind, value)  # type: ignore[arg-type]
        raise ValueError(f"process matcher {text!r}: unknown kind {kind!r} (pid, cgroup, cmd)")

    def matches(self, pid: int, proc: _Proc) -> bool:
        if self.kind == "pid":
            return pid == int(self.value)
        text = proc.cgroup(pid) if self.kind == "cgroup" else proc.cmdline(pid)
        return text is not None and self.value in text


def parse_matchers(model_processes: Mapping[str, Sequence[str]]) -> dict[str, tuple[ProcessMatcher, ...]]:
    """`gpu.model_processes` -> parsed matchers per model; ValueError names a malformed one."""
    return {model: tuple(ProcessMatcher.parse(m) for m in matchers) for model, matchers in model_processes.items()}


class _Proc:
    """Reads /proc/<pid>/{cgroup,cmdline} once per attribution."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[int, str], str | None] = {}

    def _read(self, pid: int, name: str) -> str | None:
        key = (pid, name)
        if key not in self._cache:
            try:
                raw = (self.root / str(pid) / name).read_bytes()
                self._cache[key] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:  # gone, or another pid namespace
                self._cache[key] = None
        return self._cache[key]

    def cgroup(self, pid: int) -> str | None:
        return self._read(pid, "cgroup")

    def cmdline(self, pid: int) -> str | None:
        return self._read(pid, "cmdline")


def attribute_processes(
    processes: Iterable[tuple[int, int]],
    matchers: Mapping[str, Sequence[ProcessMatcher]],
    *,
    proc_root: str | Path = "/proc",
    _proc: _Proc | None = None,
) -> dict[str, int]:
    """model -> bytes of GPU memory of the processes it matches (the first model whose matcher
    matches claims a process; unmatched processes are left out).

    NVML reports pids in the host's pid namespace: in a pod, this needs `hostPID: true` (or the
    model server in the same pid namespace) for cgroup/cmd matchers to find /proc/<pid>.
    """
    proc = _proc or _Proc(Path(proc_root))
    out: dict[str, int] = {}
    for pid, used in processes:
        for model, model_matchers in matchers.items():
            if any(m.matches(pid, proc) for m in model_matchers):
                out[model] = out.get(model, 0) + used
                break
    return out


def attribute_by_gpu(
    samples: Iterable[GpuSample],
    matchers: Mapping[str, Sequence[ProcessMatcher]],
    *,
    proc_root: str | Path = "/proc",
) -> dict[str, dict[str, int]]:
    """gpu_key -> model -> bytes, for the GPUs where some model's processes run."""
    if not matchers:
        return {}
    proc = _Proc(Path(proc_root))
    out = {}
    for sample in samples:
        per_model = attribute_processes(sample.processes, matchers, _proc=proc)
        if per_model:
            out[gpu_key(sample)] = per_model
    return out
