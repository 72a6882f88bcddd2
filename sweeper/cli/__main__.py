"""``python -m sweeper.cli``: the ``sweeper`` program."""
from sweeper.cli import entry

entry()
