"""Backbone registry: YAML name -> module.

A model module exports a frozen ``Params`` dataclass (the YAML's ``model.params``;
defined in the torch-free ``models/params.py``, which the registry entry names too)
and ``build(params, in_shape, num_classes, drop_layer) -> nn.Module`` returning a
*backbone*: ``forward(x) -> h`` with ``h`` the penultimate features (B, D), and
an int attribute ``feature_dim`` (= D). The classifier itself lives in the
regularizer's head, so Malicious Dropout and the DropMax family can see it.
``drop_layer(num_features, kind)`` is called at every gated position (see
``trainables/contract.py``); models never import regularizers.
"""
from __future__ import annotations

from types import ModuleType

from trainables.models import params as P
from trainables.registry import Entry, entry, lookup

MODELS: dict[str, Entry] = {
    "mlp": Entry(P.MlpParams, "trainables.models.mlp"),
    "lenet": Entry(P.LenetParams, "trainables.models.lenet"),
    "maldrop_cnn": Entry(P.MaldropCnnParams, "trainables.models.maldrop_cnn"),
    "tf_cnn": Entry(P.TfCnnParams, "trainables.models.tf_cnn"),
    "resnet": Entry(P.ResnetParams, "trainables.models.resnet"),  # torchvision ResNet-18/34, CIFAR stem (params.depth)
    "resnet_cifar": Entry(P.ResnetCifarParams, "trainables.models.resnet_cifar"),  # He et al. ResNet-20/32/56/110 (params.depth)
    "vgg16": Entry(P.Vgg16Params, "trainables.models.vgg16"),
}


def get(name: str) -> ModuleType:
    return lookup(MODELS, "model", name)


def params(name: str) -> type:
    """The ``Params`` class of model ``name``, without importing torch; ``UnknownName`` lists the valid ones."""
    return entry(MODELS, "model", name).params
