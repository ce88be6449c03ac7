"""tests/requirements.py: an unmet need skips outside CI and fails under CI."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests import requirements
from tests.requirements import (
    MISSING,
    SHARED,
    in_ci,
    require_root,
    require_shared,
    require_tool,
)

CI_VALUES = ["1", "true", "TRUE", "True", "yes", "YES", "on", " true\n", "woodpecker"]
NOT_CI_VALUES = ["0", "false", "FALSE", "no", "off", "", "  "]
# pytest.skip and pytest.fail raise these (not Exception subclasses: a bare except passes them).
SKIPPED = pytest.skip.Exception
FAILED = pytest.fail.Exception


@pytest.mark.parametrize("value", CI_VALUES)
def test_true_values_are_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()


@pytest.mark.parametrize("value", NOT_CI_VALUES)
def test_false_values_are_not_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert not in_ci()


def test_unset_is_not_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert not in_ci()


# -- each need, unmet: skip outside CI, fail under CI, with the reason either way ---------------
def _no_such_tool() -> object:
    return require_tool("cctv-no-such-tool")


def _not_root() -> object:
    return require_root("to test")


def _no_shared_file() -> object:
    return require_shared("no-such-dir/no-such-file.pcap")


def _no_absolute_file() -> object:
    return require_shared(SHARED / "pcaps-real" / "no-such-file.pcap")


def _no_shared_names() -> object:
    return require_shared(SHARED / "pcaps-real" / MISSING)


UNMET = {
    "tool": (_no_such_tool, "cctv-no-such-tool is not installed"),
    "root": (_not_root, "needs root (to test)"),
    "shared": (_no_shared_file, "no-such-dir/no-such-file.pcap is not there"),
    "absolute": (_no_absolute_file, "pcaps-real/no-such-file.pcap is not there"),
    "placeholder": (_no_shared_names, "nothing found in"),
}


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements.os, "geteuid", lambda: 1000)


@pytest.mark.parametrize("value", [*NOT_CI_VALUES, None])
@pytest.mark.parametrize("need", sorted(UNMET))
def test_unmet_need_skips_outside_ci(
    monkeypatch: pytest.MonkeyPatch, not_root: None, need: str, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    check, reason = UNMET[need]
    with pytest.raises(SKIPPED, match=re.escape(reason)):
        check()


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", "on"])
@pytest.mark.parametrize("need", sorted(UNMET))
def test_unmet_need_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, not_root: None, need: str, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    check, reason = UNMET[need]
    with pytest.raises(FAILED) as failed:
        check()
    assert reason in str(failed.value)
    assert "required under CI" in str(failed.value)


# -- met needs return what the test uses --------------------------------------------------------
@pytest.mark.parametrize("value", ["1", "0"])
def test_met_needs_pass_whatever_ci_says(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    monkeypatch.setattr(requirements.os, "geteuid", lambda: 0)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    assert Path(require_tool(Path(sys.executable).name)).exists()
    require_root()
    assert require_shared(Path(__file__)) == Path(__file__)


def test_shared_is_next_to_the_repository() -> None:
    repo = Path(__file__).resolve().parents[1]
    assert (repo, repo.parent / "shared") == (requirements.REPO, requirements.SHARED)


def test_shared_names_lists_the_matches_or_one_placeholder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "caps").mkdir()
    for name in ("b.pcap", "a.pcapng", "notes.md"):
        (tmp_path / "caps" / name).write_text("")
    monkeypatch.setattr(requirements, "SHARED", tmp_path)
    assert requirements.shared_names("caps", "*.pcap*") == ["a.pcapng", "b.pcap"]
    assert requirements.shared_names("caps", "*.gz") == [MISSING]
    assert requirements.shared_names("absent", "*") == [MISSING]
