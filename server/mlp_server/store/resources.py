"""The local flavor catalogue (ListResource) and the check that a flavor exists.

Memory is in MiB, as the document says; vCPU and GPUNum are integers too. The emulated
GPU flavors exist so that clients written for the cloud (whose deploy default is
``ml.g1e.large``) work unchanged; nothing here has a real GPU, and GPUType says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlp_server.errors import invalid

from .base import Body, Result, StoreBase
from .paging import offset_limit


@dataclass(frozen=True)
class Flavor:
    id: str
    vcpu: int
    memory_mib: int
    gpu_type: str = ""
    gpu_num: int = 0
    tags: tuple[str, ...] = ()

    def to_wire(self) -> Result:
        return {
            "Id": self.id,
            "Name": self.id,
            "vCPU": self.vcpu,
            "Memory": self.memory_mib,
            "GPUType": self.gpu_type,
            "GPUNum": self.gpu_num,
            "Tags": list(self.tags),
        }


_EMULATED = "local-cpu-emulated"

# Group (ListResource's Type) -> flavors, in catalogue order.
CATALOGUE: dict[str, tuple[Flavor, ...]] = {
    "CPU": (
        Flavor("ml.c1i.large", 2, 4 * 1024, tags=("cpu",)),
        Flavor("ml.c1i.xlarge", 4, 8 * 1024, tags=("cpu",)),
        Flavor("ml.c1i.2xlarge", 8, 16 * 1024, tags=("cpu",)),
    ),
    "GPU": (
        Flavor("ml.g1e.large", 4, 16 * 1024, _EMULATED, 1, tags=("gpu", "emulated")),
        Flavor("ml.g1e.xlarge", 8, 32 * 1024, _EMULATED, 1, tags=("gpu", "emulated")),
    ),
}

FLAVOR_IDS: tuple[str, ...] = tuple(f.id for group in CATALOGUE.values() for f in group)


def require_flavor(field: str, flavor_id: str) -> None:
    if flavor_id not in FLAVOR_IDS:
        raise invalid(field, f"unknown flavor {flavor_id!r}; available: {', '.join(FLAVOR_IDS)}")


class ResourcesMixin(StoreBase):
    def list_resource(self, account_id: int, body: Body) -> Result:
        """``{"List": {group: [flavor, ...]}}``; the same catalogue for every account.

        Filters: Name (exact), NameContains (case-insensitive), Type (the group), Tag (one of
        the flavor's Tags). Offset/Limit apply to the filtered flavors in catalogue order, which
        are then grouped again (groups left empty are omitted). SortBy/SortOrder are accepted
        and ignored: the catalogue has one fixed order.
        """
        name = body.get("Name")
        name_contains = body.get("NameContains")
        group_filter = body.get("Type")
        tag = body.get("Tag")
        matches = [
            (group, flavor)
            for group, flavors in CATALOGUE.items()
            if group_filter is None or group == group_filter
            for flavor in flavors
            if (name is None or flavor.id == name)
            and (name_contains is None or name_contains.lower() in flavor.id.lower())
            and (tag is None or tag in flavor.tags)
        ]
        start, count = offset_limit(body)
        grouped: dict[str, list[Result]] = {}
        for group, flavor in matches[start : start + count]:
            grouped.setdefault(group, []).append(flavor.to_wire())
        return {"List": grouped}
