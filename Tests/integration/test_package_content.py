"""scripts/package refuses to package content git does not have: the build embeds whatever templates/,
runbooks/ and policies/ hold, so a stray policies/allow-all.yaml would ship in force. These run the script
in a small repository of its own and stop where the real build would start (no scripts/install-deps there)."""
import shutil
import subprocess

import pytest

from conftest import REPO


@pytest.fixture
def checkout(tmp_path):
    """A committed repository with the script and the three content folders."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "package", tmp_path / "scripts" / "package")
    for folder in ("templates", "runbooks", "policies"):
        (tmp_path / folder).mkdir()
    (tmp_path / "policies" / "default.yaml").write_text('version: "1"\npolicies: []\n')
    (tmp_path / ".gitignore").write_text("*.local.yaml\n")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "--quiet"], cwd=tmp_path, check=True)
    subprocess.run(git + ["add", "--all"], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "--quiet", "--message", "content"], cwd=tmp_path, check=True)
    return tmp_path


def package(folder, env=None):
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(folder), **(env or {})}
    return subprocess.run(["scripts/package"], cwd=folder, capture_output=True, text=True, timeout=60, env=environment)


REFUSED = "hold uncommitted changes"
NO_BUILD_TOOLS = "scripts/install-deps"  # missing here: the script got past the check


def test_an_untracked_or_ignored_content_file_stops_the_package(checkout):
    (checkout / "policies" / "allow-all.yaml").write_text("anything")
    (checkout / "runbooks" / "mine.local.yaml").write_text("ignored by git, embedded all the same")
    result = package(checkout)
    assert result.returncode == 1 and REFUSED in result.stderr, result.stderr
    assert "policies/allow-all.yaml" in result.stderr and "runbooks/mine.local.yaml" in result.stderr
    assert NO_BUILD_TOOLS not in result.stderr, "refused before building"


def test_hidden_files_are_not_embedded_so_they_do_not_count(checkout):
    (checkout / "templates" / ".DS_Store").write_text("")
    result = package(checkout)
    assert REFUSED not in result.stderr and NO_BUILD_TOOLS in result.stderr, result.stderr


def test_allow_dirty_packages_anyway_and_says_the_commit_reads_dirty(checkout):
    (checkout / "policies" / "default.yaml").write_text("edited")
    result = package(checkout, {"HELPDESK_PACKAGE_ALLOW_DIRTY": "1"})
    assert "packaging uncommitted content" in result.stderr and "-dirty" in result.stderr, result.stderr
    assert NO_BUILD_TOOLS in result.stderr


def test_without_git_it_says_it_cannot_check_and_goes_on(checkout):
    shutil.rmtree(checkout / ".git")
    result = package(checkout)
    assert "no .git here" in result.stderr and NO_BUILD_TOOLS in result.stderr, result.stderr
