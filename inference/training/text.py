"""Training incident-text: a linear head on frozen MiniLM-L6 sentence embeddings.

The encoder's embeddings are computed once; the head trains on them in seconds, which keeps the
full model trainable on a 2-core CPU and the --quick one fast enough for CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from safetensors.torch import save
from tqdm import tqdm

from inference.drift import Baseline, baseline_from
from inference.models.base import Prediction, predictions_from_probabilities
from inference.models.encoder import SentenceEncoder
from inference.models.loading import ENCODER_FILE, TEXT_HEAD_FILE
from inference.models.text import EMBEDDING_SUMMARY_DIMS, TextHead
from inference.training.evaluation import classification_metrics


@dataclass(frozen=True)
class TextTrainingConfig:
    seed: int = 7
    epochs: int = 400
    learning_rate: float = 0.05
    weight_decay: float = 1e-4
    quick: bool = False

    @classmethod
    def for_run(cls, *, quick: bool, seed: int) -> TextTrainingConfig:
        return cls(seed=seed, epochs=120 if quick else 400, quick=quick)


@dataclass(frozen=True)
class TrainedText:
    head: TextHead
    metrics: dict
    files: dict[str, bytes]
    # The drift baseline: what this model predicts on the held-out split.
    baseline: Baseline | None = None
    # Those predictions, as serving makes them: the held-out split is the version's golden set.
    heldout_predictions: tuple[Prediction, ...] = ()


def embed_all(encoder: SentenceEncoder, texts: Sequence[str], *, what: str, batch_size: int = 32) -> torch.Tensor:
    chunks = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc=f"embedding {what}", unit="batch", leave=False,
                          disable=None):
            chunks.append(encoder.forward(encoder.tokenize(texts[start:start + batch_size])))
    return torch.cat(chunks)


def train_text_head(
    *, encoder: SentenceEncoder, train_texts: Sequence[str], train_labels: Sequence[int],
    eval_texts: Sequence[str], eval_labels: Sequence[int], labels: Sequence[str], config: TextTrainingConfig,
) -> TrainedText:
    torch.manual_seed(config.seed)
    train_x = embed_all(encoder, train_texts, what="training texts")
    eval_x = embed_all(encoder, eval_texts, what="held-out texts")
    train_y = torch.tensor(list(train_labels))
    # Embeddings are unit vectors with small coordinates; a scale makes logits reach confident
    # values without a huge learning rate.
    head = TextHead(train_x.shape[1], len(labels))
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    for _ in tqdm(range(config.epochs), desc="training the head", unit="epoch", leave=False, disable=None):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(train_x * 10), train_y)
        loss.backward()
        optimiser.step()
    # Fold the input scale into the weights, so serving needs no special step.
    with torch.no_grad():
        head.linear.weight.mul_(10)
    head.eval()
    with torch.inference_mode():
        probabilities = torch.softmax(head(eval_x), dim=-1)
    metrics = classification_metrics(probabilities, eval_labels, labels)
    metrics["train_loss"] = round(float(loss.detach()), 4)
    predictions = _served_predictions(probabilities, eval_x, labels)
    return TrainedText(head=head, metrics=metrics, files={TEXT_HEAD_FILE: save(head.state_dict())},
                       baseline=_baseline(predictions, labels), heldout_predictions=predictions)


def _served_predictions(probabilities: torch.Tensor, embeddings: torch.Tensor,
                        labels: Sequence[str]) -> tuple[Prediction, ...]:
    # The same predictions (and embedding summaries) that serving would log for these texts.
    return tuple(predictions_from_probabilities(
        probabilities.tolist(), labels, embeddings[:, :EMBEDDING_SUMMARY_DIMS].tolist()))


def _baseline(predictions: Sequence[Prediction], labels: Sequence[str]) -> Baseline:
    return baseline_from(labels=labels, predicted=[p.label for p in predictions],
                         confidences=[p.confidence for p in predictions],
                         embeddings=[p.embedding for p in predictions])


_LOGIT_SCALE = 10.0


@dataclass(frozen=True)
class FineTuneConfig:
    seed: int = 7
    epochs: int = 4
    batch_size: int = 16
    encoder_lr: float = 5e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01


def finetune_text(
    *, train_texts: Sequence[str], train_labels: Sequence[int], eval_texts: Sequence[str],
    eval_labels: Sequence[int], labels: Sequence[str], config: FineTuneConfig,
) -> TrainedText:
    """Fine-tune MiniLM and a linear head together; the version then carries its own encoder."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    encoder = SentenceEncoder.load()
    head = TextHead(encoder.model.config.hidden_size, len(labels))
    optimiser = torch.optim.AdamW(
        [{"params": encoder.model.parameters(), "lr": config.encoder_lr},
         {"params": head.parameters(), "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )
    targets = torch.tensor(list(train_labels))
    steps = (len(train_texts) + config.batch_size - 1) // config.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[config.encoder_lr, config.head_lr], total_steps=steps * config.epochs, pct_start=0.1,
    )
    encoder.model.train()
    for _ in tqdm(range(config.epochs), desc="fine-tuning MiniLM", unit="epoch", leave=False, disable=None):
        order = torch.randperm(len(train_texts), generator=generator).tolist()
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            embeddings = encoder.forward(encoder.tokenize([train_texts[i] for i in batch]))
            loss = torch.nn.functional.cross_entropy(head(embeddings * _LOGIT_SCALE), targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    encoder.model.eval()
    with torch.no_grad():
        head.linear.weight.mul_(_LOGIT_SCALE)
    head.eval()
    eval_x = embed_all(encoder, eval_texts, what="held-out texts")
    with torch.inference_mode():
        probabilities = torch.softmax(head(eval_x), dim=-1)
    metrics = classification_metrics(probabilities, eval_labels, labels)
    files = {TEXT_HEAD_FILE: save(head.state_dict()),
             ENCODER_FILE: save({k: v.contiguous() for k, v in encoder.model.state_dict().items()})}
    predictions = _served_predictions(probabilities, eval_x, labels)
    return TrainedText(head=head, metrics=metrics, files=files, baseline=_baseline(predictions, labels),
                       heldout_predictions=predictions)
