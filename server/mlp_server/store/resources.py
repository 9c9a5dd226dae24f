"""The local flavor catalogue (ListResource) and the check that a flavor exists.

Memory is in MiB, as the document says; vCPU and GPUNum are integers too. The emulated
GPU flavors exist so that clients written for the cloud (whose deploy default is
``ml.g1e.large``) work unchanged; nothing here has a real GPU, and GPUType says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlp_server.errors import ApiError, invalid

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
    """An unknown flavor is a reference to nothing: 404 NotFound, as for any unknown id (the document
    says so); the message still names the field and the flavors there are."""
    if flavor_id not in FLAVOR_IDS:
        raise ApiError(
            "NotFound", f"{field}: flavor {flavor_id!r} does not exist; available: {', '.join(FLAVOR_IDS)}"
        )


# ListResource's SortBy -> the flavor's sort key; CreateTime is the catalogue order.
_SORT_KEYS: dict[str, Callable[[Flavor], int | str]] = {
    "Name": lambda flavor: flavor.id,
    "vCPU": lambda flavor: flavor.vcpu,
    "Memory": lambda flavor: flavor.memory_mib,
    "GPUNum": lambda flavor: flavor.gpu_num,
}


class ResourcesMixin(StoreBase):
    def list_resource(self, account_id: int, body: Body) -> Result:
        """``{"Total": n, "List": {group: [flavor, ...]}}``; the same catalogue for every account.

        Filters: Name (exact), NameContains (case-insensitive), Type (the group), Tag (one of
        the flavor's Tags). The filtered flavors are sorted by SortBy (CreateTime: catalogue
        order; Name, vCPU, Memory, GPUNum; ties keep catalogue order) and SortOrder, then
        Offset/Limit apply, and the page is grouped again (groups in the order of their first
        flavor; groups left empty are omitted). ``Total`` counts every matching flavor, as the
        document says, not only the page's.
        """
        sort_by = body.get("SortBy") or "CreateTime"
        if sort_by != "CreateTime" and sort_by not in _SORT_KEYS:
            raise invalid("SortBy", f"{sort_by!r} is not one of CreateTime, {', '.join(_SORT_KEYS)}")
        descending = (body.get("SortOrder") or "Descend") == "Descend"
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
        if sort_by in _SORT_KEYS:
            key = _SORT_KEYS[sort_by]
            # Stable sorts: reversing the key (not the list) keeps ties in catalogue order.
            matches.sort(key=lambda pair: key(pair[1]), reverse=descending)
        start, count = offset_limit(body)
        grouped: dict[str, list[Result]] = {}
        for group, flavor in matches[start : start + count]:
            grouped.setdefault(group, []).append(flavor.to_wire())
        return {"Total": len(matches), "List": grouped}
