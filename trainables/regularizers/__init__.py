"""Regularizer registry: YAML name -> module (see ``contract.py`` for what a module exports)."""
from __future__ import annotations

from types import ModuleType

from trainables.registry import lookup

REGULARIZERS: dict[str, str] = {
    # output side (heads); the DropMax family of paper 000, Table 1
    "softmax": "trainables.regularizers.softmax",
    "sparsemax": "trainables.regularizers.sparsemax",
    "sampled_softmax": "trainables.regularizers.sampled_softmax",
    "random_dropmax": "trainables.regularizers.random_dropmax",
    "det_attention": "trainables.regularizers.det_attention",
    "det_dropmax": "trainables.regularizers.det_dropmax",
    "dropmax_qp": "trainables.regularizers.dropmax_qp",
    "dropmax": "trainables.regularizers.dropmax",
    # Malicious Dropout (paper 004): needs the classifier weights and the label -> a head
    "malicious_dropout": "trainables.regularizers.malicious_dropout",
    # gate layers inside the backbone (paper 003 and the vanilla baseline)
    "dropout": "trainables.regularizers.dropout",
    "dropout_pp": "trainables.regularizers.dropout_pp",
    "sal": "trainables.regularizers.sal",
}


def get(name: str) -> ModuleType:
    """The module of regularizer ``name``; ``UnknownName`` lists the valid ones."""
    return lookup(REGULARIZERS, "regularizer", name)
