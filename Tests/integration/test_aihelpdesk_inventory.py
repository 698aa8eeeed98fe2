"""`infrastructure.file`: `config check` on an aiHelpDesk inventory, as a migrating team runs it."""
from conftest import REPO

FIXTURES = REPO / "Tests" / "Fixtures" / "aihelpdesk"


def test_config_check_counts_the_files_entries_and_names_each_ignored_key(helpdesk):
    inventory = FIXTURES / "infrastructure.json"
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\ninfrastructure:\n  file: {inventory}\n")
    checked = hd.run("config", "check", env={"BILLING_PG_PASSWORD": "b1ll!ng-s3cret"})
    assert checked.returncode == 0, checked.stderr
    assert "5 database(s), 2 cluster(s), 3 VM(s) from " + str(inventory) in checked.stdout
    warnings = [line.removeprefix("helpdesk: ") for line in checked.stderr.splitlines()]
    warnings = [line for line in warnings if line.startswith(f"warning: {inventory}:")]
    assert [line.split(": ")[1] for line in warnings] == [
        f"{inventory}:27", f"{inventory}:34", f"{inventory}:64", f"{inventory}:69"], checked.stderr
    assert "b1ll!ng-s3cret" not in checked.stdout + checked.stderr


def test_the_file_can_come_from_the_environment_and_an_unset_password_variable_is_named(helpdesk):
    inventory = FIXTURES / "infrastructure-k8s.json"
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    checked = hd.run("config", "check", env={"HELPDESK_INFRASTRUCTURE_FILE": str(inventory), "PAYMENTS_PG_PASSWORD": ""})
    assert checked.returncode == 0, checked.stderr
    assert "1 database(s), 1 cluster(s), 0 VM(s) from " + str(inventory) in checked.stdout
    assert f"warning: {inventory}:11: db_servers.payments_pg.password_env: the environment variable PAYMENTS_PG_PASSWORD is not set" \
        in checked.stderr


def test_an_unknown_key_stops_the_check_with_file_line_and_path(helpdesk, tmp_path):
    inventory = tmp_path / "infrastructure.json"
    inventory.write_text('{\n  "_comment": "x",\n  "vms": {\n    "box": {"address": "box.test", "ssh_port": 22}\n  }\n}\n')
    hd = helpdesk(f"store: {{path: state/hd.sqlite}}\ninfrastructure: {{file: {inventory}}}\n")
    checked = hd.run("config", "check")
    assert checked.returncode == 2
    assert f"{inventory}:4: vms.box.ssh_port: unknown key; expected one of:" in checked.stderr, checked.stderr
