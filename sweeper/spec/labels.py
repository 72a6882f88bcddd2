"""Short, readable names for configurations and trials (figure legends, MLflow run names, progress).

A configuration's label in the tables (``trainables.identity.config_label``) is its searched values
under the names the spec, the MLflow params and the Parquet columns use
(``regularizer.name=dropmax, regularizer.tau=0.5, train.lr=0.001``; see
``trainables.config.flatten``). The short form, for figure legends and run names,
keeps the last path component only and shows a searched regularizer by its name
alone: ``dropmax, tau=0.5, lr=0.001``.
"""
from __future__ import annotations


def short_config(config: str) -> str:
    """``regularizer.name=dropmax, regularizer.tau=0.5`` -> ``dropmax, tau=0.5`` (``(fixed)`` stays)."""
    parts = []
    for item in (config or "").split(", "):
        key, sep, value = item.partition("=")
        if not sep:
            parts.append(item)
            continue
        leaf = key.rsplit(".", 1)[-1]
        parts.append(value if leaf == "name" else f"{leaf}={value}")
    # the regularizer's name first when it was searched
    names = [p for p, item in zip(parts, (config or "").split(", ")) if item.split("=", 1)[0] == "regularizer.name"]
    rest = [p for p in parts if p not in names]
    return ", ".join(names + rest)


def config_name(regularizer: str, config: str) -> str:
    """``dropmax tau=0.5 lr=0.001``: the regularizer, then its searched values (no hash)."""
    short = short_config(config)
    if short in ("(fixed)", ""):
        return regularizer
    items = short.split(", ")
    if items[0] == regularizer:
        items = items[1:]
    return " ".join([regularizer, *items])


def run_name(regularizer: str, config: str, seed: int) -> str:
    """An MLflow child run's name: ``dropmax tau=0.5 lr=0.001 seed=1``."""
    return f"{config_name(regularizer, config)} seed={seed}"
