from enum import StrEnum


class ListResourceSortBy(StrEnum):
    CREATETIME = "CreateTime"
    GPUNUM = "GPUNum"
    MEMORY = "Memory"
    NAME = "Name"
    VCPU = "vCPU"

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> "ListResourceSortBy | None":
        # Forward compatibility: a value this client does not know yet (a new status, say) becomes a
        # pseudo-member that keeps the value, instead of failing the whole response.
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """False for a value added to the API after this client was generated."""
        return self._name_ != "UNKNOWN"
