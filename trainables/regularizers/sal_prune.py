"""Build the pruned network that SAL's gates select (Generalized Dropout, seed 003, Sec. 4.1.5); used by ``sal.finalize``.

A prunable network is a chain: the backbone registers Conv2d/Linear layers
each followed by its gate (``GDGate`` with one k per feature map / unit), in
forward order, and the head's classifier is the Linear ``head.o``: LeNet
(conv1, gate1, conv2, gate2, fc1, gate3 -> head.o) and the MLP qualify;
residual nets do not (``ValueError``).

Selection per gate layer (``keep_mask``): ``threshold`` keeps k > t; ``sharp_rise``
(the paper's rule on the sorted-gate curve) puts the cut in the middle of the
largest jump between consecutive sorted k, if that jump is at least
``min_rise``, else falls back to k > t. At least the gate with the largest k
is kept in every layer, so the network stays connected.

Building (``prune``): each gated layer keeps only the rows (output channels /
units) of the surviving gates; the next layer keeps the matching input columns
(a flattened conv map expands into its H*W columns) and the kept k is folded
into those columns:  W'[:, j] = W[:, j] * k_j. Gates become ``nn.Identity``.
In eval mode the pruned net computes exactly the gated net's function when
every removed gate has k = 0; otherwise it differs by the removed units'
k-weighted contributions (k <= threshold).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from trainables.regularizers.dropout_pp import GDElementGate, GDGate

LAYERS = (nn.Conv2d, nn.Linear)


def sharp_rise_cut(k: torch.Tensor) -> tuple[float, float]:
    """(cut, rise): midpoint and size of the largest jump of the sorted gate values."""
    s = torch.sort(k.flatten()).values
    if s.numel() < 2:
        return float("-inf"), 0.0
    d = s[1:] - s[:-1]
    j = int(torch.argmax(d))
    return float((s[j] + s[j + 1]) / 2), float(d[j])


def keep_mask(k: torch.Tensor, rule: str = "threshold", threshold: float = 0.5, min_rise: float = 0.25) -> torch.Tensor:
    """Boolean mask of the gates to keep for one layer (see module docstring)."""
    if rule not in ("threshold", "sharp_rise"):
        raise ValueError(f"rule must be 'threshold' or 'sharp_rise', got {rule!r}")
    cut = threshold
    if rule == "sharp_rise":
        c, rise = sharp_rise_cut(k)
        if rise >= min_rise:
            cut = c
    keep = k > cut
    keep[torch.argmax(k)] = True
    return keep


def gated_chain(net: nn.Module) -> tuple[list[nn.Module], list[GDGate], list[str]]:
    """(layers, gates, layer names) of a prunable ``Net``: len(layers) == len(gates) + 1 (head.o last)."""
    seq = [(n, m) for n, m in net.backbone.named_modules() if isinstance(m, LAYERS + (GDGate,))]
    layers, gates, names = [], [], []
    for i, (n, m) in enumerate(seq):
        want = LAYERS if i % 2 == 0 else (GDGate,)
        if not isinstance(m, want) or isinstance(m, GDElementGate):
            raise ValueError(
                "pruning needs a chain of Conv2d/Linear layers each followed by a per-unit / per-feature-map "
                f"gate (LeNet, MLP); found {type(m).__name__} at backbone.{n}"
            )
        (layers if i % 2 == 0 else gates).append(m)
        if i % 2 == 0:
            names.append("backbone." + n)
    o = getattr(net.head, "o", None)
    if not gates or len(seq) % 2 or not isinstance(o, nn.Linear):
        raise ValueError("pruning needs every backbone layer gated and a Linear classifier head.o")
    return layers + [o], gates, names + ["head.o"]


def _set(root: nn.Module, dotted: str, module: nn.Module) -> None:
    parent, _, name = dotted.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, module)


def _sliced(layer: nn.Module, out_keep: torch.Tensor, in_keep: torch.Tensor, in_scale: torch.Tensor, per: int) -> nn.Module:
    """A new, smaller copy of ``layer`` with rows ``out_keep`` and input channels ``in_keep``
    (each input channel spanning ``per`` consecutive columns of a Linear), inputs scaled by ``in_scale``."""
    w = layer.weight.detach()
    if per > 1:  # Linear reading a flattened (C, H, W) map: channel c owns columns c*per .. c*per+per-1
        in_keep = in_keep.repeat_interleave(per)
        in_scale = in_scale.repeat_interleave(per)
    w = w[out_keep][:, in_keep] * in_scale.view(1, -1, *([1] * (w.dim() - 2)))
    if isinstance(layer, nn.Conv2d):
        if layer.groups != 1:
            raise ValueError("pruning grouped convolutions is not supported")
        new = nn.Conv2d(w.shape[1], w.shape[0], layer.kernel_size, layer.stride, layer.padding,
                        layer.dilation, bias=layer.bias is not None, padding_mode=layer.padding_mode)
    else:
        new = nn.Linear(w.shape[1], w.shape[0], bias=layer.bias is not None)
    new = new.to(device=w.device, dtype=w.dtype)
    with torch.no_grad():
        new.weight.copy_(w)
        if layer.bias is not None:
            new.bias.copy_(layer.bias.detach()[out_keep])
    return new


@torch.no_grad()
def prune(net: nn.Module, keeps: list[torch.Tensor]) -> nn.Module:
    """The pruned network: new smaller layers, kept k folded into the next layer, gates removed."""
    layers, gates, names = gated_chain(net)
    if len(keeps) != len(gates):
        raise ValueError(f"need one keep mask per gate layer ({len(gates)}), got {len(keeps)}")
    new_net = copy.deepcopy(net)
    for g_name, g in new_net.backbone.named_modules():
        if isinstance(g, GDGate):
            _set(new_net.backbone, g_name, nn.Identity())
    dev = layers[0].weight.device
    in_keep = torch.ones(layers[0].weight.shape[1], dtype=torch.bool, device=dev)
    in_scale = torch.ones(int(in_keep.sum()), device=dev)
    prev_out = None
    for i, (layer, name) in enumerate(zip(layers, names)):
        out_keep = keeps[i].to(dev) if i < len(gates) else torch.ones(layer.weight.shape[0], dtype=torch.bool, device=dev)
        per = 1
        if isinstance(layer, nn.Linear) and prev_out is not None:
            per = layer.in_features // prev_out
        _set(new_net, name, _sliced(layer, out_keep, in_keep, in_scale.to(layer.weight.dtype), per))
        if i < len(gates):
            in_keep, in_scale = out_keep, gates[i].unit_k().to(dev)[out_keep]
            prev_out = layer.weight.shape[0]
    widths = tuple(int(m.sum()) for m in keeps)
    if hasattr(new_net.backbone, "widths"):
        new_net.backbone.widths = widths
    new_net.backbone.feature_dim = widths[-1]
    return new_net


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def architecture(widths: tuple[int, ...], num_classes: int) -> str:
    """The paper's form, e.g. ``18-50-296-10``."""
    return "-".join(str(int(w)) for w in (*widths, num_classes))
