"""Training ``fusion`` on paired (text, chart) examples, and measuring it against each input alone.

The component models (a version of ``incident-text`` and one of ``chart-vit``) are frozen: their
outputs for every pair are computed once, then three heads of the same shape are trained on them:

- ``fusion``: reads text and chart features (this is the version published);
- ``text_only`` and ``chart_only``: the same network with one input, the ablations.

All three are scored on the evaluation pairs: held-out texts with charts in the held-out rendering
style (``inference.datasets.paired``). The metrics record each one's runbook-class accuracy,
mechanism accuracy and joint accuracy (both right), so the manifest says with numbers what the
fusion adds over either input alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from safetensors.torch import save
from tqdm import tqdm

from inference.charts.dataset import EVAL_STYLES, TRAIN_STYLES
from inference.datasets.paired import PairedExample, paired_examples
from inference.mechanisms import MECHANISMS
from inference.models.fusion import (
    WEIGHTS_FILE,
    FusionHead,
    chart_features,
    head_config,
    text_features,
)
from inference.models.text import TextClassifier
from inference.models.vit import ChartClassifier
from inference.training.evaluation import classification_metrics
from runbooks.classes import RUNBOOK_CLASSES

EVAL_SEED = 910_001
FEATURE_BATCH = 64


@dataclass(frozen=True)
class FusionTrainingConfig:
    seed: int = 7
    quick: bool = False
    train_charts_per_text: int = 3
    eval_charts_per_text: int = 2
    hidden: int = 128
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    dropout: float = 0.1
    threads: int = field(default=2, compare=False)

    @classmethod
    def for_run(cls, *, quick: bool, seed: int) -> FusionTrainingConfig:
        if quick:
            return cls(seed=seed, quick=True, train_charts_per_text=1, eval_charts_per_text=1, epochs=25)
        return cls(seed=seed)

    def settings(self) -> dict:
        data = asdict(self)
        data.pop("threads")
        return data


@dataclass(frozen=True)
class Features:
    text: torch.Tensor
    chart: torch.Tensor
    runbook: torch.Tensor
    mechanism: torch.Tensor


@dataclass(frozen=True)
class TrainedFusion:
    head: FusionHead
    metrics: dict
    config: dict
    files: dict[str, bytes]


@torch.inference_mode()
def extract_features(pairs: Sequence[PairedExample], text_model: TextClassifier, chart_model: ChartClassifier,
                     *, what: str) -> Features:
    text_parts, chart_parts = [], []
    with tqdm(total=len(pairs), desc=f"features of {what}", unit="pair", leave=False, disable=None) as bar:
        for start in range(0, len(pairs), FEATURE_BATCH):
            batch = pairs[start:start + FEATURE_BATCH]
            text_parts.append(text_features(text_model, [p.text for p in batch]))
            chart_parts.append(chart_features(chart_model, [p.image for p in batch]))
            bar.update(len(batch))
    return Features(
        text=torch.cat(text_parts), chart=torch.cat(chart_parts),
        runbook=torch.tensor([RUNBOOK_CLASSES.index(p.runbook_class) for p in pairs]),
        mechanism=torch.tensor([MECHANISMS.index(p.mechanism) for p in pairs]),
    )


def _lr_factor(step: int, total: int) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * step / max(1, total)))


def train_head(train: Features, config: FusionTrainingConfig, inputs: Sequence[str]) -> FusionHead:
    torch.manual_seed(config.seed)
    head = FusionHead(text_dims=train.text.shape[1], chart_dims=train.chart.shape[1], classes=len(RUNBOOK_CLASSES),
                      mechanisms=len(MECHANISMS), hidden=config.hidden, inputs=inputs, dropout=config.dropout)
    generator = torch.Generator().manual_seed(config.seed)
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    total = math.ceil(len(train.runbook) / config.batch_size) * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _lr_factor(step, total))
    head.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(train.runbook), generator=generator)
        for start in range(0, len(order), config.batch_size):
            index = order[start:start + config.batch_size]
            runbook_logits, mechanism_logits, _ = head(train.text[index], train.chart[index])
            loss = (F.cross_entropy(runbook_logits, train.runbook[index])
                    + F.cross_entropy(mechanism_logits, train.mechanism[index]))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
    head.eval()
    return head


@torch.inference_mode()
def evaluate_head(head: FusionHead, data: Features) -> dict:
    runbook_logits, mechanism_logits, _ = head(data.text, data.chart)
    runbook = torch.softmax(runbook_logits, dim=-1)
    mechanism = torch.softmax(mechanism_logits, dim=-1)
    runbook_metrics = classification_metrics(runbook, data.runbook.tolist(), RUNBOOK_CLASSES)
    mechanism_metrics = classification_metrics(mechanism, data.mechanism.tolist(), MECHANISMS)
    both = (runbook.argmax(-1) == data.runbook) & (mechanism.argmax(-1) == data.mechanism)
    return {
        "runbook_accuracy": runbook_metrics["accuracy"],
        "runbook_macro_f1": runbook_metrics["macro_f1"],
        "mechanism_accuracy": mechanism_metrics["accuracy"],
        "mechanism_macro_f1": mechanism_metrics["macro_f1"],
        "joint_accuracy": round(float(both.float().mean()), 4),
        "per_class_f1": runbook_metrics["per_class_f1"],
        "per_mechanism_f1": mechanism_metrics["per_class_f1"],
    }


def train_fusion(config: FusionTrainingConfig, text_model: TextClassifier, chart_model: ChartClassifier,
                 *, components: dict[str, str]) -> TrainedFusion:
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        train_pairs = list(paired_examples("train", charts_per_text=config.train_charts_per_text,
                                           styles=TRAIN_STYLES, seed=config.seed))
        eval_pairs = list(paired_examples("heldout", charts_per_text=config.eval_charts_per_text,
                                          styles=EVAL_STYLES, seed=EVAL_SEED))
        train = extract_features(train_pairs, text_model, chart_model, what="training pairs")
        held_out = extract_features(eval_pairs, text_model, chart_model, what="evaluation pairs")
        featured = time.perf_counter()
        heads = {name: train_head(train, config, inputs)
                 for name, inputs in (("fusion", ("text", "chart")), ("text_only", ("text",)),
                                      ("chart_only", ("chart",)))}
        scores = {name: evaluate_head(head, held_out) for name, head in heads.items()}
    finally:
        torch.set_num_threads(previous_threads)
    fused = scores["fusion"]
    metrics = {
        # "accuracy" and "macro_f1" are the runbook class's, as for incident-text: the manifest's labels.
        "accuracy": fused["runbook_accuracy"],
        "macro_f1": fused["runbook_macro_f1"],
        "mechanism_accuracy": fused["mechanism_accuracy"],
        "mechanism_macro_f1": fused["mechanism_macro_f1"],
        "joint_accuracy": fused["joint_accuracy"],
        "per_class_f1": fused["per_class_f1"],
        "per_mechanism_f1": fused["per_mechanism_f1"],
        "comparison": {name: {k: v for k, v in s.items() if not k.startswith("per_")} for name, s in scores.items()},
        "examples": len(eval_pairs),
        "train_examples": len(train_pairs),
        "seconds": {"features": round(featured - started, 1), "train": round(time.perf_counter() - featured, 1)},
    }
    head = heads["fusion"]
    text_dims, chart_dims = train.text.shape[1], train.chart.shape[1]
    recorded = {
        **config.settings(),
        "head": head_config(head, text_dims=text_dims, chart_dims=chart_dims, hidden=config.hidden),
        "mechanisms": list(MECHANISMS),
        "components": components,
        "train_styles": list(TRAIN_STYLES),
        "eval_styles": list(EVAL_STYLES),
    }
    state = {name: tensor.detach().contiguous() for name, tensor in head.state_dict().items()}
    return TrainedFusion(head=head, metrics=metrics, config=recorded, files={WEIGHTS_FILE: save(state)})
