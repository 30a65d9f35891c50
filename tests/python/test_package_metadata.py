"""What an index page shows of the installed package: its version (meson.build's
project(), the one place it lives), readme, license and classifiers."""

import importlib.metadata
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parent.parent.parent


def test_metadata_an_index_page_needs():
    metadata = importlib.metadata.metadata("shoal")
    project_version = re.search(r"version\s*:\s*'([^']+)'", (REPO / "meson.build").read_text()).group(1)
    assert metadata["Version"] == project_version
    assert metadata["Description-Content-Type"] == "text/markdown"
    readme = metadata.get_payload() or metadata["Description"]
    assert readme.startswith("# shoal")
    assert metadata["License-Expression"] == "MIT"
    assert "LICENSE" in metadata.get_all("License-File")
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.12" in classifiers
    assert "Programming Language :: Python :: 3.13" in classifiers
    assert "Operating System :: POSIX :: Linux" in classifiers
