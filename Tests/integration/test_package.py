"""The tarball scripts/package makes, as an operator unpacks it: the static binary, the example
configuration, adapters and docs, none of the content the binary carries, and a binary that loads
only libraries from the packages of `scripts/install-deps runtime` (the image's list)."""
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from test_dockerfile import install_deps_list

PACKAGE = os.environ.get("HELPDESK_PACKAGE")
# scripts/test always packages; a run without a tarball skips here, but never in CI.
pytestmark = pytest.mark.skipif(not PACKAGE and not os.environ.get("CI"),
                                reason="HELPDESK_PACKAGE names no tarball from scripts/package (scripts/test sets it)")


@pytest.fixture(scope="module")
def tarball() -> Path:
    assert PACKAGE, "HELPDESK_PACKAGE must name the tarball scripts/package made"
    return Path(PACKAGE)


@pytest.fixture(scope="module")
def unpacked(tarball, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    (root,) = folder.iterdir()
    return root


def test_the_tarball_holds_the_binary_and_what_operators_install_elsewhere(tarball):
    stem = tarball.name.removesuffix(".tar.gz")
    assert re.fullmatch(r"helpdesk-[0-9][0-9A-Za-z.+~-]*-linux-(amd64|arm64)", stem), stem
    with tarfile.open(tarball) as archive:
        members = {m.name.removeprefix(f"{stem}/"): m for m in archive.getmembers()}
    assert members.pop(stem).isdir(), "one folder named like the tarball"
    assert members["bin/helpdesk"].mode & 0o111 and members["bin/helpdesk"].uid == 0
    for name in ("helpdesk.example.yaml", "README.md", "UPGRADING.md", "adapters/alertmanager/alertmanager.yml",
                 "adapters/slack/manifest.yaml"):
        assert name in members, name
    shipped = {name.split("/")[0] for name in members}
    assert shipped == {"bin", "adapters", "helpdesk.example.yaml", "README.md", "UPGRADING.md"}, \
        f"{shipped}: runbooks, templates and policies travel inside the binary"
    written = (tarball.parent / f"{tarball.name}.sha256").read_text().split()
    assert written == [subprocess.run(["sha256sum", tarball], capture_output=True, text=True).stdout.split()[0], tarball.name]


def test_the_tarball_is_named_by_the_version_the_binary_reports(tarball, unpacked):
    reported = subprocess.run([unpacked / "bin" / "helpdesk", "--version"], capture_output=True, text=True, timeout=30)
    assert reported.returncode == 0, reported.stderr
    assert tarball.name.startswith(f"helpdesk-{reported.stdout.split()[0]}-linux-")


def test_the_binary_loads_only_libraries_of_the_runtime_packages(unpacked):
    binary = unpacked / "bin" / "helpdesk"
    dynamic = subprocess.run(["readelf", "--dynamic", binary], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert needed and not [n for n in needed if re.match(r"lib(swift|Foundation|dispatch|BlocksRuntime)", n)], \
        f"the Swift runtime is linked in (--static-swift-stdlib): {needed}"
    loaded = {}
    for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "=>":
            loaded[words[0]] = words[2]
        elif words and words[0].startswith("/"):  # the dynamic loader, named by its path
            loaded[os.path.basename(words[0])] = words[0]
    runtime = set(install_deps_list("runtime"))
    for library in needed:
        path = loaded.get(library, "not")
        assert path.startswith("/"), f"{library} is not found on this machine"
        package = owning_package(path)
        assert package in runtime, f"{library} ({path}) comes from {package}: add it to install-deps' runtime list"


def owning_package(path: str) -> str | None:
    """The Debian package that installed the file, under either name a merged /usr gives it."""
    candidates = [path, "/usr" + path if path.startswith("/lib") else path.removeprefix("/usr")]
    for candidate in candidates:
        result = subprocess.run(["dpkg-query", "--search", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0]
    return None
