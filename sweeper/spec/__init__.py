"""The sweep spec: a YAML file -> one validated, frozen ``SweepSpec`` (imports neither torch nor Ray).

- ``model``: the records (``SweepSpec``, ``Param``, ``Search``, ``Resources``) and ``SpecError``;
- ``validate``: ``load(path)`` / ``from_dict(raw)``, every problem at once with its YAML path;
- ``yamlsafe``: the guarded YAML reader; ``names``: sweep ids; ``paper``: the ``paper:`` block;
- ``labels``: readable names of configurations and trials.

The package exports the public API below; older pickled sweeps also refer to these names.
"""
from sweeper.spec.model import Param, Resources, Search, SpecError, SweepSpec, with_data_root
from sweeper.spec.validate import from_dict, load

__all__ = ["Param", "Resources", "Search", "SpecError", "SweepSpec", "from_dict", "load", "with_data_root"]
