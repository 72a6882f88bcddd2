"""``sweeper.store.writable.refusal``: a folder is judged by creating a file in it (or in the nearest existing
folder above it); what refused is named."""
from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.store.writable import refusal


def test_a_writable_folder_and_one_still_to_be_created_under_it_are_accepted(tmp_path):
    assert refusal(tmp_path) is None
    assert refusal(tmp_path / "a" / "b") is None
    assert list(tmp_path.iterdir()) == []  # the probe file is removed, nothing is created


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc (a mount that takes no new files)")
def test_a_path_under_a_file_or_an_unwritable_mount_is_refused_with_the_reason(tmp_path):
    (tmp_path / "f").write_text("")
    assert refusal(tmp_path / "f" / "x") == f"{tmp_path / 'f'} is not a folder"
    why = refusal("/proc/sweeper-probe/x")  # /proc takes no new files, even as root
    assert why is not None and why.startswith("cannot write to /proc (where /proc/sweeper-probe/x would be created): ")
