"""Item: the README says which config fields run code, and that configs must come from a trusted source."""

from __future__ import annotations

from faultlib import TESTS


def test_readme_states_what_in_a_config_runs_code():
    readme = (TESTS.parent / "README.md").read_text()
    assert "\n## Trust\n" in readme
    section = readme.split("\n## Trust\n", 1)[1].split("\n## ", 1)[0]
    for fragment in ("`callable`", "`include_path`", "trust", "pickle", "auto_map"):
        assert fragment in section, fragment
