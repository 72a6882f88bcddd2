"""The sweep spec: a YAML file -> one validated, frozen ``SweepSpec`` (imports neither torch nor Ray).

- ``model``: the records (``SweepSpec``, ``Param``, ``Search``, ``Resources``) and ``SpecError``;
- ``validate``: ``load(path)`` / ``from_dict(raw)``, every problem at once with its YAML path, by
  per-section checkers: ``checks`` (the problem list, type checks), ``sections`` (dataset, model,
  regularizer, train), ``params_check`` (values and searched ranges against the ``Params``
  declarations, by interval arithmetic), ``space_parse`` (``space:`` and ``when:``), ``search_check``;
- ``schema``: the spec's JSON Schema from the same declarations (``sweeper schema``);
- ``yamlsafe``: the guarded YAML reader; ``names``: sweep ids; ``paper``: the ``paper:`` block;
- ``labels``: readable names of configurations and trials.

The package exports the public API below; older pickled sweeps also refer to these names.
"""
from sweeper.spec.model import Param, Resources, Search, SpecError, SweepSpec, with_data_root
from sweeper.spec.validate import from_dict, load

__all__ = ["Param", "Resources", "Search", "SpecError", "SweepSpec", "from_dict", "load", "with_data_root"]
