"""A running server exports every metric of the catalog — the names the rules and the dashboard read —
in Prometheus' text format, as `prometheus-client`'s parser reads it."""
import re

from prometheus_client.parser import text_string_to_metric_families

from conftest import http
from test_prometheus_adapters import catalog, dashboard_expressions, rule_expressions, series_names


def scrape(hd) -> dict:
    status, _, body = http("GET", hd.url("/metrics"))
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def test_a_fresh_server_exports_every_catalog_metric_and_everything_the_rules_and_dashboard_read(helpdesk):
    hd = helpdesk("store: {path: state/hd.sqlite}\n")
    hd.start()
    # One request of each kind the counters label, so labelled series have samples to parse.
    http("GET", hd.url("/healthz"))
    families = scrape(hd)
    wanted = catalog()
    for name, kind in wanted.items():
        # The parser names a counter's family without its `_total`.
        family = families.get(name) or families.get(re.sub(r"_total$", "", name))
        assert family is not None, f"{name} is in the catalog but not exported by a fresh server"
        assert family.type == ("unknown" if kind == "untyped" else kind), f"{name}: exported as {family.type}, catalogued as {kind}"
    exported = set(families) | {f"{n}_total" for n in families if families[n].type == "counter"}
    for expression in rule_expressions() + dashboard_expressions():
        # `up` is Prometheus' own, written by the scrape.
        for name in series_names(expression) - {"up"}:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in exported or base in exported, f"{name} (in `{expression}`) is not exported"
    build = families["helpdesk_build_info"].samples
    assert build and build[0].value == 1 and set(build[0].labels) == {"version", "commit"}
