"""Electrical and environmental values of one simulated PDU, one poll at a time.

Owns the loads behind every outlet, the shared mains (``SiteGrid``), the running
counters (energy, apparent energy, peak currents) and the sensor temperatures. Every
poll turns the wall-clock time and the outlet relay states into one set of catalogue
values, rounded to catalogue precision. Invariants: outlets sum to their branch,
outlets plus the PDU's own consumption sum to their phase, phases sum to the totals
(current, W, VA, var, energies); counters never decrease; a switched-off outlet
reports zeros and adds nothing; the values depend only on the PDU's own generators,
the clock values and the calls made, never on the order other PDUs are polled.
Called by ``device.SimPdu.sample``.
"""

from __future__ import annotations

import math
import random
from typing import Any

from ...core.model import GroupKey, PduModel, SensorType
from ...core.quantities import BY_KEY, Component
from .catalogue import SensorChannel

__all__ = ["SiteGrid", "PduPhysics", "MAX_STEP_S", "OWN_CURRENT_A"]

TWO_PI = 2.0 * math.pi
DAY_S = 86_400.0
MAX_STEP_S = 60.0
"""Longest time one poll may integrate into the energy counters."""
KWH_PER_WS = 1.0 / 3.6e6
"""Watt-seconds to kilowatt-hours."""
OWN_CURRENT_A = 0.03
"""The PDU's own consumption (electronics, display) drawn from L1."""
OWN_PF = 0.55
"""Power factor of the PDU's own power supply."""
DROP_V_PER_A = 0.02
"""Voltage drop along the feed cable per ampere drawn on the phase."""
SPIKE_P = 0.002
"""Chance per outlet and poll that a load spike (e.g. a fan ramp) starts."""
THERMAL_TAU_S = 300.0
"""Time constant with which sensor temperatures follow the load."""
_PHASE_ANGLES = ((1.0, 0.0), (-0.5, -math.sqrt(3) / 2), (-0.5, math.sqrt(3) / 2))
"""cos/sin of the phase angles 0°, −120°, +120°."""
_SCALE: dict[str, float] = {k: 10.0 ** q.precision for k, q in BY_KEY.items()}
"""10 to the catalogue precision of every quantity, for rounding."""
_OUTLET_SCALES = tuple(_SCALE[k] for k in (
    "voltage", "current", "activePower", "apparentPower", "reactivePower", "powerFactor",
    "energy", "apparentEnergy", "crestFactor", "thd"))
_O, _B, _I, _T, _S = (Component.OUTLET, Component.BRANCH, Component.INPUT,
                      Component.TOTAL, Component.SENSOR)
_IKEYS = ((_I, 1), (_I, 2), (_I, 3))


def _r(x: float, scale: float) -> float:
    """``x`` rounded to ``1/scale`` (half up); never returns -0.0, 4x faster than round()."""
    return (x * scale + 0.5) // 1 / scale


class SiteGrid:
    """The mains every PDU of one ring shares: phase voltages and line frequency.

    Voltages wander slowly around 230 V (two slow sinusoids, at most ±1.4 V) and the
    frequency around 50 Hz (at most ±0.04 Hz). Deterministic in the seed and time.
    """

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"enerteg-sim/{seed}/grid")
        self._vphase = [(rng.uniform(0, TWO_PI), rng.uniform(0, TWO_PI)) for _ in range(3)]
        self._fphase = (rng.uniform(0, TWO_PI), rng.uniform(0, TWO_PI))
        self._t: float | None = None
        self._value: tuple[float, float, float, float] = (230.0, 230.0, 230.0, 50.0)

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(V L1, V L2, V L3, frequency) of the mains at wall-clock time ``t``."""
        if t != self._t:
            v = [230.0 + 1.0 * math.sin(TWO_PI * t / 3671.0 + a)
                 + 0.4 * math.sin(TWO_PI * t / 617.0 + b) for a, b in self._vphase]
            c, d = self._fphase
            f = 50.0 + 0.025 * math.sin(TWO_PI * t / 907.0 + c) + 0.012 * math.sin(
                TWO_PI * t / 131.0 + d)
            self._t = t
            self._value = (v[0], v[1], v[2], f)
        return self._value


class PduPhysics:
    """The loads, counters and sensors of one PDU.

    Args:
        model: the PDU type.
        sensors: the PDU's sensor channels.
        grid: the shared mains.
        params: generator for the stable properties (loads, PF, THD, history).
        noise: generator for per-poll noise; one per PDU.
    """

    def __init__(self, model: PduModel, sensors: tuple[SensorChannel, ...], grid: SiteGrid,
                 params: random.Random, noise: random.Random) -> None:
        n, phases = model.outlets, model.phases
        self.model = model
        self.sensors = sensors
        self._grid = grid
        self._rng = noise
        util = params.uniform(0.10, 0.40)
        avg = util * model.rating_a * phases / n
        self._base = [0.0 if params.random() < 0.2 else avg * params.uniform(0.4, 1.6)
                      for _ in range(n)]
        self._pf = [params.uniform(0.86, 0.98) for _ in range(n)]
        self._thd = [params.uniform(5.0, 30.0) for _ in range(n)]
        self._crest = [params.uniform(1.45, 1.95) for _ in range(n)]
        self._wander = [0.0] * n
        self._spike_left = [0] * n
        self._spike_gain = [1.0] * n
        self._was_on = [True] * n
        hours = params.uniform(800.0, 26_000.0)
        self.energy = [b * 230.0 * pf * hours / 1000.0 * params.uniform(0.85, 1.0)
                       for b, pf in zip(self._base, self._pf, strict=True)]
        """Active energy per outlet, kWh (unrounded)."""
        self.apparent_energy = [e / pf for e, pf in zip(self.energy, self._pf, strict=True)]
        """Apparent energy per outlet, kVAh (unrounded)."""
        self.own_energy = OWN_CURRENT_A * 230.0 * OWN_PF * hours / 1000.0
        """Active energy of the PDU's own consumption, kWh."""
        self.own_apparent_energy = self.own_energy / OWN_PF
        """Apparent energy of the PDU's own consumption, kVAh."""
        self._amp = params.uniform(0.10, 0.20)
        self._peak_day = params.uniform(13.0, 17.0) / 24.0
        self._voff = [params.uniform(-0.3, 0.3) for _ in range(phases)]
        self._vthd = [params.uniform(1.5, 3.0) for _ in range(phases)]
        self._residual = params.uniform(1.0, 5.0)
        probes = sorted({s.probe for s in sensors})
        self._probe_t = {p: (params.uniform(23.0, 24.5) if any(s.back for s in sensors
                                                                 if s.probe == p)
                             else params.uniform(21.8, 23.5)) for p in probes}
        self._probe_h = {p: params.uniform(38.0, 48.0) for p in probes}
        self._probe_ph = {p: params.uniform(0, TWO_PI) for p in probes}
        self._probe_state: dict[int, float] = {}
        self._okeys = tuple((_O, i) for i in range(1, n + 1))
        self._op0 = tuple(p - 1 for p in model.outlet_phase)
        self._ob0 = tuple(b - 1 for b in model.outlet_branch)
        self._bp0 = tuple(p - 1 for p in model.branch_phase)
        self._ovoff = [params.uniform(-0.08, 0.02) for _ in range(n)]
        """Per-outlet voltage offset (contact and wiring) against the phase voltage."""
        self._opeak = [0.0] * n
        self._bpeak = [0.0] * model.branches
        self._ppeak = [0.0] * phases
        self._tpeak = 0.0
        self._prev_v: list[float] | None = None
        self._phase_i = [0.0] * phases
        self._last_t: float | None = None

    # ------------------------------------------------------------------ state
    def reset_peaks(self) -> None:
        """Forget the highest currents seen (the PDU's "reset peaks"): every current peak
        starts again from the next poll's current."""
        for peaks in (self._opeak, self._bpeak, self._ppeak):
            peaks[:] = [0.0] * len(peaks)
        self._tpeak = 0.0

    def restart(self) -> None:
        """Forget the previous poll's time (after a power loss: the gap adds no energy)."""
        self._last_t = None
        self._prev_v = None

    def counters(self, reserve_kwh: float = 0.0) -> dict[str, list[float] | float]:
        """The energy counters a PDU keeps in its own memory, each ``reserve_kwh`` ahead.

        A meter that writes its flash only now and then stores a value reserved ahead
        of the true one, so that after a crash it continues from a value at least as
        large as any it has shown; the energy drawn before the next write must stay
        below the reserve (``SimulatedDriver`` checks that on every poll).
        """
        r = reserve_kwh
        return {"outlets": [e + r for e in self.energy],
                "outletsApparent": [e + r for e in self.apparent_energy],
                "own": self.own_energy + r, "ownApparent": self.own_apparent_energy + r}

    def counter_values(self) -> list[float]:
        """Every energy counter in one flat list (outlets, apparent, own, own apparent)."""
        return [*self.energy, *self.apparent_energy, self.own_energy, self.own_apparent_energy]

    def headroom(self, ceilings: list[float]) -> float:
        """The least room any counter has below its stored (reserved) value, kWh.

        Negative when a counter has passed the value its memory holds.
        """
        room = min(c - e for c, e in zip(ceilings, self.energy, strict=False))
        room = min(room, min(c - e for c, e in zip(ceilings[len(self.energy):],
                                                   self.apparent_energy, strict=False)))
        return min(room, ceilings[-2] - self.own_energy, ceilings[-1] - self.own_apparent_energy)

    def restore_counters(self, data: dict[str, Any]) -> bool:
        """Continue from saved counters; never lowers a counter. False if they don't fit."""
        n = self.model.outlets
        try:
            e = [float(x) for x in data["outlets"]]
            ae = [float(x) for x in data["outletsApparent"]]
            own, own_a = float(data["own"]), float(data["ownApparent"])
        except (KeyError, TypeError, ValueError):
            return False
        values = [*e, *ae, own, own_a]
        if len(e) != n or len(ae) != n or not all(math.isfinite(x) and x >= 0 for x in values):
            return False
        self.energy = [max(a, b) for a, b in zip(self.energy, e, strict=True)]
        self.apparent_energy = [max(a, b) for a, b in zip(self.apparent_energy, ae, strict=True)]
        self.own_energy = max(self.own_energy, own)
        self.own_apparent_energy = max(self.own_apparent_energy, own_a)
        return True

    # ------------------------------------------------------------------ one poll
    def step(self, t: float, on: list[bool], load_factor: float, temperature_offset: float,
             residual_ma: float | None) -> dict[GroupKey, dict[str, float]]:
        """Advance to wall-clock time ``t`` and return one poll's values by group.

        Args:
            t: wall-clock time of the reading, seconds since the epoch.
            on: relay state per outlet (index 0 is outlet 1).
            load_factor: multiplier on every outlet's load.
            temperature_offset: added to every temperature reading, °C.
            residual_ma: forced residual current in mA, or None for the natural value.

        Returns:
            Catalogue values by (component, index), rounded to catalogue precision.
        """
        rng = self._rng.random
        sqrt = math.sqrt
        sv, sa, sw, sva, svar, spf, se, sae, scf, sthd = _OUTLET_SCALES
        m = self.model
        last = self._last_t
        dt = 0.0 if last is None else min(max(t - last, 0.0), MAX_STEP_S)
        self._last_t = t
        kwh = dt * KWH_PER_WS
        grid = self._grid.at(t)
        phases = m.phases
        volts = [grid[p] + self._voff[p] - DROP_V_PER_A * self._phase_i[p]
                 + 0.06 * (rng() - 0.5) for p in range(phases)]
        scale = load_factor * (1.0 + self._amp * math.cos(TWO_PI * (t / DAY_S - self._peak_day)))
        nb = m.branches
        b_i, b_w, b_va, b_var, b_e = [0.0] * nb, [0.0] * nb, [0.0] * nb, [0.0] * nb, [0.0] * nb
        p_i, p_w, p_va, p_var = [0.0] * phases, [0.0] * phases, [0.0] * phases, [0.0] * phases
        p_e, p_ae = [0.0] * phases, [0.0] * phases
        groups: dict[GroupKey, dict[str, float]] = {}
        metered = m.metered_outlets
        okeys, ophase, obranch, ovoff = self._okeys, self._op0, self._ob0, self._ovoff
        base, pfs, energy, aenergy, opeak = (self._base, self._pf, self.energy,
                                             self.apparent_energy, self._opeak)
        wander, spike_left, spike_gain, was_on = (self._wander, self._spike_left,
                                                  self._spike_gain, self._was_on)
        thds, crests = self._thd, self._crest
        for i in range(m.outlets):
            p = ophase[i]
            b = obranch[i]
            e = energy[i]
            if not on[i]:
                was_on[i] = False
                if b >= 0:
                    b_e[b] += e
                p_e[p] += e
                p_ae[p] += aenergy[i]
                if metered:
                    groups[okeys[i]] = {
                        "voltage": 0.0, "current": 0.0,
                        "currentPeak": (opeak[i] * sa + 0.5) // 1 / sa,
                        "activePower": 0.0, "apparentPower": 0.0, "reactivePower": 0.0,
                        "powerFactor": 0.0, "energy": (e * se + 0.5) // 1 / se,
                        "apparentEnergy": (aenergy[i] * sae + 0.5) // 1 / sae,
                        "crestFactor": 0.0, "thd": 0.0}
                continue
            v = volts[p] + ovoff[i]
            load = base[i] * scale
            cur = 0.0
            if load > 0.0:
                nz = rng() - 0.5
                w = wander[i] = wander[i] * 0.95 + 0.022 * nz
                if not was_on[i]:  # just switched on: the server boots, fans at full speed
                    spike_left[i], spike_gain[i] = 4, 1.5
                left = spike_left[i]
                if left:
                    spike_left[i] = left - 1
                    load *= spike_gain[i]
                else:
                    r = rng()
                    if r < SPIKE_P:
                        u = r / SPIKE_P
                        spike_left[i] = 1 + int(u * 4)
                        spike_gain[i] = 1.25 + 0.5 * u
                        load *= spike_gain[i]
                cur = load * (1.0 + w + 0.03 * nz)
            was_on[i] = True
            if cur < 0.005:  # nothing plugged in (or no load): no power factor to speak of
                va = wat = var = pf = thd = crest = cur = 0.0
            else:
                pf = pfs[i] + 0.004 * nz
                va = v * cur
                wat = va * pf
                var = -va * sqrt(1.0 - pf * pf)
                thd = thds[i] * (1.0 - 0.05 * nz)
                crest = crests[i] + 0.02 * nz
                e = energy[i] = e + wat * kwh
                aenergy[i] += va * kwh
                if cur > opeak[i]:
                    opeak[i] = cur
            if b >= 0:
                b_i[b] += cur
                b_w[b] += wat
                b_va[b] += va
                b_var[b] += var
                b_e[b] += e
            p_i[p] += cur
            p_w[p] += wat
            p_va[p] += va
            p_var[p] += var
            p_e[p] += e
            p_ae[p] += aenergy[i]
            if metered:  # rounding inlined: (x*s + 0.5) // 1 / s is 4x faster than round()
                groups[okeys[i]] = {
                    "voltage": (v * sv + 0.5) // 1 / sv, "current": (cur * sa + 0.5) // 1 / sa,
                    "currentPeak": (opeak[i] * sa + 0.5) // 1 / sa,
                    "activePower": (wat * sw + 0.5) // 1 / sw,
                    "apparentPower": (va * sva + 0.5) // 1 / sva,
                    "reactivePower": (var * svar + 0.5) // 1 / svar,
                    "powerFactor": (pf * spf + 0.5) // 1 / spf,
                    "energy": (e * se + 0.5) // 1 / se,
                    "apparentEnergy": (aenergy[i] * sae + 0.5) // 1 / sae,
                    "crestFactor": (crest * scf + 0.5) // 1 / scf,
                    "thd": (thd * sthd + 0.5) // 1 / sthd}
        bpeak, bphase = self._bpeak, self._bp0
        for b in range(nb):
            cur, wat, va = b_i[b], b_w[b], b_va[b]
            if cur > bpeak[b]:
                bpeak[b] = cur
            groups[(_B, b + 1)] = {
                "voltage": (volts[bphase[b]] * sv + 0.5) // 1 / sv,
                "current": (cur * sa + 0.5) // 1 / sa,
                "currentPeak": (bpeak[b] * sa + 0.5) // 1 / sa,
                "activePower": (wat * sw + 0.5) // 1 / sw,
                "apparentPower": (va * sva + 0.5) // 1 / sva,
                "reactivePower": (b_var[b] * svar + 0.5) // 1 / svar,
                "powerFactor": (wat / va * spf + 0.5) // 1 / spf if va > 0 else 0.0,
                "energy": (b_e[b] * se + 0.5) // 1 / se}
        self._own(volts[0], kwh, p_i, p_w, p_va, p_var, p_e, p_ae)
        self._inputs(groups, volts, grid[3], t, p_i, p_w, p_va, p_var, p_e, p_ae)
        total_i = self._totals(groups, p_i, p_w, p_va, p_var, p_e, p_ae, residual_ma)
        self._phase_i = p_i
        if self.sensors:
            self._sensors(groups, t, dt, total_i / (m.rating_a * phases), temperature_offset)
        return groups

    # ------------------------------------------------------------------ helpers
    def _own(self, v1: float, kwh: float, p_i: list[float], p_w: list[float],
             p_va: list[float], p_var: list[float], p_e: list[float], p_ae: list[float]) -> None:
        """Add the PDU's own consumption to L1."""
        cur = OWN_CURRENT_A * (1.0 + 0.1 * (self._rng.random() - 0.5))
        va = v1 * cur
        wat = va * OWN_PF
        self.own_energy += wat * kwh
        self.own_apparent_energy += va * kwh
        p_i[0] += cur
        p_w[0] += wat
        p_va[0] += va
        p_var[0] -= va * math.sqrt(1.0 - OWN_PF * OWN_PF)
        p_e[0] += self.own_energy
        p_ae[0] += self.own_apparent_energy

    def _inputs(self, groups: dict[GroupKey, dict[str, float]], volts: list[float], freq: float,
                t: float, p_i: list[float], p_w: list[float], p_va: list[float],
                p_var: list[float], p_e: list[float], p_ae: list[float]) -> None:
        """One INPUT group per phase; voltage THD and crest factor are the mains'."""
        rng = self._rng.random
        sv, sa, sw, sva, svar, spf, se, sae, _, sthd = _OUTLET_SCALES
        scf, sf = _SCALE["crestFactor"], _SCALE["frequency"]
        sdip, speak = _SCALE["voltageDip"], _SCALE["voltagePeak"]
        prev = self._prev_v or volts
        f = (freq * sf + 0.004 * sf * (rng() - 0.5) + 0.5) // 1 / sf
        ppeak = self._ppeak
        for p, v in enumerate(volts):
            cur, wat, va = p_i[p], p_w[p], p_va[p]
            if cur > ppeak[p]:
                ppeak[p] = cur
            vthd = self._vthd[p] + 0.4 * math.sin(TWO_PI * t / 2400.0 + p)
            last = prev[p]  # the interval's extremes lie beyond both ends of the interval
            dip = (v if v < last else last) - 0.02 - 0.2 * rng()
            peak = (v if v > last else last) + 0.02 + 0.2 * rng()
            groups[_IKEYS[p]] = {
                "voltage": (v * sv + 0.5) // 1 / sv,
                "voltageDip": (dip * sdip + 0.5) // 1 / sdip,
                "voltagePeak": (peak * speak + 0.5) // 1 / speak,
                "current": (cur * sa + 0.5) // 1 / sa,
                "currentPeak": (ppeak[p] * sa + 0.5) // 1 / sa,
                "activePower": (wat * sw + 0.5) // 1 / sw,
                "apparentPower": (va * sva + 0.5) // 1 / sva,
                "reactivePower": (p_var[p] * svar + 0.5) // 1 / svar,
                "powerFactor": (wat / va * spf + 0.5) // 1 / spf if va > 0 else 0.0,
                "energy": (p_e[p] * se + 0.5) // 1 / se,
                "apparentEnergy": (p_ae[p] * sae + 0.5) // 1 / sae,
                "frequency": f, "thd": (vthd * sthd + 0.5) // 1 / sthd,
                "crestFactor": ((1.414 - 0.008 * vthd) * scf + 0.5) // 1 / scf}
        self._prev_v = volts

    def _totals(self, groups: dict[GroupKey, dict[str, float]], p_i: list[float],
                p_w: list[float], p_va: list[float], p_var: list[float], p_e: list[float],
                p_ae: list[float], residual_ma: float | None) -> float:
        """The TOTAL group; returns the total current."""
        cur, wat, va = sum(p_i), sum(p_w), sum(p_va)
        if cur > self._tpeak:
            self._tpeak = cur
        if len(p_i) == 1:
            neutral = cur
        else:
            re = im = 0.0
            for p, ip in enumerate(p_i):
                if p_va[p] <= 0:
                    continue
                pf = min(1.0, p_w[p] / p_va[p])
                s = math.sqrt(1.0 - pf * pf)  # capacitive: the current leads its voltage
                c, sn = _PHASE_ANGLES[p]
                re += ip * (c * pf - sn * s)
                im += ip * (sn * pf + c * s)
            neutral = math.hypot(re, im)
        if residual_ma is None:
            residual = self._residual + 0.15 * cur + 0.3 * (self._rng.random() - 0.5)
        else:
            residual = residual_ma
        sc = _SCALE
        groups[(_T, 0)] = {
            "current": _r(cur, sc["current"]), "currentPeak": _r(self._tpeak, sc["currentPeak"]),
            "activePower": _r(wat, sc["activePower"]),
            "apparentPower": _r(va, sc["apparentPower"]),
            "reactivePower": _r(sum(p_var), sc["reactivePower"]),
            "powerFactor": _r(wat / va, sc["powerFactor"]) if va > 0 else 0.0,
            "energy": _r(sum(p_e), sc["energy"]),
            "apparentEnergy": _r(sum(p_ae), sc["apparentEnergy"]),
            "neutralCurrent": _r(neutral, sc["neutralCurrent"]),
            "residualCurrent": _r(max(residual, 0.0), sc["residualCurrent"])}
        return cur

    def _sensors(self, groups: dict[GroupKey, dict[str, float]], t: float, dt: float,
                 load_fraction: float, offset: float) -> None:
        """Sensor groups: temperature follows the load with a lag, humidity moves inversely."""
        rng = self._rng.random
        temps: dict[int, float] = {}
        for probe, base in self._probe_t.items():
            target = (base + 0.6 * math.sin(TWO_PI * t / 5400.0 + self._probe_ph[probe])
                      + 3.5 * load_fraction)
            state = self._probe_state.get(probe)
            state = target if state is None else state + (target - state) * min(
                1.0, dt / THERMAL_TAU_S)
            self._probe_state[probe] = state
            temps[probe] = state + offset + 0.04 * (rng() - 0.5)
        for idx, ch in enumerate(self.sensors, start=1):
            temp = temps[ch.probe]
            if ch.type is SensorType.TEMPERATURE:
                groups[(_S, idx)] = {"temperature": _r(temp, _SCALE["temperature"])}
            elif ch.type is SensorType.HUMIDITY:
                rh = (self._probe_h[ch.probe] - 1.8 * (temp - self._probe_t[ch.probe])
                      + 1.5 * math.sin(TWO_PI * t / 7200.0 + 2.0 * self._probe_ph[ch.probe])
                      + 0.2 * (rng() - 0.5))
                groups[(_S, idx)] = {"humidity": _r(min(90.0, max(10.0, rh)), _SCALE["humidity"])}
            else:
                groups[(_S, idx)] = {}
