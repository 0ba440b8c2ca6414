"""Action text embedding φ(a_i) without a hub download: hashed character n-gram features.

Each vocabulary agent's text (display name, synonyms, class, dose unit) is turned into a
`dim`-long vector: character 3- and 4-grams of the lower-cased, space-padded words are hashed
(FNV-1a 32-bit) into buckets with a hashed sign, then L2-normalised. The table is computed once
per model and bundled as `action-text.json` next to the ONNX files; the TypeScript runtime reads
the table and never re-implements the hashing. This is the "precomputed table" option of the
issue: a fixed, deterministic text encoder, not a learned language model; σ1 (a learned linear
projection inside the denoiser graph) maps it into the concept space as in Eq. 1.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.json")


def load_vocabulary(path: Path = VOCABULARY_FILE) -> list[dict]:
    if not path.exists():
        raise ValueError(f"{path} is missing: run `npx tsx training/export-vocabulary.ts`")
    return json.loads(path.read_text())["agents"]


def fnv1a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def agent_text(agent: dict) -> str:
    words = [agent["displayName"], *agent["synonyms"], agent["agentClass"].replace("-", " "), agent["doseUnit"], agent["phase"]]
    return " ".join(words).lower()


def hashed_ngrams(text: str, dim: int) -> list[float]:
    vec = [0.0] * dim
    for word in text.split():
        padded = f" {word} "
        for n in (3, 4):
            for i in range(len(padded) - n + 1):
                h = fnv1a(padded[i : i + n])
                vec[h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def text_feature_table(dim: int, agents: list[dict] | None = None) -> dict:
    agents = agents or load_vocabulary()
    return {
        "encoder": f"hashed character 3/4-gram features (FNV-1a, signed, L2-normalised), dim {dim}",
        "dim": dim,
        "features": {a["id"]: hashed_ngrams(agent_text(a), dim) for a in agents},
    }
