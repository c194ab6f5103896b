"""A node's compiled lambda, shared by all groups or copied per group when it keeps state."""

from __future__ import annotations

from leyden.tick.lambdas import CompiledLambda


def is_stateful(compiled: CompiledLambda) -> bool:
    """Whether the lambda calls a stateful function (``count()``, ``sigma()`` …).

    Unknown (an older compiled form without the attribute) counts as stateful: cloning a
    stateless lambda only costs a little memory, sharing a stateful one is wrong.
    """
    states = getattr(compiled, "_states", None)
    return states is None or bool(states)


class PerGroup:
    """One compiled lambda, with a fresh copy per group when it keeps state.

    Kapacitor gives every group its own ``CopyReset()`` of a node's expressions, so that
    ``count()`` or ``sigma()`` in a ``where``/``eval`` counts per group.  A lambda without
    stateful functions is shared by all groups, which saves a clone per group.
    """

    __slots__ = ("_by_group", "base", "stateful")

    def __init__(self, compiled: CompiledLambda) -> None:
        self.base = compiled
        self.stateful = is_stateful(compiled)
        self._by_group: dict[str, CompiledLambda] = {}

    def get(self, group: str) -> CompiledLambda:
        if not self.stateful:
            return self.base
        c = self._by_group.get(group)
        if c is None:
            c = self._by_group[group] = self.base.clone()
        return c

    def __len__(self) -> int:
        """The groups holding a copy (none when the lambda keeps no state)."""
        return len(self._by_group)

    def forget(self, group: str) -> None:
        """A deleted group (barrier ``.delete()``) starts afresh if it comes back."""
        self._by_group.pop(group, None)
