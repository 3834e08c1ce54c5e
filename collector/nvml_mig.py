"""MIG: the GPU instances of a GPU whose MIG mode is on, as dcgm-exporter labels them.

dcgm-exporter labels a MIG instance's series with `GPU_I_ID` (NVML's GPU instance id) and
`GPU_I_PROFILE` (the profile's name, e.g. "1g.10gb"); `mig_instances` finds both through NVML's
MIG device handles. A GPU without MIG raises NVMLError_NotSupported from nvmlDeviceGetMigMode,
which the poller takes as "never ask again".

>>> from driftwarden.collector.nvml_fake import FakeMigInstance, FakeNvml
>>> nvml = FakeNvml.h100_pair()
>>> nvml.gpus[0].mig_mode = nvml.NVML_DEVICE_MIG_ENABLE
>>> nvml.gpus[0].mig_instances = [FakeMigInstance(instance_id=7), FakeMigInstance(instance_id=9)]
>>> nvml.nvmlInit()
>>> [(i.instance_id, i.profile) for i in mig_instances(nvml, nvml.nvmlDeviceGetHandleByIndex(0))]
[(7, '1g.10gb'), (9, '1g.10gb')]
>>> mig_instances(nvml, nvml.nvmlDeviceGetHandleByIndex(1))
[]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftwarden.collector.nvml_fields import as_text

__all__ = ["MigInstance", "mig_instances", "profile_name"]


@dataclass(frozen=True)
class MigInstance:
    """A MIG device: its handle (for memory), its GPU instance id (for GPM) and profile name."""

    handle: Any
    instance_id: int
    profile: str


def mig_instances(nvml: Any, handle: Any, known: Mapping[int, str] | None = None) -> list[MigInstance]:
    """The MIG devices of a GPU ([] when its MIG mode is off). `known` maps instance ids to the
    profile names found before, so that a poll asks NVML for the names of new instances only."""
    current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    if current != nvml.NVML_DEVICE_MIG_ENABLE:
        return []
    known = known or {}
    found = []
    for index in range(int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, index)
        except nvml.NVMLError_NotFound:  # no MIG device at this index
            continue
        instance_id = int(nvml.nvmlDeviceGetGpuInstanceId(mig))
        profile = known.get(instance_id)
        found.append(
            MigInstance(mig, instance_id, profile if profile is not None else profile_name(nvml, handle, instance_id))
        )
    return found


def profile_name(nvml: Any, handle: Any, instance_id: int) -> str:
    """The instance's profile as `nvidia-smi mig -lgip` names it, without "MIG " ("1g.10gb");
    "" when NVML will not say (no permission, or a pynvml without these functions)."""
    try:
        info = nvml.nvmlGpuInstanceGetInfo(nvml.nvmlDeviceGetGpuInstanceById(handle, instance_id))
        profile = nvml.nvmlDeviceGetGpuInstanceProfileInfoById(handle, info.profileId)
    except (nvml.NVMLError, AttributeError):
        return ""
    return as_text(profile.name).removeprefix("MIG ")
