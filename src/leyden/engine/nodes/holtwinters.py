"""Holt-Winters forecasting as InfluxDB 1.x computes it (``holtWinters``/``holtWintersWithFit``).

Kapacitor's forecasts come from InfluxDB's ``FloatHoltWintersReducer``: the series is put on
an ``interval`` grid (gaps become NaN), initial level/trend/seasonals are guessed from the first
values, and the smoothing parameters are fitted by Nelder-Mead from 16 starting points.  The
result depends on every rounding step of that search, so this port keeps InfluxDB's operation
order, its quirks (the fit feeds each forecast back in as the next observation, the optimizer
clamps and overwrites the simplex vertices it evaluates) and Go's ``math.Pow`` for integer
powers, which multiplies by repeated squaring rather than rounding once like C's ``pow``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

_WEIGHT = 0.5
_EPSILON = 1.0e-4
_GUESS_LOWER = 0.3
_GUESS_UPPER = 1.0
_GUESS_STEP = 0.4

# Nelder-Mead settings of InfluxDB's optimizer
_MAX_ITERATIONS = 1000
_NM_ALPHA = 1.0
_NM_BETA = 0.5
_NM_GAMMA = 2.0


def go_pow_int(x: float, n: int) -> float:
    """Go's ``math.Pow(x, float64(n))`` for an integer ``n >= 1``: square-and-multiply."""
    if x == 1.0 or n == 0:
        return 1.0
    if n == 1:
        return x
    if x != x:
        return x
    if x == 0.0:
        return x if math.copysign(1.0, x) < 0 and n % 2 == 1 else 0.0
    if math.isinf(x):
        return x if x > 0 or n % 2 == 1 else -x
    a1 = 1.0
    ae = 0
    x1, xe = math.frexp(x)
    i = n
    while i != 0:
        if xe < -(1 << 12) or xe > (1 << 12):
            ae += xe
            break
        if i & 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1
    try:
        return math.ldexp(a1, ae)
    except OverflowError:
        return math.copysign(math.inf, a1)


def _div(a: float, b: float) -> float:
    """IEEE division, as Go does it: x/0 is ±Inf or NaN rather than an exception."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _go_div(a: int, b: int) -> int:
    """Go's truncating integer division."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class _Model:
    def __init__(self, y: list[float], m: int, seasonal: bool) -> None:
        self.y = y
        self.m = m
        self.seasonal = seasonal

    def forecast(self, h: int, params: list[float]) -> list[float]:
        """Fitted values for the grid followed by ``h`` forecasts; clamps ``params`` in place
        and, for seasonal models, overwrites its seasonal tail (InfluxDB does both)."""
        for k in range(4):
            if params[k] > 1:
                params[k] = 1.0
            if params[k] < 0:
                params[k] = 0.0
        y = self.y
        alpha, beta, gamma, phi = params[0], params[1], params[2], params[3]
        y_t = y[0]
        phi_h = phi
        l_t = params[4]
        b_t = params[5]
        seasonal = self.seasonal
        m = so = 0
        if seasonal:
            m = len(params) - 6
            if m == 1:
                params[6] = 1.0
            so = m - 1
        n = len(y)
        out = [0.0] * (n + h)
        out[0] = y_t
        stm = stmh = 1.0
        for t in range(1, n + h):
            if seasonal:
                hm = t % m
                stm = params[6 + (t - m + so) % m]
                stmh = params[6 + (t - m + hm + so) % m]
            l_prev = l_t
            damped = l_prev + phi * b_t
            l_t = alpha * _div(y_t, stm) + (1 - alpha) * damped
            s_t = gamma * _div(y_t, damped) + (1 - gamma) * stm
            b_t = beta * (l_t - l_prev) + (1 - beta) * phi * b_t
            y_t = (l_t + phi_h * b_t) * stmh
            phi_h += go_pow_int(phi, t)
            if seasonal:
                params[6 + (t + so) % m] = s_t
                so += 1
            out[t] = y_t
        return out

    def sse(self, params: list[float]) -> float:
        total = 0.0
        y = self.y
        for i, f in enumerate(self.forecast(0, params)):
            if y[i] == y[i]:
                if f != f:
                    return math.inf
                d = f - y[i]
                total += d * d
        return total


def _nelder_mead(
    objective: Callable[[list[float]], float], start: list[float]
) -> tuple[float, list[float]]:
    """InfluxDB's ``neldermead.Optimize`` with scale 1 and epsilon 1e-4."""
    n = len(start)
    sqrt2 = math.sqrt(2)
    pn = 1.0 * (math.sqrt(float(n + 1)) - 1 + float(n)) / (float(n) * sqrt2)
    qn = 1.0 * (math.sqrt(float(n + 1)) - 1) / (float(n) * sqrt2)
    v = [list(start)]
    for i in range(1, n + 1):
        v.append([(pn if i - 1 == j else qn) + start[j] for j in range(n)])
    f = [objective(v[j]) for j in range(n + 1)]
    vr = [0.0] * n
    ve = [0.0] * n
    vc = [0.0] * n
    vm = [0.0] * n
    rows = range(n + 1)
    cols = range(n)
    for _ in range(_MAX_ITERATIONS):
        vg = vs = 0
        for i in rows:
            if f[i] > f[vg]:
                vg = i
            if f[i] < f[vs]:
                vs = i
        vh = vs
        for i in rows:
            if f[i] > f[vh] and f[i] < f[vg]:
                vh = i
        worst = v[vg]
        for i in cols:
            cent = 0.0
            for r in rows:
                if r != vg:
                    cent += v[r][i]
            vm[i] = cent / float(n)
        for i in cols:
            vr[i] = vm[i] + _NM_ALPHA * (vm[i] - worst[i])
        fr = objective(vr)
        if fr < f[vh] and fr >= f[vs]:
            worst[:] = vr
            f[vg] = fr
        if fr < f[vs]:
            for i in cols:
                ve[i] = vm[i] + _NM_GAMMA * (vr[i] - vm[i])
            fe = objective(ve)
            if fe < fr:
                worst[:] = ve
                f[vg] = fe
            else:
                worst[:] = vr
                f[vg] = fr
        if fr >= f[vh]:
            if fr < f[vg] and fr >= f[vh]:
                for i in cols:
                    vc[i] = vm[i] + _NM_BETA * (vr[i] - vm[i])
            else:
                for i in cols:
                    vc[i] = vm[i] - _NM_BETA * (vm[i] - worst[i])
            fc = objective(vc)
            if fc < f[vg]:
                worst[:] = vc
                f[vg] = fc
            else:
                best = v[vs]
                for r in rows:
                    if r != vs:
                        row = v[r]
                        for i in cols:
                            row[i] = best[i] + (row[i] - best[i]) / 2.0
                f[vg] = objective(v[vg])
                f[vh] = objective(v[vh])
        fsum = 0.0
        for i in rows:
            fsum += f[i]
        favg = fsum / float(n + 1)
        s = 0.0
        for i in rows:
            d = f[i] - favg
            s += d * d / float(n)
        if math.sqrt(s) < _EPSILON:
            break
    vs = 0
    for i in rows:
        if f[i] < f[vs]:
            vs = i
    parameters = list(v[vs])
    return objective(v[vs]), parameters


def holt_winters(
    times: list[int],
    values: list[float],
    h: int,
    m: int,
    include_fit: bool,
    interval: int,
) -> list[tuple[int, float]]:
    """``(time, value)`` forecasts for points given in arrival order; ``interval`` > 0 ns.

    Without ``include_fit`` the ``h`` forecasts follow the last point; with it the fitted
    values for the whole series come first, stamped from the first point's time.
    """
    seasonal = m >= 2
    count = len(values)
    if count < 2 or (seasonal and count < m) or h <= 0:
        return []
    half = interval // 2

    def round_time(t: int) -> int:
        q = _go_div(t, interval)
        if t - q * interval > half:
            return (q + 1) * interval
        return q * interval

    start, stop = round_time(times[0]), round_time(times[-1])
    if _go_div(stop - start, interval) <= 0:
        return []
    y = [values[0]]
    t = start
    for pt, pv in zip(times[1:], values[1:], strict=True):
        rounded = round_time(pt)
        if rounded <= t:
            continue
        t += interval
        while rounded != t:
            y.append(math.nan)
            t += interval
        y.append(pv)
    if seasonal and len(y) < m:
        return []  # InfluxDB indexes past the series here and panics

    l0 = 0.0
    if seasonal:
        for i in range(m):
            if y[i] == y[i]:
                l0 += (1 / float(m)) * y[i]
    else:
        l0 += _WEIGHT * y[0]
    b0 = 0.0
    if seasonal:
        i = 0
        while i < m and m + i < len(y):
            if y[i] == y[i] and y[m + i] == y[m + i]:
                b0 += 1 / float(m * m) * (y[m + i] - y[i])
            i += 1
    elif y[1] == y[1]:
        b0 = _WEIGHT * (y[1] - y[0])
    seasonals = [(_div(y[i], l0) if y[i] == y[i] else 0.0) for i in range(m)] if seasonal else []

    model = _Model(y, m, seasonal)
    parameters = [0.0, 0.0, 0.0, 0.0, l0, b0, *seasonals]
    min_sse = math.inf
    best: list[float] | None = None
    alpha = _GUESS_LOWER
    while alpha < _GUESS_UPPER:
        beta = _GUESS_LOWER
        while beta < _GUESS_UPPER:
            gamma = _GUESS_LOWER
            while gamma < _GUESS_UPPER:
                phi = _GUESS_LOWER
                while phi < _GUESS_UPPER:
                    parameters[0:4] = [alpha, beta, gamma, phi]
                    sse, params = _nelder_mead(model.sse, parameters)
                    if sse < min_sse or best is None:
                        min_sse, best = sse, params
                    phi += _GUESS_STEP
                gamma += _GUESS_STEP
            beta += _GUESS_STEP
        alpha += _GUESS_STEP

    assert best is not None
    forecasted = model.forecast(h, best)
    out: list[tuple[int, float]] = []
    if include_fit:
        first = times[0]
        for i, fv in enumerate(forecasted):
            if fv == fv:
                out.append((first + interval * i, fv))
    else:
        last = times[-1]
        for i, fv in enumerate(forecasted[len(y) :]):
            if fv == fv:
                out.append((last + interval * (i + 1), fv))
    return out
