"""Tools for developing and trying Leyden, outside the shipped runtime path.

The Discord emulator and ``make run``'s launcher live here; nothing under ``leyden`` proper
imports this package except the CLI verb that starts the emulator.
"""
