"""`helpdesk import aihelpdesk DIR`: what a migrating team runs first, on a deployment folder in aiHelpDesk's format."""
import hashlib

from conftest import REPO

FIXTURES = REPO / "Tests" / "Fixtures" / "aihelpdesk"


def folder_digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_deployment_folder_is_found_loaded_and_turned_into_configuration_lines(helpdesk):
    before = folder_digest(FIXTURES)
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    result = hd.run("import", "aihelpdesk", str(FIXTURES), env={"BILLING_PG_PASSWORD": "x"})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # The folder's .env names the files (aiHelpDesk's compose variables): its inventory is the k8s one,
    # not the plain name that would win without it; each file is loaded and counted.
    assert f"policies        {FIXTURES}/policies.yaml — 14 policies" in out
    assert f"infrastructure  {FIXTURES}/infrastructure-k8s.json — 1 database(s), 1 cluster(s), 0 VM(s)" in out
    assert f"users           {FIXTURES}/users.yaml — 3 user(s), 2 service account(s)" in out
    assert f"not used: {FIXTURES}/infrastructure.json (name it with --infrastructure)" in out
    assert f"  policies:\n    file: {FIXTURES}/policies.yaml\n  infrastructure:\n    file: {FIXTURES}/infrastructure-k8s.json\n" \
           f"  users:\n    file: {FIXTURES}/users.yaml" in out
    assert "HELPDESK_INFRA_CONFIG → infrastructure.file" in out
    assert "HELPDESK_USERS_FILE_HOST → users.file" in out
    assert "llm.provider: anthropic, llm.model: claude-test-model" in out
    # The model key's placeholder value in .env is never echoed.
    assert "the model provider's key" not in out
    assert folder_digest(FIXTURES) == before, "import changes nothing"


def test_keys_of_features_this_project_lacks_are_warned_with_file_and_line(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    inventory = FIXTURES / "infrastructure.json"
    result = hd.run("import", "aihelpdesk", str(FIXTURES), "--infrastructure", str(inventory), env={"BILLING_PG_PASSWORD": "x"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"infrastructure  {inventory} — 5 database(s), 2 cluster(s), 3 VM(s)" in result.stdout
    assert f"{inventory}:27: db_servers.ledger-podman.container_name: ignored" in result.stdout


def test_the_printed_lines_are_a_configuration_that_loads(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    result = hd.run("import", "aihelpdesk", str(FIXTURES), env={"BILLING_PG_PASSWORD": "x"})
    lines = result.stdout.split("nothing was changed):\n", 1)[1].split("\n\n", 1)[0]
    config = "store: {path: state/hd.sqlite}\n" + "\n".join(line[2:] for line in lines.splitlines()) + "\n"
    hd.config.write_text(config)
    checked = hd.run("config", "check", env={"BILLING_PG_PASSWORD": "x"})
    assert checked.returncode == 0, checked.stderr
    assert "3 user(s), 2 service account(s) from" in checked.stdout


def test_a_file_that_does_not_load_is_named_with_its_lines_and_the_exit_is_2(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    problems = FIXTURES / "users-problems.yaml"
    result = hd.run("import", "aihelpdesk", str(FIXTURES), "--users", str(problems), env={"BILLING_PG_PASSWORD": "x"})
    assert result.returncode == 2, result.stdout
    assert f"users           {problems} — does not load" in result.stdout
    assert f"{problems}:11: service_accounts[0].id: \"srebot\"" in result.stdout
    assert f"{problems}:17: service_accounts[1].api_key_hash: not an Argon2id hash" in result.stdout
    # The other files still load and are counted.
    assert "1 database(s), 1 cluster(s), 0 VM(s)" in result.stdout


def test_an_exported_helpdesk_variable_does_not_replace_the_folders_files(helpdesk, tmp_path):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    result = hd.run("import", "aihelpdesk", str(FIXTURES),
                    env={"BILLING_PG_PASSWORD": "x", "HELPDESK_USERS_FILE": str(FIXTURES / "users-problems.yaml")})
    assert result.returncode == 0, result.stdout
    assert "3 user(s), 2 service account(s)" in result.stdout


def test_aihelpdesks_variable_names_in_the_environment_are_warned_about(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    checked = hd.run("config", "check", env={"HELPDESK_POLICY_FILE": "/etc/helpdesk/policies.yaml"})
    assert checked.returncode == 0, checked.stderr
    assert "warning: environment HELPDESK_POLICY_FILE: aiHelpDesk's variable is not read here; set HELPDESK_POLICIES_FILE" \
        in checked.stderr


def test_a_missing_folder_is_an_error(helpdesk, tmp_path):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    result = hd.run("import", "aihelpdesk", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "is not a folder" in result.stderr


def test_govexplain_gives_a_service_account_its_roles_as_the_server_does(helpdesk, tmp_path):
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: \"1.0\"\npolicies:\n  - name: automation-reads\n    principals: [{role: sre-automation}]\n"
                        "    resources: [{type: database}]\n    rules:\n      - action: read\n        effect: allow\n")
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\npolicies: {{file: {policies}}}\nusers: {{file: {FIXTURES / 'users.yaml'}}}\n")
    allowed = hd.run("govexplain", "--principal", "service:nightly-reports", "--resource", "database:ledger", "--action", "read")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "policy: automation-reads" in allowed.stdout
    # ci-runner has no sre-automation role, and a user of that name would not either.
    denied = hd.run("govexplain", "--principal", "service:ci-runner", "--resource", "database:ledger", "--action", "read")
    assert denied.returncode == 1, denied.stdout
