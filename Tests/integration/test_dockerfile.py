"""The Dockerfile read as Docker would (no engine runs here): pinned bases on one Debian release,
the build through scripts/package, a runtime stage with only runtime packages and a numeric user,
kubectl verified against its checksum, and an image configuration the binary accepts."""
import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import helpdesk_binary

REPO = Path(__file__).resolve().parents[2]
DATA = "/var/lib/helpdesk"


@dataclass
class Instruction:
    keyword: str
    arguments: str
    heredoc: str = ""


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.image} has no {keyword}"
        return found[-1]

    def arg(self, name: str) -> str | None:
        for instruction in self.all("ARG"):
            key, _, value = instruction.arguments.partition("=")
            if key == name:
                return value
        return None


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages: continuation lines joined, comments dropped, heredocs kept."""
    lines = text.splitlines()
    instructions, index = [], 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1]
            while index < len(lines) and lines[index].lstrip().startswith("#"):
                index += 1
            line += " " + lines[index].strip()
            index += 1
        keyword, _, arguments = line.strip().partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if marker := re.search(r"<<-?['\"]?(\w+)['\"]?", arguments):
            body = []
            while lines[index] != marker.group(1):
                body.append(lines[index])
                index += 1
            index += 1
            instruction.heredoc = "\n".join(body) + "\n"
        instructions.append(instruction)

    global_args, stages = {}, []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            image, _, name = instruction.arguments.partition(" AS ")
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)), image.strip())
            stages.append(Stage(image, name.strip()))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            key, _, value = instruction.arguments.partition("=")
            global_args[key] = value
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile():
    return parse((REPO / "Dockerfile").read_text())


def stage_named(stages: list[Stage], name: str) -> Stage:
    found = [s for s in stages if s.name == name]
    assert found, f"no stage named {name}: {[s.name for s in stages]}"
    return found[0]


def copies_from(stage: Stage, source_stage: str) -> list[list[str]]:
    """Each `COPY --from=STAGE src… dest` of the stage, as its paths."""
    result = []
    for instruction in stage.all("COPY"):
        words = shlex.split(instruction.arguments)
        if f"--from={source_stage}" in words:
            result.append([w for w in words if not w.startswith("--")])
    return result


def install_deps_groups(commands: str) -> list[str]:
    """The groups every `install-deps` call in the commands names, in order."""
    groups = []
    for call in re.findall(r"install-deps((?:\s+[\w-]+)+)", commands):
        groups += [word for word in call.split() if not word.startswith("-")]
    return groups


def install_deps_list(group: str) -> list[str]:
    script = (REPO / "scripts" / "install-deps").read_text()
    return re.search(rf"^{group}=\(([^)]*)\)", script, re.MULTILINE).group(1).split()


def test_every_base_is_pinned_by_version_on_the_release_the_binary_is_built_on(dockerfile):
    _, stages = dockerfile
    names = {s.name for s in stages}
    for stage in stages:
        assert stage.image not in names, "every stage starts from a published image"
        repository, _, tag = stage.image.partition(":")
        assert tag and tag != "latest" and "$" not in tag, f"{stage.image}: not pinned to a version"
    build = stages[0]
    # A full Swift version (6.3.1, not 6.3 or latest), built on Debian 12: the runtime stage must be the
    # same release, or the binary may need a newer glibc than the image has.
    assert re.fullmatch(r"swift:\d+\.\d+\.\d+-bookworm", build.image), build.image
    assert stages[-1].image == "debian:bookworm-slim", stages[-1].image


def test_the_image_builds_with_the_swift_ci_tests_with(dockerfile):
    _, stages = dockerfile
    image_version = re.match(r"swift:(\d+\.\d+)", stages[0].image).group(1)
    toolchain = subprocess.run(["swift", "--version"], capture_output=True, text=True, timeout=60)
    local_version = re.search(r"Swift version (\d+\.\d+)", toolchain.stdout + toolchain.stderr).group(1)
    assert image_version == local_version, f"the image builds with Swift {image_version}, CI tests {local_version}: bump one"


def test_the_build_stage_installs_the_build_packages_and_runs_scripts_package(dockerfile):
    _, stages = dockerfile
    runs = [i.arguments for i in stages[0].all("RUN")]
    assert install_deps_groups(" ".join(runs)) == ["build"], runs
    package = [run for run in runs if "scripts/package" in run]
    assert package, "the image is built by the same script CI runs"
    assert "sha256sum --check" in package[0], "the tarball is checked against the checksum scripts/package wrote"


def test_the_runtime_stage_has_runtime_packages_only_and_a_numeric_non_root_user(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    runs = " ".join(i.arguments for i in runtime.all("RUN"))
    assert install_deps_groups(runs) == ["runtime"], "runtime packages come from scripts/install-deps runtime only"
    assert "apt-get install" not in runs, "no package besides the runtime list"
    assert not [p for p in install_deps_list("runtime") if p.endswith("-dev")]
    assert "rm -rf /var/lib/apt/lists" in runs

    user = runtime.last("USER").arguments
    assert re.fullmatch(r"\d+:\d+", user), f"USER {user}: numeric uid:gid, so Kubernetes' runAsNonRoot can check it"
    assert all(int(part) != 0 for part in user.split(":"))
    assert runtime.last("WORKDIR").arguments == DATA
    assert DATA in json.loads(runtime.last("VOLUME").arguments)
    assert json.loads(runtime.last("ENTRYPOINT").arguments) == ["/usr/bin/tini", "--", "helpdesk"], \
        "exec form under tini: SIGTERM reaches helpdesk and orphaned children are reaped"
    assert json.loads(runtime.last("CMD").arguments) == ["serve"]
    assert [["/out/bin/helpdesk", "/usr/local/bin/helpdesk"]] == [c for c in copies_from(runtime, "build") if "/out/bin/helpdesk" in c]


def test_kubectl_comes_from_a_pinned_release_checked_against_its_checksum(dockerfile):
    _, stages = dockerfile
    kubectl = stage_named(stages, "kubectl")
    assert re.fullmatch(r"v1\.\d+\.\d+", kubectl.arg("KUBECTL_VERSION") or ""), kubectl.arg("KUBECTL_VERSION")
    assert kubectl.arg("KUBECTL_SHA256") is not None, "a build argument pins the checksum"
    download = " ".join(i.arguments for i in kubectl.all("RUN") if "dl.k8s.io" in i.arguments)
    assert "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/" in download
    assert '"$url.sha256"' in download, "the release's own checksum file is fetched"
    checks = re.findall(r"echo \"([^\"]+)  /kubectl\" \| sha256sum --check", download)
    assert checks == ["$(cat /kubectl.sha256)", "$KUBECTL_SHA256"], checks
    assert "/kubectl version --client" in download
    assert copies_from(stages[-1], "kubectl") == [["/kubectl", "/usr/local/bin/kubectl"]]


def test_the_image_configuration_is_valid_listens_on_the_exposed_port_and_names_no_folders(dockerfile, tmp_path):
    _, stages = dockerfile
    runtime = stages[-1]
    configs = [i for i in runtime.all("COPY") if i.heredoc]
    assert len(configs) == 1 and configs[0].arguments.endswith(" /etc/helpdesk/helpdesk.yaml")
    text = configs[0].heredoc
    env = dict(re.findall(r"(\w+)=(\S+)", runtime.last("ENV").arguments))
    assert env["HELPDESK_CONFIG"] == "/etc/helpdesk/helpdesk.yaml"
    for key in ("runbooks_dir", "templates_dir", "pages_dir", "policies"):
        assert key not in text, f"{key}: the shipped content comes from the binary"
    assert all(line.split(":", 1)[1].strip().startswith(DATA) for line in text.splitlines() if re.match(r"\s+(path|\w+_dir):", line)), \
        "everything the server writes goes to the data volume"

    (tmp_path / "helpdesk.yaml").write_text(text)
    result = subprocess.run([helpdesk_binary(), "config", "check", str(tmp_path / "helpdesk.yaml")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    port = re.search(r"listen 0\.0\.0\.0:(\d+)", result.stdout)
    assert port, result.stdout
    assert runtime.last("EXPOSE").arguments.split() == [port.group(1)]


def test_the_build_context_leaves_out_build_folders_and_the_local_package_resolution():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {".git", ".build", ".build-*", "dist", "Package.resolved"} <= ignored, ignored
