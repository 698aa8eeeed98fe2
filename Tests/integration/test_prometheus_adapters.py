"""adapters/prometheus/: the alerting rules pass `promtool check rules` and their unit tests
(`promtool test rules`), the chart ships the same file byte for byte, and every metric the rules and
the Grafana dashboard read is one MetricCatalog lists (so one /metrics exports). promtool comes with
Debian's prometheus package (scripts/install-deps test); without it these tests fail, never skip."""
import json
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO

ADAPTERS = REPO / "adapters" / "prometheus"
RULES = ADAPTERS / "helpdesk-rules.yml"
RULE_TESTS = ADAPTERS / "helpdesk-rules.test.yml"
DASHBOARD = ADAPTERS / "helpdesk-dashboard.json"
CHART_RULES = REPO / "chart" / "helpdesk" / "files" / "helpdesk-rules.yml"
CATALOG = REPO / "Sources" / "HelpdeskCore" / "MetricCatalog.swift"
# Series Prometheus makes itself, not the server.
BUILT_IN = {"up"}
# Grafana's variables, replaced by values that parse (a rate interval, a regex) for promtool.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$job": ".*", "$instance": ".*"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: it comes with Debian's prometheus package "
                    "(scripts/install-deps test, or apt-get install --no-install-recommends prometheus)", pytrace=False)
    return path


def run_promtool(*arguments, cwd=ADAPTERS):
    result = subprocess.run([promtool(), *arguments], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def catalog() -> dict[str, str]:
    """Metric name → kind (counter, gauge, histogram), read from the Swift catalog's entries."""
    text = CATALOG.read_text()
    found = dict(re.findall(r'name: "(helpdesk_[a-z0-9_]+)", kind: \.(counter|gauge|histogram)', text))
    assert found, f"no `name: \"helpdesk_…\", kind: .…` entries in {CATALOG}"
    return found


def exported_name(name: str, metrics: dict[str, str]) -> str | None:
    """The catalog metric a series name belongs to: itself, or a histogram's _bucket/_sum/_count."""
    if name in metrics or name in BUILT_IN:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and metrics.get(base) == "histogram":
            return base
    return None


def series_names(expression: str) -> set[str]:
    """The metric names an expression reads: helpdesk's (label values such as job=~".*helpdesk.*"
    have no underscore after the word) and `up`."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    return set(re.findall(r"\bhelpdesk_[a-z0-9_]+\b", without_strings)) | (
        {"up"} if re.search(r"\bup\s*[{\[]", without_strings) else set())


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = []

    def walk(panels):
        for panel in panels:
            expressions.extend(target["expr"] for target in panel.get("targets", []) if target.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    return expressions


def test_the_rules_pass_promtools_check():
    assert "SUCCESS" in run_promtool("check", "rules", str(RULES))


def test_each_alert_fires_and_clears_in_the_promtool_unit_tests():
    run_promtool("test", "rules", RULE_TESTS.name)
    tested = set(re.findall(r"^\s+alertname: (\w+)$", RULE_TESTS.read_text(), re.M))
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    assert alerts == tested, f"alerts without a unit test: {sorted(alerts - tested)}"


def test_each_alert_says_how_bad_and_what_to_do():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 80, rule["alert"]
            assert "runbook_url" not in rule["annotations"], rule["alert"]


def test_the_chart_ships_the_same_rules_byte_for_byte():
    assert CHART_RULES.read_bytes() == RULES.read_bytes(), \
        f"{CHART_RULES.relative_to(REPO)} differs from {RULES.relative_to(REPO)}: copy the adapters' file over it"


def test_every_metric_the_rules_read_is_in_the_catalog():
    metrics = catalog()
    unknown = {name for expression in rule_expressions() for name in series_names(expression)
               if exported_name(name, metrics) is None}
    assert not unknown, f"rules read metrics MetricCatalog does not list: {sorted(unknown)}"


def test_every_metric_the_dashboard_reads_is_in_the_catalog():
    metrics = catalog()
    expressions = dashboard_expressions()
    assert expressions, "the dashboard has no queries"
    unknown = {name for expression in expressions for name in series_names(expression) if exported_name(name, metrics) is None}
    assert not unknown, f"dashboard queries read metrics MetricCatalog does not list: {sorted(unknown)}"


def test_every_dashboard_query_parses(tmp_path):
    """Each query, with Grafana's variables given values, as a recording rule promtool checks."""
    def substituted(expression):
        for variable, value in GRAFANA_VARIABLES.items():
            expression = expression.replace(variable, value)
        return expression

    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{index}", "expr": substituted(expression)}
        for index, expression in enumerate(dashboard_expressions())]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    run_promtool("check", "rules", str(path), cwd=tmp_path)


def test_the_dashboard_asks_for_its_data_source():
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(target["datasource"]["uid"] == "${datasource}" for target in panel["targets"]), panel["title"]
    assert len({panel["id"] for panel in panels(dashboard["panels"])}) == len(list(panels(dashboard["panels"])))
