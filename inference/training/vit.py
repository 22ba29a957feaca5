"""Training chart-vit: a small ViT, from random weights, on charts the project renders itself.

- Data: ``generate_examples`` renders labelled charts in the training style families
  (``TRAIN_STYLES``) at realistic screenshot sizes; they are rendered once, in a few
  processes, and kept in memory as uint8 tensors at the model's input size. The rendering is split
  into a fixed number of shards with their own seeds, so the data does not depend on how many
  processes render it.
- Evaluation: charts in the held-out style family only (``EVAL_STYLES``: a whole rendering style
  the model never trains on), from a fixed seed, so every version is measured on the same set. A
  small set of unseen charts in the training styles is scored as well (``seen_styles_accuracy``),
  to show the gap between seen and unseen styles.
- Recipe: AdamW, linear warm-up then cosine decay, gradient clipping, and (in the full run) cheap
  batched augmentation (random zoom and shift, channel shuffles, greyscale, contrast, blur, noise).
- Deterministic for a seed: the weights, the batches and the augmentation all draw from generators
  seeded by it, and torch runs with a fixed number of threads.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save
from tqdm import tqdm
from transformers import ViTConfig, ViTForImageClassification

from inference.charts.dataset import (
    EVAL_STYLES,
    TRAIN_STYLES,
    generate_examples,
    preprocess,
)
from inference.charts.patterns import CHART_PATTERNS
from inference.models.vit import (
    INPUT_PIPELINE,
    WEIGHTS_FILE,
    build_vit,
    forward,
    vit_config_dict,
)
from inference.training.evaluation import classification_metrics

# Every version is evaluated on the same held-out charts, whatever its training seed.
EVAL_SEED = 900_001
SEEN_STYLES_SEED = 900_002
# Charts are rendered in this many shards (each with its own seed), whatever the process count.
RENDER_SHARDS = 16


@dataclass(frozen=True)
class ChartTrainingConfig:
    seed: int = 7
    quick: bool = False
    # model: a 128 x 64 input read as 32 full-height columns, 4 pixels wide (see inference.models.vit)
    image_width: int = 128
    image_height: int = 64
    column_width: int = 4
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 256
    # data
    train_per_class: int = 1600
    eval_per_class: int = 100
    seen_eval_per_class: int = 25
    train_styles: tuple[str, ...] = TRAIN_STYLES
    eval_styles: tuple[str, ...] = EVAL_STYLES
    # optimisation
    epochs: int = 16
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    label_smoothing: float = 0.0
    augment: bool = True
    # how, not what: not part of the version's fingerprint
    threads: int = field(default=2, compare=False)
    render_workers: int = field(default=2, compare=False)

    @classmethod
    def for_run(cls, *, quick: bool, seed: int) -> ChartTrainingConfig:
        if quick:
            return cls(seed=seed, quick=True, train_per_class=400, eval_per_class=25, seen_eval_per_class=10,
                       epochs=8, hidden_size=96, num_layers=3, intermediate_size=192, augment=False)
        return cls(seed=seed)

    def vit_config(self, labels: Sequence[str]) -> ViTConfig:
        vit = ViTConfig(
            image_size=(self.image_height, self.image_width), patch_size=(self.image_height, self.column_width),
            num_channels=3, hidden_size=self.hidden_size,
            num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        )
        # Set, not passed: transformers' typed ViTConfig(...) does not list num_labels (its setter does it).
        vit.num_labels = len(labels)
        return vit

    @property
    def input_size(self) -> tuple[int, int]:
        return self.image_width, self.image_height

    def settings(self) -> dict:
        """What decides the trained weights (the fingerprint and the manifest's config)."""
        data = asdict(self)
        for key in ("threads", "render_workers"):
            data.pop(key)
        data["train_styles"] = list(self.train_styles)
        data["eval_styles"] = list(self.eval_styles)
        return data


@dataclass(frozen=True)
class TrainedChart:
    model: ViTForImageClassification
    metrics: dict
    config: dict
    files: dict[str, bytes]


def renderer_hash() -> str:
    """A hash of the chart renderer's source: the training data is a pure function of it and the seeds."""
    import inference.charts as charts

    digest = hashlib.sha256()
    for path in sorted(Path(charts.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- data


def _render_shard(args: tuple[tuple[str, ...], int, int, int | tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    styles, per_class, seed, size = args
    images, labels = [], []
    for example in generate_examples(per_class, styles=styles, seed=seed):
        images.append(np.round(preprocess(example.image, size) * 255.0).astype(np.uint8))
        labels.append(CHART_PATTERNS.index(example.label))
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def render_charts(styles: Sequence[str], per_class: int, *, seed: int, size: int | tuple[int, int], workers: int = 1,
                  what: str = "charts") -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (N, 3, height, width), class indices (N,)) from ``generate_examples``.

    ``size`` is (width, height), or an int for a square.

    The charts are rendered in up to ``RENDER_SHARDS`` shards; shard ``k`` is
    ``generate_examples(its share, styles, seed=seed * RENDER_SHARDS + k)``. The result depends on
    ``styles``, ``per_class``, ``seed`` and ``size`` only, never on ``workers``.
    """
    shards = max(1, min(RENDER_SHARDS, per_class))
    counts = [per_class // shards + (1 if k < per_class % shards else 0) for k in range(shards)]
    jobs = [(tuple(styles), n, seed * RENDER_SHARDS + k, size) for k, n in enumerate(counts) if n]
    total = per_class * len(CHART_PATTERNS)
    bar = tqdm(total=total, desc=f"rendering {what}", unit="chart", leave=False, disable=None)
    results: list[tuple[np.ndarray, np.ndarray]] = []
    try:
        if workers > 1 and len(jobs) > 1:
            try:
                # spawn, not fork: forking a process that runs torch's thread pools is not safe.
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
                    for images, labels in pool.map(_render_shard, jobs):
                        results.append((images, labels))
                        bar.update(len(labels))
            except (BrokenProcessPool, OSError) as exc:
                # e.g. a calling script without an `if __name__ == "__main__":` guard, which
                # spawned processes cannot import: render here instead (the same charts).
                warnings.warn(f"rendering in one process: the process pool failed ({exc})", RuntimeWarning,
                              stacklevel=2)
                results.clear()
                bar.reset()
        for job in jobs[len(results):]:
            images, labels = _render_shard(job)
            results.append((images, labels))
            bar.update(len(labels))
    finally:
        bar.close()
    all_images = torch.from_numpy(np.concatenate([r[0] for r in results]))
    all_labels = torch.from_numpy(np.concatenate([r[1] for r in results]))
    return all_images, all_labels


# --------------------------------------------------------------------------- augmentation


def augment(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Cheap batched augmentation of (B, 3, S, S) pixels in [0, 1]; never flips (that changes the class)."""
    batch = pixels.shape[0]

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.rand(batch, *shape, generator=generator) * (high - low) + low

    def chance(p: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) < p)[:, None, None, None]

    # Random zoom (0.85-1.05 of the frame, aspect kept loosely) and shift: screenshots are cropped
    # or padded differently.
    scale_x, scale_y = uniform(0.85, 1.05), uniform(0.85, 1.05)
    shift_x, shift_y = uniform(-0.08, 0.08), uniform(-0.08, 0.08)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = scale_x, shift_x
    theta[:, 1, 1], theta[:, 1, 2] = scale_y, shift_y
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    x = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Dashboard furniture drawn over the chart: a horizontal threshold line (solid or dashed),
    # sometimes with the region beyond it shaded, as alarm thresholds are drawn.
    x = _threshold_lines(x, generator, chance(0.3).flatten(), uniform)
    # Colours: shuffle the channels, sometimes greyscale, and vary the contrast.
    order = torch.argsort(torch.rand(batch, 3, generator=generator), dim=1)
    x = torch.gather(x, 1, order[:, :, None, None].expand_as(x))
    x = torch.where(chance(0.2), x.mean(dim=1, keepdim=True).expand_as(x), x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(0.6, 1.3, 1, 1, 1) + mean
    # Softness (a blurred screenshot) and sensor-like noise.
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = torch.where(chance(0.25), blurred, x)
    x = x + torch.randn(x.shape, generator=generator) * uniform(0.0, 0.02, 1, 1, 1)
    return x.clamp(0.0, 1.0)


def _threshold_lines(x: torch.Tensor, generator: torch.Generator, which: torch.Tensor, uniform) -> torch.Tensor:
    batch, _, height, width = x.shape
    rows = torch.arange(height)[None, :, None]
    cols = torch.arange(width)[None, None, :]
    row = (uniform(0.1, 0.9) * height).long()[:, None, None]
    thick = torch.randint(1, 3, (batch, 1, 1), generator=generator)
    period = torch.randint(3, 7, (batch, 1, 1), generator=generator)
    dashed = (torch.rand(batch, 1, 1, generator=generator) < 0.5) & (cols % period >= period // 2 + 1)
    line = (rows >= row) & (rows < row + thick) & ~dashed
    above = torch.rand(batch, 1, 1, generator=generator) < 0.5
    shade = torch.where(above, rows < row, rows >= row + thick) & (torch.rand(batch, 1, 1, generator=generator) < 0.5)
    colour = torch.rand(batch, 3, 1, 1, generator=generator)
    alpha = uniform(0.05, 0.15, 1, 1)
    line_mask = (line & which[:, None, None])[:, None].float()
    shade_mask = (shade & which[:, None, None])[:, None].float() * alpha[:, None]
    x = x * (1 - shade_mask) + colour * shade_mask
    return x * (1 - line_mask) + colour * line_mask


# --------------------------------------------------------------------------- training


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@torch.inference_mode()
def predict_probabilities(model: ViTForImageClassification, images: torch.Tensor,
                          batch_size: int = 256) -> torch.Tensor:
    model.eval()
    chunks = [torch.softmax(forward(model, images[i:i + batch_size].float() / 255.0)[0], dim=-1)
              for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def train_chart_vit(config: ChartTrainingConfig, labels: Sequence[str] = CHART_PATTERNS) -> TrainedChart:
    if tuple(labels) != CHART_PATTERNS[: len(labels)] or not labels:
        raise ValueError("labels must be CHART_PATTERNS (the renderer's class order)")
    overlap = set(config.train_styles) & set(config.eval_styles)
    if overlap:
        raise ValueError(f"the evaluation style must never be trained on: {sorted(overlap)}")
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        train_x, train_y = render_charts(config.train_styles, config.train_per_class, seed=config.seed,
                                         size=config.input_size, workers=config.render_workers,
                                         what="training charts")
        eval_x, eval_y = render_charts(config.eval_styles, config.eval_per_class, seed=EVAL_SEED,
                                       size=config.input_size, workers=config.render_workers,
                                       what="held-out-style charts")
        seen_x, seen_y = render_charts(config.train_styles, config.seen_eval_per_class, seed=SEEN_STYLES_SEED,
                                       size=config.input_size, workers=1, what="seen-style charts")
        rendered = time.perf_counter()

        torch.manual_seed(config.seed)
        vit_config = vit_config_dict(config.vit_config(labels))
        model = build_vit(vit_config)
        model.train()
        generator = torch.Generator().manual_seed(config.seed)
        steps_per_epoch = math.ceil(len(train_y) / config.batch_size)
        total = steps_per_epoch * config.epochs
        warmup = max(1, int(total * config.warmup_fraction))
        optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _lr_factor(step, total, warmup))
        running = 0.0
        with tqdm(total=total, desc="training chart-vit", unit="step", leave=False, disable=None) as bar:
            for epoch in range(config.epochs):
                order = torch.randperm(len(train_y), generator=generator)
                seen, loss_sum = 0, 0.0
                for start in range(0, len(order), config.batch_size):
                    index = order[start:start + config.batch_size]
                    pixels = train_x[index].float() / 255.0
                    if config.augment:
                        pixels = augment(pixels, generator)
                    logits, _ = forward(model, pixels)
                    loss = F.cross_entropy(logits, train_y[index], label_smoothing=config.label_smoothing)
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimiser.step()
                    scheduler.step()
                    seen += len(index)
                    loss_sum += float(loss.detach()) * len(index)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / seen:.3f}")
                running = loss_sum / max(1, seen)
        trained = time.perf_counter()

        model.eval()
        probabilities = predict_probabilities(model, eval_x)
        metrics = classification_metrics(probabilities, eval_y.tolist(), labels)
        seen_probabilities = predict_probabilities(model, seen_x)
        metrics["seen_styles_accuracy"] = round(float((seen_probabilities.argmax(-1) == seen_y).float().mean()), 4)
        metrics["train_loss"] = round(running, 4)
        metrics["train_examples"] = len(train_y)
        # Wall time (the only part of the metrics that is not a pure function of the seed).
        metrics["seconds"] = {"render": round(rendered - started, 1), "train": round(trained - rendered, 1)}
    finally:
        torch.set_num_threads(previous_threads)
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    recorded = {
        **config.settings(),
        "vit": vit_config,
        "input_pipeline": INPUT_PIPELINE,
        "eval_style": ",".join(config.eval_styles),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return TrainedChart(model=model, metrics=metrics, config=recorded, files={WEIGHTS_FILE: save(state)})
