"""Regularizer registry: YAML name -> ``Entry(Params, module path)``.

``params(name)`` gives the torch-free ``Params`` class (``params.py``); ``plugin(name)``
imports the implementation module and returns its one ``Regularizer`` entry (``PLUGIN``:
kind, Params, builder, hooks, finalize; see ``trainables/contract.py``); ``get(name)`` the module itself.
"""
from __future__ import annotations

from types import ModuleType

from trainables.contract import Regularizer
from trainables.registry import Entry, entry, lookup
from trainables.regularizers import params as P

REGULARIZERS: dict[str, Entry] = {
    # output side (heads); the DropMax family of paper 000, Table 1
    "softmax": Entry(P.SoftmaxParams, "trainables.regularizers.softmax"),
    "sparsemax": Entry(P.SparsemaxParams, "trainables.regularizers.sparsemax"),
    "sampled_softmax": Entry(P.SampledSoftmaxParams, "trainables.regularizers.sampled_softmax"),
    "random_dropmax": Entry(P.RandomDropmaxParams, "trainables.regularizers.random_dropmax"),
    "det_attention": Entry(P.DetAttentionParams, "trainables.regularizers.det_attention"),
    "det_dropmax": Entry(P.DetDropmaxParams, "trainables.regularizers.det_dropmax"),
    "dropmax_qp": Entry(P.DropmaxQpParams, "trainables.regularizers.dropmax_qp"),
    "dropmax": Entry(P.DropmaxParams, "trainables.regularizers.dropmax"),
    # Malicious Dropout (paper 004): needs the classifier weights and the label -> a head
    "malicious_dropout": Entry(P.MaliciousDropoutParams, "trainables.regularizers.malicious_dropout"),
    # gate layers inside the backbone (paper 003 and the vanilla baseline)
    "dropout": Entry(P.DropoutParams, "trainables.regularizers.dropout"),
    "dropout_pp": Entry(P.DropoutPpParams, "trainables.regularizers.dropout_pp"),
    "sal": Entry(P.SalParams, "trainables.regularizers.sal"),
}


def get(name: str) -> ModuleType:
    """The module of regularizer ``name``; ``UnknownName`` lists the valid ones."""
    return lookup(REGULARIZERS, "regularizer", name)


def params(name: str) -> type:
    """The ``Params`` class of regularizer ``name``, without importing torch; ``UnknownName`` lists the valid ones."""
    return entry(REGULARIZERS, "regularizer", name).params


def plugin(name: str) -> Regularizer:
    """The plug-in entry of regularizer ``name`` (imports its module, and so torch)."""
    entry_ = entry(REGULARIZERS, "regularizer", name)
    p = lookup(REGULARIZERS, "regularizer", name).PLUGIN
    if not isinstance(p, Regularizer) or p.name != name or p.params is not entry_.params:
        raise TypeError(f"{entry_.module}.PLUGIN must be Regularizer(name={name!r}, params={entry_.params.__name__}, ...)")
    return p
