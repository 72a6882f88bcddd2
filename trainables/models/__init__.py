"""Backbone registry: YAML name -> module.

A model module exports a frozen ``Params`` dataclass (the YAML's ``model.params``)
and ``build(params, in_shape, num_classes, drop_layer) -> nn.Module`` returning a
*backbone*: ``forward(x) -> h`` with ``h`` the penultimate features (B, D), and
an int attribute ``feature_dim`` (= D). The classifier itself lives in the
regularizer's head, so Malicious Dropout and the DropMax family can see it.
``drop_layer(num_features, kind)`` is called at every gated position (see
``trainables/regularizers/contract.py``); models never import regularizers.
"""
from __future__ import annotations

from types import ModuleType

from trainables.registry import lookup

MODELS: dict[str, str] = {
    "mlp": "trainables.models.mlp",
    "lenet": "trainables.models.lenet",
    "maldrop_cnn": "trainables.models.maldrop_cnn",
    "tf_cnn": "trainables.models.tf_cnn",
    "resnet": "trainables.models.resnet",  # torchvision ResNet-18/34, CIFAR stem (params.depth)
    "resnet_cifar": "trainables.models.resnet_cifar",  # He et al. ResNet-20/32/56/110 (params.depth)
    "vgg16": "trainables.models.vgg16",
}


def get(name: str) -> ModuleType:
    return lookup(MODELS, "model", name)
