"""Metric time series with a known shape: the main line of a synthetic dashboard chart.

`generate_series(pattern, rng, length)` returns the values of one metric (latency in ms, an error
rate in %, requests/s, CPU %, ...) over a window, shaped as one of `CHART_PATTERNS`:

- ``normal``: baseline plus noise, sometimes a daily-ish wave, sometimes a couple of small
  outliers (a few sigma, never spike-sized).
- ``spike``: one short burst (1 to ~4% of the window) far above the baseline, then back.
- ``step_up`` / ``step_down``: a level shift 25-75% along the window that persists to the end.
- ``trend_up`` / ``trend_down``: a gradual ramp (linear or curved) over at least half the window.
- ``flatline``: the metric drops to exactly zero and stays there, or stops reporting (NaN to the
  end: the chart's line ends early).
- ``oscillation``: 3-12 clear periodic swings whose amplitude dwarfs the noise.

Charts auto-scale their y axis, so what a reader sees is shape relative to noise. Every
pattern's magnitude is therefore drawn in units of the noise sigma (with a floor relative to the
baseline, for charts whose axis starts at zero), and the noise is capped where needed so that the
pattern stays readable; positions, magnitudes, widths and curvature all vary.

`describe_series(series)` gives the statistics the tests use to check that the classes separate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHART_PATTERNS = (
    "normal",
    "spike",
    "step_up",
    "step_down",
    "trend_up",
    "trend_down",
    "flatline",
    "oscillation",
)


@dataclass(frozen=True)
class MetricKind:
    """A kind of metric: a realistic baseline range, noise range, unit and chart titles."""

    name: str
    baseline: tuple[float, float]  # log-uniform range of the normal level
    noise: tuple[float, float]  # log-uniform range of the noise sigma, relative to the baseline
    unit: str
    titles: tuple[str, ...]
    percent: bool = False  # bounded by 100
    integer: bool = False  # counts
    skewed: bool = False  # right-skewed noise (latencies)


METRIC_KINDS: dict[str, MetricKind] = {
    kind.name: kind
    for kind in (
        MetricKind(
            "latency",
            (12.0, 900.0),
            (0.03, 0.14),
            "ms",
            (
                "p95 latency (ms)",
                "p99 latency",
                "request latency p50",
                "inference time (ms)",
                "TargetResponseTime",
                "model_latency_seconds p95",
                "predict latency",
                "Latency (ms) - fraud-scorer",
                "http_request_duration p99",
                "embedding svc latency",
            ),
            skewed=True,
        ),
        MetricKind(
            "error_rate",
            (0.2, 6.0),
            (0.05, 0.18),
            "%",
            (
                "5xx rate",
                "error rate (%)",
                "HTTPCode_Target_5XX_Count %",
                "failed predictions %",
                "errors / requests",
                "4xx+5xx ratio",
                "Error rate - ranker-api",
            ),
            percent=True,
        ),
        MetricKind(
            "throughput",
            (20.0, 8000.0),
            (0.02, 0.10),
            "req/s",
            (
                "requests/s",
                "throughput (req/s)",
                "RequestCount",
                "predictions per second",
                "ingest events/s",
                "QPS",
                "Invocations",
            ),
        ),
        MetricKind(
            "cpu",
            (8.0, 62.0),
            (0.02, 0.10),
            "%",
            ("CPU utilization (%)", "CPUUtilization", "node cpu %", "container CPU", "cpu usage - gpu-node-3"),
            percent=True,
        ),
        MetricKind(
            "memory",
            (0.5, 48.0),
            (0.005, 0.03),
            "GiB",
            ("memory usage (GiB)", "container_memory_working_set", "RSS", "MemoryUtilization", "heap used"),
        ),
        MetricKind(
            "queue_depth",
            (20.0, 600.0),
            (0.04, 0.18),
            "",
            (
                "queue depth",
                "ApproximateNumberOfMessagesVisible",
                "pending inference jobs",
                "kafka consumer lag",
                "backlog",
            ),
            integer=True,
        ),
        MetricKind(
            "gpu_util",
            (15.0, 72.0),
            (0.03, 0.12),
            "%",
            ("GPU utilization", "DCGM_FI_DEV_GPU_UTIL", "gpu util %", "accelerator busy %"),
            percent=True,
        ),
    )
}


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _noise(rng: np.random.Generator, length: int, skewed: bool) -> np.ndarray:
    """Unit-variance noise: white or AR(1), sometimes right-skewed."""
    e = rng.standard_normal(length)
    if rng.random() < 0.45:
        phi = rng.uniform(0.3, 0.75)
        scale = np.sqrt(1.0 - phi * phi)
        out = np.empty(length)
        acc = e[0]
        out[0] = acc
        for i in range(1, length):
            acc = phi * acc + scale * e[i]
            out[i] = acc
        e = out
    if skewed and rng.random() < 0.7:
        s = rng.uniform(0.25, 0.45)
        e = np.exp(s * e)
        e = (e - e.mean()) / (e.std() + 1e-12)
    return e


def _ramp(rng: np.random.Generator, n: int) -> np.ndarray:
    """A monotone 0 -> 1 curve over n points: linear, convex, concave or exponential-ish."""
    u = np.linspace(0.0, 1.0, n)
    shape = rng.integers(4)
    if shape == 0:
        return u
    if shape == 1:
        return u ** rng.uniform(1.3, 2.1)
    if shape == 2:
        return 1.0 - (1.0 - u) ** rng.uniform(1.3, 2.1)
    k = rng.uniform(1.0, 2.5)
    return np.expm1(k * u) / np.expm1(k)


def _wave(rng: np.random.Generator, phase: np.ndarray) -> np.ndarray:
    """A periodic waveform in [-1, 1] of the phase (radians)."""
    kind = rng.integers(5)
    if kind == 0:
        return np.sin(phase)
    if kind == 1:  # square-ish
        k = rng.uniform(2.0, 6.0)
        return np.tanh(k * np.sin(phase)) / np.tanh(k)
    if kind == 2:  # sawtooth (slow rise, fast reset), e.g. a batch job or GC cycle
        frac = (phase / (2 * np.pi)) % 1.0
        return 2.0 * frac - 1.0
    if kind == 3:  # triangle
        frac = (phase / (2 * np.pi)) % 1.0
        return 1.0 - 4.0 * np.abs(frac - 0.5)
    return 2.0 * np.abs(np.sin(phase / 2.0)) - 1.0  # bumps


def generate_series(
    pattern: str,
    rng: np.random.Generator,
    length: int,
    *,
    metric: str | None = None,
) -> np.ndarray:
    """The main series of a chart showing `pattern`: `length` float64 values, NaN where missing.

    `metric` picks a kind from `METRIC_KINDS` (random when None). Values are non-negative, and
    percentages stay at or below 100.
    """
    if pattern not in CHART_PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {CHART_PATTERNS}")
    if length < 32:
        raise ValueError("length must be at least 32")
    kind = METRIC_KINDS[metric] if metric is not None else METRIC_KINDS[rng.choice(list(METRIC_KINDS))]
    n = length
    t = np.arange(n, dtype=np.float64)
    base = _loguniform(rng, *kind.baseline)
    sigma = base * _loguniform(rng, *kind.noise)
    level = np.full(n, base)
    tail_zero_from: int | None = None
    tail_nan_from: int | None = None

    if pattern == "normal":
        pass
    elif pattern == "spike":
        height = max(sigma * rng.uniform(10.0, 30.0), base * _loguniform(rng, 0.4, 4.0))
        sigma = min(sigma, height / 10.0)
        width = int(rng.integers(1, max(2, round(n * rng.uniform(0.008, 0.04))) + 1))
        start = int(rng.uniform(0.08, 0.92) * n)
        start = min(start, n - width - 1)
        shape_kind = rng.integers(3)
        if shape_kind == 0 or width <= 2:
            shape = np.ones(width)
        elif shape_kind == 1:
            shape = 1.0 - np.abs(np.linspace(-1.0, 1.0, width + 2)[1:-1])
            shape = shape / shape.max()
        else:  # sharp rise, quick decay
            shape = np.exp(-np.arange(width) / max(1.0, width / 3.0))
        level[start : start + width] += height * shape
    elif pattern in ("step_up", "step_down"):
        t0 = int(rng.uniform(0.25, 0.75) * n)
        if pattern == "step_up":
            delta = max(sigma * rng.uniform(6.0, 20.0), base * rng.uniform(0.2, 1.0))
            sigma = min(sigma, delta / 6.0)
        else:
            delta = base * rng.uniform(0.25, 0.65)
            # some visible noise on the lower level, so it never reads as a drop to a dead zero
            sigma = min(max(sigma, delta / 30.0), delta / 6.0, (base - delta) / 4.0)
            delta = -delta
        ramp_len = int(rng.integers(0, 4))
        shift = np.zeros(n)
        if ramp_len:
            shift[t0 : t0 + ramp_len] = np.linspace(0.0, 1.0, ramp_len + 2)[1:-1][: n - t0]
        shift[t0 + ramp_len :] = 1.0
        level = level + delta * shift
        if rng.random() < 0.3:  # an overshoot that settles, as after a deploy
            settle = np.exp(-np.maximum(t - t0, 0) / rng.uniform(1.5, 4.0)) * (t >= t0)
            level = level + delta * rng.uniform(0.1, 0.4) * settle
    elif pattern in ("trend_up", "trend_down"):
        t0 = 0 if rng.random() < 0.5 else int(rng.uniform(0.0, 0.35) * n)
        t1 = n if rng.random() < 0.7 else int(rng.uniform(0.9, 1.0) * n)
        t1 = max(t1, t0 + n // 2)
        if pattern == "trend_up":
            change = max(sigma * rng.uniform(8.0, 25.0), base * rng.uniform(0.3, 1.5))
            sigma = min(sigma, change / 8.0)
        else:
            change = base * rng.uniform(0.3, 0.7)
            sigma = min(sigma, change / 8.0, (base - change) / 4.0)
            change = -change
        ramp = np.zeros(n)
        ramp[t0:t1] = _ramp(rng, t1 - t0)
        ramp[t1:] = 1.0
        level = level + change * ramp
    elif pattern == "flatline":
        if rng.random() < 0.55:
            tail_zero_from = int(rng.uniform(0.3, 0.85) * n)
        else:  # leave a gap of at least a fifth of the window, so the early end is visible
            tail_nan_from = int(rng.uniform(0.3, 0.8) * n)
    elif pattern == "oscillation":
        cycles = rng.uniform(3.0, min(12.0, n / 10.0))
        amp = max(sigma * rng.uniform(4.0, 12.0), base * rng.uniform(0.15, 0.6))
        amp = min(amp, 0.7 * base)
        sigma = min(sigma, amp / 4.0)
        phase = 2 * np.pi * cycles * t / n + rng.uniform(0, 2 * np.pi)
        wave = _wave(rng, phase)
        if rng.random() < 0.3:  # swings start a little way in
            onset = rng.uniform(0.05, 0.2) * n
            wave = wave * np.clip((t - onset) / max(1.0, 0.05 * n), 0.0, 1.0)
        level = level + amp * wave

    # Daily-ish seasonality: about one cycle over the window, no bigger than the noise, so that
    # it never reads as a trend or an oscillation.
    if pattern != "oscillation" and rng.random() < 0.4:
        period = n * rng.uniform(0.8, 1.3)
        level = level + sigma * rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))

    # Noise, partly multiplicative (it grows with the level, as latency noise does).
    gamma = rng.uniform(0.0, 0.5)
    noise = _noise(rng, n, kind.skewed) * sigma * (np.maximum(level, 1e-9) / base) ** gamma
    x = level + noise

    if pattern == "normal" and rng.random() < 0.5:  # a few small outliers, never spike-sized
        k = int(rng.integers(1, 4))
        idx = rng.choice(n, size=k, replace=False)
        signs = np.where(rng.random(k) < 0.8, 1.0, -1.0)
        x[idx] = level[idx] + signs * sigma * rng.uniform(2.5, 4.0, size=k)

    x = np.maximum(x, 0.0)
    if kind.percent:
        top = float(x.max())
        if top > 99.0:
            x = x * (97.0 / top)
    if kind.integer and sigma >= 2.0:  # counts; coarser ones read as averages over an interval
        x = np.round(x)
    if pattern == "flatline":
        if tail_zero_from is not None:
            drop = int(rng.integers(0, 3))  # an instant drop, or over a point or two
            for i in range(drop):
                j = tail_zero_from - drop + i
                if j > 0:
                    x[j] = x[j] * (drop - i) / (drop + 1)
            x[tail_zero_from:] = 0.0
        else:
            x[tail_nan_from:] = np.nan
    return x


def _robust_sigma(values: np.ndarray) -> float:
    """Noise scale: MAD of the residual from a running median (robust to shifts and spikes)."""
    v = values
    if v.size < 8:
        return float(np.std(v)) + 1e-12
    half = max(2, v.size // 30)
    padded = np.pad(v, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    resid = v - np.median(windows, axis=1)
    dev = np.abs(resid - np.median(resid))
    mad = 1.4826 * float(np.median(dev))
    if mad == 0.0:  # quantised (integer) series: most residuals are exactly zero
        mad = 1.2533 * float(dev.mean())
    spread = float(np.percentile(v, 95) - np.percentile(v, 5))
    return max(mad, 1e-3 * spread, 1e-9)


def describe_series(series: np.ndarray) -> dict[str, float]:
    """Statistics of a series, in units of its noise where that makes sense.

    - ``length``, ``nan_fraction``; ``tail_nan``: trailing NaN run as a fraction of the length;
      ``tail_zero``: trailing exact-zero run as a fraction of the length.
    - ``noise``: robust noise sigma of the reported (finite, non-tail) part.
    - ``level_shift``: (median of the last quarter - median of the first quarter) / noise, over
      the reported part before any zero tail.
    - ``max_jump``: the largest difference between the medians of adjacent windows (1/20 of the
      length each) / noise; ``jump_ratio`` = max_jump / |level_shift| (~1 for a step, small for a
      gradual trend).
    - ``peak_z``: (max - median) / noise; ``trough_z``: (median - min) / noise.
    - ``acf_peak``: the highest autocorrelation of the linearly detrended series after its first
      zero crossing (strong for periodic series).
    """
    x = np.asarray(series, dtype=np.float64)
    n = x.size
    finite = np.isfinite(x)
    tail_nan = 0
    while tail_nan < n and not finite[n - 1 - tail_nan]:
        tail_nan += 1
    body = x[: n - tail_nan]
    tail_zero = 0
    while tail_zero < body.size and body[body.size - 1 - tail_zero] == 0.0:
        tail_zero += 1
    body = body[: body.size - tail_zero]
    body = body[np.isfinite(body)]
    stats: dict[str, float] = {
        "length": float(n),
        "nan_fraction": float(1.0 - finite.mean()),
        "tail_nan": tail_nan / n,
        "tail_zero": tail_zero / n,
    }
    if body.size < 16:
        stats.update(noise=0.0, level_shift=0.0, max_jump=0.0, jump_ratio=0.0, peak_z=0.0, trough_z=0.0, acf_peak=0.0)
        return stats
    m = body.size
    noise = _robust_sigma(body)
    q = max(1, m // 4)
    med = float(np.median(body))
    level_shift = (float(np.median(body[-q:])) - float(np.median(body[:q]))) / noise
    w = max(3, m // 20)
    windows = np.lib.stride_tricks.sliding_window_view(body, w)
    medians = np.median(windows, axis=1)
    jumps = np.abs(medians[w:] - medians[:-w]) if medians.size > w else np.zeros(1)
    max_jump = float(jumps.max()) / noise
    tt = np.arange(m, dtype=np.float64)
    slope, intercept = np.polyfit(tt, body, 1)
    resid = body - (slope * tt + intercept)
    resid = resid - resid.mean()
    denom = float(np.dot(resid, resid)) or 1e-12
    spectrum = np.fft.rfft(resid, 2 * m)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: m // 2] / denom
    below = np.nonzero(acf < 0)[0]
    acf_peak = float(acf[below[0] :].max()) if below.size else 0.0
    stats.update(
        noise=noise,
        level_shift=level_shift,
        max_jump=max_jump,
        jump_ratio=max_jump / max(abs(level_shift), 1e-9),
        peak_z=(float(body.max()) - med) / noise,
        trough_z=(med - float(body.min())) / noise,
        acf_peak=acf_peak,
    )
    return stats
