"""Go's primitives as Kapacitor prints and parses them: the kernel the rest of Leyden shares.

* :mod:`leyden.go.types` — Go values, ``%v``, floats, durations, times and ``encoding/json``;
* :mod:`leyden.go.time` — nanosecond time arithmetic and Go's zero time;
* :mod:`leyden.go.strconv` — ``ParseBool``/``ParseInt``/``ParseDuration`` as Kapacitor's config
  and handlers read them;
* :mod:`leyden.go.template` — the ``text/template`` subset of alert messages and titles.

A leaf: nothing here imports the rest of Leyden.
"""
