"""Column helpers: StrEnums stored as plain strings."""

from enum import StrEnum

from sqlalchemy import Enum


def str_enum(enum_cls: type[StrEnum], length: int = 20) -> Enum:
    """A VARCHAR column holding the enum's value (no native DB enum, no check constraint)."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )
