#!/usr/bin/env python3
"""The incident zoo's scorer (issue 18): plants each class on real peers, runs `helpdesk diagnose` for
each of its triggers and scores the diagnosis against the class's expected.yaml. Importable: the
scoring is `score()`, a pure function of (expected, diagnosis, bindings). See README.md."""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

ZOO = Path(__file__).resolve().parent
REPO = ZOO.parents[1]
INTEGRATION = REPO / "Tests" / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

KUBERNETES_VERSION = "1.30"
TRIGGERS = ("person", "alert")
# No command lists the tools with their action, so the write and destructive ones are named here (the
# diagnosis's own `tools[].action` adds any other it ran). test_zoo.py holds this to the binary's own list
# (GET /api/v1/agents on `helpdesk serve`), so a new write tool cannot be missed.
KNOWN_WRITE_TOOLS = frozenset({"cancel_query", "terminate_backend", "rollout_restart", "scale", "rollout_undo", "create_silence"})
ALL_WRITE_TOOLS = "ALL_WRITE_TOOLS"
NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
DIAGNOSE_TIMEOUT = 180.0


class PeerError(Exception):
    """A peer (PostgreSQL, kubectl) could not start: the run cannot score anything honestly (exit 2)."""


class PlantError(Exception):
    """The class cannot be planted (no plant, a plant that failed or bound too little): the class fails."""


class MissingBinding(KeyError):
    pass


# ------------------------------------------------------------------------------------------ classes


@dataclass
class ZooClass:
    name: str
    folder: Path
    expected: dict

    @property
    def peer(self) -> str:
        return self.expected.get("peer", "postgres")

    @property
    def kubernetes(self) -> bool:
        return self.peer in ("kubernetes", "both")

    @property
    def postgres(self) -> bool:
        """A class that runs its own PostgreSQL (peer `both` points prod-db at a closed port instead)."""
        return self.peer == "postgres"

    def triggers(self) -> list[tuple[str, dict]]:
        triggers = self.expected.get("triggers") or {}
        return [(kind, triggers[kind]) for kind in TRIGGERS if triggers.get(kind)]

    def names(self) -> set[str]:
        """Every `$name` the scoring and the alert need from the plant."""
        texts = []
        root = self.expected.get("root_cause") or {}
        texts += [str(item) for item in root.get("must_mention") or []]
        fix = self.expected.get("fix") or {}
        texts += [str(value) for value in (fix.get("arguments") or {}).values()]
        texts += [str(item) for item in (self.expected.get("must_not") or {}).get("say") or []]
        alert = (self.expected.get("triggers") or {}).get("alert") or {}
        texts += [str(value) for value in (alert.get("labels") or {}).values()]
        return {name for text in texts for name in NAME.findall(text)}


    @property
    def model_turns(self) -> list[dict] | None:
        """model.yaml's `turns` (the model's answer replayed in model mode), None without the file."""
        path = self.folder / "model.yaml"
        if not path.exists():
            return None
        return (yaml.safe_load(path.read_text()) or {}).get("turns") or []

    def model_names(self) -> set[str]:
        """Every `$name` model.yaml needs from the plant."""
        found = set()

        def walk(value):
            if isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, str):
                found.update(NAME.findall(value))
        walk(self.model_turns or [])
        return found


def load_classes(names: list[str] | None = None) -> list[ZooClass]:
    found = {}
    for path in sorted(ZOO.glob("*/expected.yaml")):
        found[path.parent.name] = ZooClass(path.parent.name, path.parent, yaml.safe_load(path.read_text()))
    if names:
        unknown = [name for name in names if name not in found]
        if unknown:
            raise ValueError(f"no class {', '.join(unknown)}; the classes: {', '.join(found)}")
        return [found[name] for name in names]
    return list(found.values())


# ------------------------------------------------------------------------------------- substitution


def text_of(value) -> str:
    """A value as the expectations compare it: whole numbers without a decimal point, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    return str(value)


def expand(template, bindings: dict) -> list[str]:
    """Every text `template` stands for: each `$name` filled from `bindings`; a list binding gives one
    text per member (any of them matches)."""
    template = text_of(template)
    match = NAME.search(template)
    if match is None:
        return [template]
    name = match.group(1)
    if name not in bindings:
        raise MissingBinding(name)
    value = bindings[name]
    values = value if isinstance(value, list) else [value]
    head, tail = template[:match.start()], template[match.end():]
    return [head + text_of(member) + rest for member in values for rest in expand(tail, bindings)]


# ------------------------------------------------------------------------------------------ scoring


@dataclass
class Score:
    named: bool | None      # None: nothing to name (a healthy system)
    fix: bool | None        # None: nothing to fix
    clean: bool
    finding_rule: bool | None
    missing: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.named is not False and self.fix is not False and self.clean


def call_text(call: dict) -> str:
    arguments = ", ".join(f"{key}={text_of(value)}" for key, value in sorted((call.get("arguments") or {}).items()))
    return f"{call.get('tool')}({arguments})"


def recommended_calls(diagnosis: dict) -> list[dict]:
    calls = [action.get("call") or {} for action in diagnosis.get("recommended_actions") or []]
    for finding in diagnosis.get("findings") or []:
        calls += [action.get("call") or {} for action in finding.get("recommended_actions") or []]
    unique = {}
    for call in calls:
        unique.setdefault(call_text(call), call)
    return list(unique.values())


def write_tools_of(diagnosis: dict) -> set[str]:
    return set(KNOWN_WRITE_TOOLS) | {tool.get("tool") for tool in diagnosis.get("tools") or []
                                     if tool.get("action") in ("write", "destructive")}


def said(diagnosis: dict) -> str:
    """What the diagnosis says: the finding summaries and advice, its summary (and a model's analysis)."""
    parts = [diagnosis.get("summary") or "", diagnosis.get("analysis") or ""]
    for finding in diagnosis.get("findings") or []:
        parts += [finding.get("summary") or "", finding.get("advice") or ""]
    return "\n".join(parts)


def fix_recommended(fix: dict, calls: list[dict], bindings: dict) -> tuple[bool, str | None]:
    """Whether `fix.tool` is among `calls` with `fix.arguments` (each compared as text; other arguments
    may be there too), and what is missing when it is not."""
    wanted = {key: set(expand(value, bindings)) for key, value in (fix.get("arguments") or {}).items()}
    same_tool = [call for call in calls if call.get("tool") == fix["tool"]]
    if any(all(text_of((call.get("arguments") or {}).get(key)) in values for key, values in wanted.items()) for call in same_tool):
        return True, None
    wanted_text = ", ".join(f"{key}={'|'.join(sorted(values))}" for key, values in sorted(wanted.items()))
    note = f" (recommended instead: {', '.join(call_text(call) for call in same_tool)})" if same_tool else ""
    return False, f"recommend {fix['tool']}({wanted_text}){note}"


def naming_units(diagnosis: dict) -> list[tuple[str, dict | None]]:
    """Where a cause may be named, each on its own: one finding's summary with its advice, the diagnosis's
    summary (the worst finding's, in runbook mode) and a model's analysis. A cause whose words are spread
    over several findings is not named: nothing ties them together."""
    units = [(f"{finding.get('summary') or ''}\n{finding.get('advice') or ''}", finding) for finding in diagnosis.get("findings") or []]
    units.append((diagnosis.get("summary") or "", None))
    if diagnosis.get("analysis"):
        units.append((diagnosis["analysis"], None))
    return units


def naming(root: dict, diagnosis: dict, bindings: dict) -> tuple[bool, list[dict], list[str]]:
    """Whether one place (naming_units) carries every must_mention; the findings that name the cause (those
    that carry them all, and the worst finding when the diagnosis's summary, which repeats it, does); what
    is missing."""
    items = [[variant.lower() for variant in expand(item, bindings)] for item in root.get("must_mention") or []]
    if not items:
        return True, [], []

    def carries(text: str) -> list[bool]:
        text = text.lower()
        return [any(variant in text for variant in variants) for variants in items]

    findings = diagnosis.get("findings") or []
    naming_findings = [finding for text, finding in naming_units(diagnosis) if finding is not None and all(carries(text))]
    summary = diagnosis.get("summary") or ""
    by_summary = all(carries(summary))
    if by_summary:
        naming_findings += [finding for finding in findings if finding.get("summary") and finding["summary"] in summary
                            and finding not in naming_findings]
    named = bool(naming_findings) or by_summary or any(all(carries(text)) for text, _ in naming_units(diagnosis))
    if named:
        return True, naming_findings, []
    # Not named: what is said nowhere, and what is said only apart.
    everywhere = carries("\n".join(text for text, _ in naming_units(diagnosis)))
    missing = [f"mention {' | '.join(repr(v) for v in variants)}" for variants, found in zip(items, everywhere) if not found]
    if all(everywhere):
        closest = max(naming_units(diagnosis), key=lambda unit: sum(carries(unit[0])))
        without = [variants[0] for variants, found in zip(items, carries(closest[0])) if not found]
        where = f"finding {closest[1].get('rule')}" if closest[1] is not None else "the summary"
        missing.append(f"name the cause in one finding: {', '.join(repr(v[0]) for v in items)} are each said, but in no one finding "
                       f"or the summary (closest: {where}, without {', '.join(repr(v) for v in without)})")
    return False, naming_findings, missing


def score(expected: dict, diagnosis: dict, bindings: dict) -> Score:
    findings = diagnosis.get("findings") or []
    calls = recommended_calls(diagnosis)
    write_tools = write_tools_of(diagnosis)
    missing, wrong = [], []

    root = expected.get("root_cause")
    named = finding_rule = None
    naming_findings = []
    if root:
        named, naming_findings, why = naming(root, diagnosis, bindings)
        missing += why
        if root.get("finding_rule"):
            finding_rule = any(finding.get("rule") == root["finding_rule"] for finding in findings)

    fix = expected.get("fix")
    fixed = None
    if fix and fix.get("tool"):
        fixed, why = fix_recommended(fix, calls, bindings)
        missing += [why] if why else []
    elif fix:
        writes = [call for call in calls if call.get("tool") in write_tools]
        # The advice that counts is the one on the finding that names the cause: advice on another finding
        # is about something else. Without a cause to name, any finding's advice.
        advisers = naming_findings if root else findings
        advised = any(str(finding.get("advice") or "").strip() for finding in advisers)
        fixed = not writes and advised
        wrong += [f"recommends {call_text(call)} (no tool fixes this)" for call in writes]
        if not advised:
            if root and not naming_findings:
                missing.append("advice on the finding that names the cause (no finding names it)")
            elif root:
                rules = ", ".join(sorted({str(finding.get("rule")) for finding in naming_findings}))
                missing.append(f"advice on the finding that names the cause ({rules} has none; no tool fixes this: a person does)")
            else:
                missing.append("advice on a finding (no tool fixes this: a person does)")

    clean, problems = cleanliness(expected, diagnosis, bindings)
    wrong += problems
    return Score(named, fixed, clean, finding_rule, missing, list(dict.fromkeys(wrong)))


def cleanliness(expected: dict, diagnosis: dict, bindings: dict) -> tuple[bool, list[str]]:
    """`clean`, in both modes: no `must_not` tool recommended, no `must_not.say` text said; a healthy
    class also has exactly `expect_findings` findings and no failed tool."""
    text = said(diagnosis).lower()
    findings = diagnosis.get("findings") or []
    write_tools = write_tools_of(diagnosis)
    wrong = []
    clean = True
    must_not = expected.get("must_not") or {}
    forbidden = set()
    for tool in must_not.get("recommend_tools") or []:
        forbidden |= write_tools if tool == ALL_WRITE_TOOLS else {tool}
    for call in recommended_calls(diagnosis):
        if call.get("tool") in forbidden:
            clean = False
            wrong.append(f"recommends {call_text(call)}")
    for phrase in must_not.get("say") or []:
        for variant in expand(phrase, bindings):
            if variant.lower() in text:
                clean = False
                wrong.append(f"says {variant!r}")
    if expected.get("expect_findings") is not None:
        if len(findings) != expected["expect_findings"]:
            clean = False
            examples = "; ".join(finding.get("summary", "?") for finding in findings[:3])
            wrong.append(f"{len(findings)} findings where {expected['expect_findings']} expected: {examples}")
        # "Nothing found" only counts when everything was looked at: some tool ran, none failed, and the
        # diagnosis reports no problem (a runbook it could not run, a target it could not reach).
        tools = diagnosis.get("tools") or []
        failed = [tool for tool in tools if tool.get("error")]
        if not tools:
            clean = False
            wrong.append("no tool ran, so nothing found proves nothing")
        if failed:
            clean = False
            wrong.append(f"{len(failed)} of {len(tools)} tools failed, so nothing found proves nothing: "
                         + "; ".join(f"{tool.get('tool')}: {first_line(tool['error'])[:120]}" for tool in failed[:3]))
        if diagnosis.get("problems"):
            clean = False
            wrong.append("the diagnosis reports problems, so nothing found proves nothing: "
                         + "; ".join(first_line(str(problem))[:160] for problem in diagnosis["problems"][:3]))
    return clean, wrong


# ------------------------------------------------------------------------------- model-mode scoring

# What the orchestrator's briefing says when the runbooks found nothing (Orchestrator.briefing).
BRIEFING_NOTHING_FOUND = "The runbooks found nothing."


@dataclass
class ModelScore:
    """Model mode scores the glue around the model, not the (replayed) model: None where the question
    does not apply or cannot be seen (a real provider's requests are not captured)."""
    offered: bool | None    # every tool the model called was offered in its first request
    evidence: bool | None   # the briefing carries every must_mention (a healthy class: no finding)
    executed: bool | None   # every read came back to the model as a result, not an error; its answer is the analysis
    proposed: bool | None   # fix.tool with fix.arguments among the recommended actions, proposed by the model itself
    clean: bool
    named: bool | None = None   # a real provider only: its diagnosis names the cause (a replay's text is not scored)
    missing: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # shown, never a failure: tool outputs the glue cut short

    @property
    def passed(self) -> bool:
        return all(value is not False for value in (self.offered, self.evidence, self.executed, self.proposed, self.named)) and self.clean


def fill(value, bindings: dict):
    """A model.yaml value with its `$name`s filled: a value that is one `$name` takes the bound value
    itself (a number stays a number; a list binding gives its first member), text around `$name`s
    gives text."""
    if isinstance(value, dict):
        return {key: fill(item, bindings) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, bindings) for item in value]
    if isinstance(value, str):
        whole = NAME.fullmatch(value)
        if whole:
            if whole.group(1) not in bindings:
                raise MissingBinding(whole.group(1))
            bound = bindings[whole.group(1)]
            return bound[0] if isinstance(bound, list) else bound
        return expand(value, bindings)[0] if NAME.search(value) else value
    return value


def message_text(content) -> str:
    """The text of one Anthropic message's content: a string, or text and tool_result blocks."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            parts.append(block.get("text") or "")
        elif block.get("type") == "tool_result":
            parts.append(message_text(block.get("content")))
    return "\n".join(parts)


def offered_tools(request: dict) -> set[str]:
    return {tool.get("name") for tool in request.get("tools") or []}


def tool_result(request: dict, tool: str) -> dict | None:
    """The tool_result block a request carries back for the model's last call of `tool`: found through
    the tool_use id of the assistant turn the request repeats."""
    messages = request.get("messages") or []
    ids = [block.get("id") for message in messages if message.get("role") == "assistant" and isinstance(message.get("content"), list)
           for block in message["content"] if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == tool]
    if not ids:
        return None
    last = messages[-1] if messages else {}
    for block in last.get("content") if isinstance(last.get("content"), list) else []:
        if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("tool_use_id") == ids[-1]:
            return block
    return None


def mentioned(needle: str, haystack: str) -> bool:
    """Case-insensitive, as it reads or as it reads inside a JSON string (tool outputs are JSON text)."""
    needle, haystack = needle.lower(), haystack.lower()
    return needle in haystack or json.dumps(needle, ensure_ascii=False)[1:-1] in haystack


def score_model(expected: dict, diagnosis: dict, bindings: dict, turns: list[dict] | None = None,
                requests: list[dict] | None = None) -> ModelScore:
    """Scores a model-mode diagnosis. `turns` is the replayed answer (model.yaml, filled) and `requests`
    the bodies the fake model received; without them (a real provider) only what the diagnosis shows
    is scored: the proposal, clean, and the cause named as in runbook mode."""
    missing, wrong = [], []
    clean, problems = cleanliness(expected, diagnosis, bindings)
    wrong += problems
    fix = expected.get("fix") or {}
    calls = recommended_calls(diagnosis)
    proposed = None
    if fix.get("tool"):
        proposed, why = fix_recommended(fix, calls, bindings)
        missing += [why] if why else []
    llm = diagnosis.get("llm") or {}
    if diagnosis.get("mode") != "llm":
        wrong.append(f"the model was not asked (mode {diagnosis.get('mode')}): {'; '.join(diagnosis.get('problems') or [])}"[:300])
    elif llm.get("stopped_because"):
        wrong.append(f"the investigation ended early: {llm['stopped_because']}"[:300])
    ran_through = diagnosis.get("mode") == "llm" and not llm.get("stopped_because")

    if requests is None:
        named = score(expected, diagnosis, bindings).named
        if named is False:
            missing += [text for text in score(expected, diagnosis, bindings).missing if text.startswith(("mention ", "name the cause"))]
        return ModelScore(None, None, ran_through, proposed, clean, named, missing, list(dict.fromkeys(wrong)))

    turns = turns or []
    if not requests:
        wrong.append("the model was never asked")
        return ModelScore(False, False, False, False if fix.get("tool") else None, clean, None, missing, list(dict.fromkeys(wrong)))
    first = requests[0]
    write_tools = write_tools_of(diagnosis)

    offer = offered_tools(first)
    called = [turn for turn in turns if "tool" in turn]
    not_offered = sorted({turn["tool"] for turn in called} - offer)
    offered = not not_offered
    if not_offered:
        missing.append(f"offer {', '.join(not_offered)} (the first request offered: {', '.join(sorted(offer)) or 'nothing'})")

    briefing = "\n".join(message_text(message.get("content")) for message in first.get("messages") or [])
    root = expected.get("root_cause")
    evidence = True
    if root:
        for item in root.get("must_mention") or []:
            variants = expand(item, bindings)
            if not any(mentioned(variant, briefing) for variant in variants):
                evidence = False
                missing.append(f"the briefing to mention {' | '.join(repr(v) for v in variants)}")
    elif expected.get("expect_findings") == 0 and BRIEFING_NOTHING_FOUND not in briefing:
        evidence = False
        found = [line.strip() for line in briefing.splitlines() if line.startswith("- [")][:3]
        wrong.append(f"the briefing reports findings on a healthy system: {'; '.join(found) or briefing[:200]}")

    notes = [f"the briefing cut {name}'s output" for name in cut_outputs(briefing)]
    executed = ran_through
    recorded = []   # the model's write calls that came back as recorded, not refused
    for index, turn in enumerate(turns):
        if "tool" not in turn:
            continue
        call = {"tool": turn["tool"], "arguments": turn.get("input") or {}}
        write = turn["tool"] in write_tools
        result = tool_result(requests[index + 1], turn["tool"]) if index + 1 < len(requests) else None
        if result is None:
            wrong.append(f"{call_text(call)}: no tool_result came back to the model ({len(requests)} requests for {len(turns)} turns)")
            executed = executed and write
        elif result.get("is_error"):
            wrong.append(f"{call_text(call)} came back as an error: {first_line(message_text(result.get('content')))[:200]}")
            executed = executed and write
        elif write:
            recorded.append(call)
        elif not is_json(message_text(result.get("content"))):
            notes.append(f"{turn['tool']}'s result was cut for the model ({len(message_text(result.get('content')))} characters)")
    final = next((turn["text"] for turn in reversed(turns) if "text" in turn), None)
    if ran_through and final is not None and (diagnosis.get("analysis") or "").strip() != final.strip():
        executed = False
        wrong.append(f"the analysis is not the model's answer: {first_line(diagnosis.get('analysis') or '(none)')[:120]}")
    if fix.get("tool"):
        # The model's own proposal must be the fix and reach the diagnosis: a runbook finding that
        # recommends the fix too does not count for the model.
        own, _ = fix_recommended(fix, recorded, bindings)
        carried = [call for call in recorded if any(carries(other, call) for other in calls)]
        if not own:
            missing.append(f"the model's own proposal of {fix['tool']} with the fix's arguments, recorded (recorded: "
                           f"{', '.join(call_text(call) for call in recorded) or 'nothing'})")
        elif not fix_recommended(fix, carried, bindings)[0]:
            missing.append(f"the model's proposal {', '.join(call_text(call) for call in recorded)} among the recommended actions")
        proposed = bool(proposed and own and fix_recommended(fix, carried, bindings)[0])
    return ModelScore(offered, evidence, executed, proposed, clean, None, missing, list(dict.fromkeys(wrong)), notes)


def carries(recommended: dict, call: dict) -> bool:
    """Whether a recommended call is `call`: the same tool with each of its arguments (compared as text)."""
    return recommended.get("tool") == call["tool"] and all(
        text_of((recommended.get("arguments") or {}).get(key)) == text_of(value) for key, value in call["arguments"].items())


def is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


BRIEFING_TOOL_LINE = re.compile(r"^- ([a-z_]+) (\{.*?\}): (.*)$")


def cut_outputs(briefing: str) -> list[str]:
    """The tools whose output the briefing cut short (its JSON no longer parses)."""
    cut = []
    for line in briefing.splitlines():
        match = BRIEFING_TOOL_LINE.match(line)
        if match and not match.group(3).startswith("failed: ") and not is_json(match.group(3)):
            cut.append(f"{match.group(1)} {match.group(2)}")
    return cut


# ---------------------------------------------------------------------------------- plant checking


def object_problems(zoo_class: ZooClass) -> list[str]:
    """Every objects.yaml document checked with kubernetes-validate, strict, at Kubernetes 1.30."""
    path = zoo_class.folder / "objects.yaml"
    if not path.exists():
        return []
    import kubernetes_validate
    problems = []
    for index, document in enumerate(yaml.safe_load_all(path.read_text())):
        if not document:
            continue
        where = f"{zoo_class.name}/objects.yaml document {index + 1} ({document.get('kind')}/{(document.get('metadata') or {}).get('name')})"
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{where}: {str(error).splitlines()[0]}")
        except Exception as error:  # a kind without a schema, a malformed document
            problems.append(f"{where}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    return problems


def plant_problems(zoo_class: ZooClass) -> list[str]:
    """What is missing for the class to be planted; bindings are checked here for the recorded plants
    (a plant.py returns its bindings only when it runs)."""
    problems = []
    folder = zoo_class.folder
    if zoo_class.kubernetes:
        for name in ("objects.yaml", "plant.yaml"):
            if not (folder / name).exists():
                problems.append(f"{zoo_class.name}: no {name}")
        if (folder / "plant.yaml").exists():
            plant = yaml.safe_load((folder / "plant.yaml").read_text()) or {}
            unbound = sorted(zoo_class.names() - set(plant.get("bindings") or {}))
            if unbound:
                problems.append(f"{zoo_class.name}: plant.yaml does not bind {', '.join('$' + n for n in unbound)}")
            if zoo_class.peer == "both" and not (plant.get("database") or {}).get("k8s_namespace"):
                problems.append(f"{zoo_class.name}: plant.yaml has no database.k8s_namespace for prod-db")
    if zoo_class.postgres and not (folder / "plant.py").exists():
        problems.append(f"{zoo_class.name}: no plant.py")
    return problems


def model_problems(zoo_class: ZooClass) -> list[str]:
    """What is wrong with the class's model.yaml, the answer model mode replays: turns of one tool call
    or the final text (last, once); the fix proposed when expected.yaml has a fix tool and no write tool
    otherwise; no must_not tool or phrase; Kubernetes calls name their namespace; every `$name` bound."""
    name = zoo_class.name
    turns = zoo_class.model_turns
    if turns is None:
        return [f"{name}: no model.yaml"]
    if not isinstance(turns, list) or not turns:
        return [f"{name}: model.yaml has no turns"]
    problems = []
    for index, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or len({"tool", "text"} & set(turn)) != 1 or set(turn) - {"tool", "input", "text"}:
            problems.append(f"{name}: model.yaml turn {index} is not {{tool: NAME, input: {{…}}}} or {{text: …}}")
        elif "text" in turn and index != len(turns):
            problems.append(f"{name}: model.yaml turn {index} is text before the last turn")
        elif "tool" in turn and not isinstance(turn.get("input", {}), dict):
            problems.append(f"{name}: model.yaml turn {index}'s input is not a mapping")
    if not isinstance(turns[-1], dict) or "text" not in turns[-1]:
        problems.append(f"{name}: model.yaml's last turn is not the final text")
    calls = [turn for turn in turns if isinstance(turn, dict) and "tool" in turn]
    fix = zoo_class.expected.get("fix") or {}
    if fix.get("tool"):
        wanted = {key: text_of(value) for key, value in (fix.get("arguments") or {}).items()}
        if not any(turn["tool"] == fix["tool"] and all(text_of((turn.get("input") or {}).get(key)) == value for key, value in wanted.items())
                   for turn in calls):
            problems.append(f"{name}: model.yaml does not propose {fix['tool']} with {wanted}")
    else:
        problems += [f"{name}: model.yaml calls the write tool {turn['tool']} where no tool fixes it" for turn in calls
                     if turn["tool"] in KNOWN_WRITE_TOOLS]
    must_not = zoo_class.expected.get("must_not") or {}
    forbidden = set()
    for tool in must_not.get("recommend_tools") or []:
        forbidden |= KNOWN_WRITE_TOOLS if tool == ALL_WRITE_TOOLS else {tool}
    problems += [f"{name}: model.yaml calls {turn['tool']}, which expected.yaml forbids" for turn in calls if turn["tool"] in forbidden]
    text = " ".join(str(turn.get("text")) for turn in turns if isinstance(turn, dict) and "text" in turn).lower()
    problems += [f"{name}: model.yaml's text says {phrase!r}, which expected.yaml forbids" for phrase in must_not.get("say") or []
                 if not NAME.search(phrase) and phrase.lower() in text]
    if zoo_class.peer == "kubernetes":
        problems += [f"{name}: model.yaml calls {turn['tool']} without a namespace" for turn in calls
                     if turn["tool"] != "nodes" and not (turn.get("input") or {}).get("namespace")]
    if zoo_class.kubernetes and (zoo_class.folder / "plant.yaml").exists():
        bound = set((yaml.safe_load((zoo_class.folder / "plant.yaml").read_text()) or {}).get("bindings") or {})
    else:
        bound = zoo_class.names()   # a plant.py binds what expected.yaml names
    unbound = sorted(zoo_class.model_names() - bound)
    if unbound:
        problems.append(f"{name}: model.yaml uses {', '.join('$' + n for n in unbound)}, which the plant does not bind")
    return problems


# -------------------------------------------------------------------------------------------- peers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _SessionServer:
    """What peers.Session reads of a server (port, env), with PGAPPNAME so psql sets application_name and
    PGDATABASE so it connects to that database."""

    def __init__(self, server, application: str | None, database: str | None):
        self.port = server.port
        self.env = {**server.env, **({"PGAPPNAME": application} if application else {}), **({"PGDATABASE": database} if database else {})}


class Zoo:
    """What a PostgreSQL plant (plant.py) gets: the class's server and helpers whose leftovers the
    scorer cleans up after the class (sessions closed, background threads stopped, cleanups run)."""

    def __init__(self, pg, folder: Path):
        self.pg = pg
        self.folder = folder
        self.stop_event = threading.Event()
        self._sessions = []
        self._threads = []
        self._cleanups = []

    def session(self, application: str | None = None, database: str | None = None):
        """A psql session held open, as `application`, in `database` (default: postgres)."""
        from peers import Session
        session = Session(self.pg if application is None and database is None else _SessionServer(self.pg, application, database))
        self._sessions.append(session)
        return session

    @staticmethod
    def wait_for(condition, timeout: float = 30, interval: float = 0.1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return False

    def background(self, fn) -> threading.Thread:
        """Runs fn(stop_event) in a thread until the class ends (then stop_event is set)."""
        def run():
            try:
                fn(self.stop_event)
            except Exception:
                if not self.stop_event.is_set():
                    print(f"zoo: a background task of a plant failed:\n{traceback.format_exc()}", file=sys.stderr)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def on_cleanup(self, fn):
        self._cleanups.append(fn)

    free_port = staticmethod(free_port)

    def cleanup(self):
        self.stop_event.set()
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception as error:
                print(f"zoo: a plant's cleanup failed: {error}", file=sys.stderr)
        for session in self._sessions:
            session.close()
        for thread in self._threads:
            thread.join(timeout=10)


def _pytest_failure():
    """peers.py reports through pytest.fail, whose exception is a BaseException."""
    import pytest
    return pytest.fail.Exception


def start_postgres(settings: dict):
    from peers import PostgresServer
    failure = _pytest_failure()
    options = {"max_connections": int(settings["max_connections"])} if "max_connections" in settings else {}
    try:
        server = PostgresServer(free_port(), **options)
    except failure as error:
        raise PeerError(str(error)) from None
    try:
        return server.start(settings=settings) if settings else server.start()
    except TypeError as error:
        server.stop()
        raise PlantError(f"peers.PostgresServer.start takes no settings yet ({error}); the class needs {settings}") from None
    except failure as error:
        server.stop()
        raise PeerError(f"PostgreSQL did not start: {error}") from None


def load_plant_module(zoo_class: ZooClass):
    path = zoo_class.folder / "plant.py"
    if not path.exists():
        raise PlantError("no plant (plant.py is missing)")
    spec = importlib.util.spec_from_file_location(f"zoo_plant_{zoo_class.name.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------- running


MODES = ("runbook", "model")
# Model mode's key for the replay fake (helpdesk needs one to ask a model); never a real key.
REPLAY_KEY = "sk-ant-zoo-replay-not-a-key"


@dataclass
class Options:
    binary: str
    modes: tuple[str, ...] = ("runbook",)
    llm: dict | None = None         # model mode with a real provider: the `llm:` section; None: the replay fake
    timeout: float = DIAGNOSE_TIMEOUT
    keep: bool = False


@dataclass
class Planted:
    bindings: dict
    database: dict | None = None    # prod-db's inventory entry (None: no database in the inventory)
    pg_port: int | None = None
    pg_password: str | None = None
    kubeconfig: Path | None = None
    # A plant that sets max_connections leaves a diagnose just its own connections: each trigger waits
    # until the previous diagnose's backends have exited (PostgreSQL frees a slot a moment after the
    # client went), down to the client backends the plant left (`planted_backends`).
    slots: object | None = None
    planted_backends: int = 0


# The poller's own backends (this query's, and an earlier poll's that has not exited yet) are not counted.
SLOT_POLLER = "zoo-slots"
OTHER_CLIENT_BACKENDS = f"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> '{SLOT_POLLER}'"


def other_client_backends(pg) -> int | None:
    """None when PostgreSQL cannot answer: every slot taken (the poll needs one too) or too slow."""
    try:
        result = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d", "postgres", "-At", "-c",
                                 OTHER_CLIENT_BACKENDS], capture_output=True, text=True, timeout=10,
                                env={**pg.env, "PGAPPNAME": SLOT_POLLER})
    except subprocess.TimeoutExpired:
        return None
    return int(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip().isdigit() else None


def count_planted_backends(pg) -> int:
    """The plant's client backends once they stop changing (its own psql calls' backends exit first)."""
    previous, stable_since = None, time.monotonic()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        current = other_client_backends(pg)
        if current is None or current != previous:
            previous, stable_since = current, time.monotonic()
        elif time.monotonic() - stable_since >= 0.3:
            break
        time.sleep(0.1)
    return previous if previous is not None else 0


def wait_for_free_slots(planted: Planted):
    """Up to 10 s, then the trigger runs anyway (and fails with PostgreSQL's own reason if it must)."""
    if planted.slots is None:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        current = other_client_backends(planted.slots)
        if current is not None and current <= planted.planted_backends:
            return
        time.sleep(0.05)


def row(zoo_class: ZooClass, trigger: str, mode: str = "runbook", **values) -> dict:
    base = {"class": zoo_class.name, "trigger": trigger, "mode": mode, "pass": False, "named": None, "fix": None, "clean": False,
            "finding_rule": None, "missing": [], "wrong": [], "findings": 0, "seconds": 0.0, "summary": "", "exit_code": None}
    if mode == "model":
        base.update({"offered": None, "evidence": None, "executed": None, "proposed": None})
    return {**base, **values}


def failed_rows(zoo_class: ZooClass, reason: str, seconds: float = 0.0, modes: tuple[str, ...] = ("runbook",)) -> list[dict]:
    return [row(zoo_class, kind, mode, wrong=[reason], seconds=round(seconds, 2)) for mode in modes for kind, _ in zoo_class.triggers()]


def alert_payload(zoo_class: ZooClass, spec: dict, bindings: dict) -> dict:
    """One alert as Alertmanager's webhook carries it."""
    labels = {"alertname": spec["alertname"]}
    for key, value in (spec.get("labels") or {}).items():
        labels[key] = expand(value, bindings)[0]
    fingerprint = hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]
    started = (datetime.now(timezone.utc) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"status": "firing", "labels": labels, "annotations": {"summary": zoo_class.expected.get("summary", "")},
            "startsAt": started, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus.monitoring.svc:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{spec['alertname']}%22%7D",
            "fingerprint": fingerprint}


def write_config(work: Path, planted: Planted, options: Options, llm: dict | None = None) -> tuple[Path, dict]:
    """The configuration and environment of one class's diagnoses; with `llm` (model mode) that `llm:`
    section and the clock-free policy, in a file of their own beside the runbook mode's."""
    infrastructure = {}
    if planted.database is not None:
        infrastructure["db_servers"] = {"prod-db": planted.database}
    if planted.kubeconfig is not None:
        infrastructure["k8s_clusters"] = {"prod-cluster": {"context": "stub", "kubeconfig": str(planted.kubeconfig), "tags": ["production"]}}
    config = {"store": {"path": str(work / "state" / "hd.sqlite")}, "diagnosis": {"bundles_dir": str(work / "bundles")},
              "infrastructure": infrastructure}
    path = work / "helpdesk.yaml"
    if llm is not None:
        policies = work / "model-policies"
        policies.mkdir(exist_ok=True)
        from fake_llm import CLOCK_FREE_POLICY  # model mode is about the glue, not the clock
        (policies / "all.yaml").write_text(CLOCK_FREE_POLICY)
        config["llm"] = llm
        config["policies"] = {"dir": str(policies)}
        path = work / "helpdesk-model.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    passfile = work / "pgpass"
    passfile.write_text(f"127.0.0.1:{planted.pg_port}:*:postgres:{planted.pg_password}\n" if planted.pg_password else "")
    os.chmod(passfile, 0o600)
    home = work / "home"
    home.mkdir(exist_ok=True)
    environment = {key: value for key, value in os.environ.items() if key != "HELPDESK_CONFIG"}
    environment.update({"HOME": str(home), "XDG_STATE_HOME": str(work / "xdg-state"), "XDG_CONFIG_HOME": str(work / "xdg-config"),
                        "PGPASSFILE": str(passfile), "PGPASSWORD": ""})
    return path, environment


def first_line(*texts: str) -> str:
    for text in texts:
        for line in (text or "").splitlines():
            if line.strip():
                return line.strip()[:300]
    return "(no output)"


def run_trigger(zoo_class: ZooClass, kind: str, spec: dict, planted: Planted, config: Path, environment: dict, work: Path,
                options: Options, mode: str = "runbook", fake=None, turns: list[dict] | None = None) -> dict:
    """Runs one diagnose and scores it: runbook mode against expected.yaml; model mode (the model being
    `fake` replaying `turns`, or a real provider when `fake` is None) the glue around the model."""
    wait_for_free_slots(planted)
    command = [options.binary, "diagnose"]
    if kind == "person":
        command.append(spec["target"])
        if spec.get("namespace"):
            command += ["--namespace", spec["namespace"]]
        if spec.get("symptom"):
            command += ["--symptom", spec["symptom"]]
    else:
        alert = work / f"alert-{zoo_class.name}.json"
        alert.write_text(json.dumps(alert_payload(zoo_class, spec, planted.bindings), indent=2))
        command += ["--alert", str(alert)]
    command += ["--json", "--config", str(config)]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=options.timeout, env=environment)
    except subprocess.TimeoutExpired:
        return row(zoo_class, kind, mode, wrong=[f"diagnose did not finish in {options.timeout:.0f} s"], seconds=round(time.monotonic() - started, 2))
    except OSError as error:
        # The binary could not be started (being rebuilt: "Text file busy"; gone): this trigger fails, the run goes on.
        return row(zoo_class, kind, mode, wrong=[f"could not run {options.binary}: {error}"], seconds=round(time.monotonic() - started, 2))
    seconds = round(time.monotonic() - started, 2)
    try:
        diagnosis = json.loads(result.stdout)
    except ValueError:
        diagnosis = None
    if not isinstance(diagnosis, dict):
        # A usage error (an option this binary does not have) or a crash: the trigger failed, with why.
        return row(zoo_class, kind, mode, exit_code=result.returncode, seconds=seconds,
                   wrong=[f"diagnose exited {result.returncode} without a diagnosis: {first_line(result.stderr, result.stdout)}"])
    if options.keep:
        (work / f"diagnosis-{mode}-{kind}.json").write_text(result.stdout)
    common = {"findings": len(diagnosis.get("findings") or []), "seconds": seconds, "summary": diagnosis.get("summary", ""),
              "exit_code": result.returncode, "found": found(diagnosis)}
    if mode == "model":
        outcome = score_model(zoo_class.expected, diagnosis, planted.bindings, turns,
                              None if fake is None else [request["body"] for request in fake.requests])
        scores = {"offered": outcome.offered, "evidence": outcome.evidence, "executed": outcome.executed, "proposed": outcome.proposed,
                  "clean": outcome.clean, "named": outcome.named, "notes": outcome.notes}
    else:
        outcome = score(zoo_class.expected, diagnosis, planted.bindings)
        scores = {"named": outcome.named, "fix": outcome.fix, "clean": outcome.clean, "finding_rule": outcome.finding_rule}
    wrong = list(outcome.wrong)
    if result.returncode not in (0, 1):
        problems = "; ".join(diagnosis.get("problems") or []) or diagnosis.get("summary", "")
        wrong.insert(0, f"diagnose exited {result.returncode}: {problems[:300]}")
    passed = outcome.passed and result.returncode in (0, 1)
    return row(zoo_class, kind, mode, **{"pass": passed}, **scores, missing=outcome.missing, wrong=wrong, **common)


def found(diagnosis: dict) -> list[str]:
    """The findings as a failure lists them: severity, rule, summary and advice."""
    return [f"[{finding.get('severity')}] {finding.get('rule')}: {finding.get('summary')}"
            + (f" (advice: {finding['advice']})" if finding.get("advice") else "") for finding in diagnosis.get("findings") or []]


def run_model_triggers(zoo_class: ZooClass, planted: Planted, work: Path, options: Options) -> list[dict]:
    """The class's triggers in model mode on the plant as it stands: each diagnose asks the replay fake
    (one per class, on its own port, the script replayed from its start for each trigger), or the real
    provider of `options.llm`."""
    fake = turns = None
    llm = options.llm
    if llm is None:
        try:
            turns = fill(zoo_class.model_turns, planted.bindings) if zoo_class.model_turns else None
        except MissingBinding as error:
            return failed_rows(zoo_class, f"model.yaml uses ${error.args[0]}, which the plant did not bind", modes=("model",))
        if not turns:
            return failed_rows(zoo_class, "no model answer to replay (model.yaml is missing or has no turns)", modes=("model",))
        from fake_llm import FakeLLM
        fake = FakeLLM(script=turns)
        llm = {"provider": "anthropic", "model": "zoo-replay", "base_url": f"http://127.0.0.1:{fake.port}"}
    try:
        config, environment = write_config(work, planted, options, llm=llm)
        if fake is not None:
            environment["ANTHROPIC_API_KEY"] = REPLAY_KEY
        rows = []
        for kind, spec in zoo_class.triggers():
            if fake is not None:
                fake.reset()
            rows.append(run_trigger(zoo_class, kind, spec, planted, config, environment, work, options, "model", fake, turns))
            if fake is not None and options.keep:
                # What the model was sent (briefing, tool offer, tool results), to read beside the bundle.
                (work / f"model-requests-{kind}.json").write_text(json.dumps([request["body"] for request in fake.requests], indent=2))
        return rows
    finally:
        if fake is not None:
            fake.stop()


def run_class(zoo_class: ZooClass, options: Options) -> list[dict]:
    """Plants the class on fresh peers, runs each trigger and scores it; the peers go when it is done.
    Raises PeerError when a peer cannot start."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f"zoo-{zoo_class.name}-"))
    stub = pg = zoo = None
    try:
        try:
            planted = Planted(bindings={})
            if zoo_class.kubernetes:
                if not shutil.which("kubectl"):
                    raise PeerError("kubectl is not installed (the Kubernetes classes drive it against a stub API server)")
                if not (zoo_class.folder / "objects.yaml").exists():
                    raise PlantError("no plant (objects.yaml is missing)")
                from kube_stub import KubeStub
                stub = KubeStub.load(zoo_class.folder).start()
                planted.kubeconfig = stub.kubeconfig(work / "kubeconfig")
                planted.bindings.update(stub.plant.get("bindings") or {})
            if zoo_class.peer == "both":
                # The database is down: nothing listens on its port; its pods tell why.
                port = free_port()
                planted.database = {"connection_string": f"host=127.0.0.1 port={port} dbname=postgres user=postgres sslmode=disable connect_timeout=3",
                                    "tags": ["production"], "k8s_cluster": "prod-cluster", **(stub.plant.get("database") or {})}
            if zoo_class.postgres:
                module = load_plant_module(zoo_class)
                pg = start_postgres(dict(getattr(module, "SETTINGS", {}) or {}))
                zoo = Zoo(pg, work)
                result = module.plant(zoo) or {}
                inventory = dict(getattr(module, "INVENTORY", {}) or {})
                if isinstance(result.get("bindings"), dict):
                    inventory.update(result.get("inventory") or {})
                    result = result["bindings"]
                planted.bindings.update(result)
                planted.pg_port, planted.pg_password = pg.port, pg.password
                if "max_connections" in (getattr(module, "SETTINGS", {}) or {}):
                    planted.slots, planted.planted_backends = pg, count_planted_backends(pg)
                # `dbname` is the plant's word for the database prod-db connects to (not an inventory key).
                dbname = inventory.pop("dbname", "postgres")
                planted.database = {"connection_string": f"host=127.0.0.1 port={pg.port} dbname={dbname} user=postgres sslmode=disable",
                                    "tags": ["production"], **inventory}
            unbound = sorted(zoo_class.names() - set(planted.bindings))
            if unbound:
                raise PlantError(f"the plant did not bind {', '.join('$' + name for name in unbound)}")
        except (PlantError, PeerError):
            raise
        except (Exception, _pytest_failure()) as error:  # peers.py's helpers fail through pytest.fail
            print(f"zoo: {zoo_class.name}'s plant failed:\n{traceback.format_exc()}", file=sys.stderr)
            raise PlantError(f"plant failed: {type(error).__name__}: {first_line(str(error))}") from None
        # Planted once: the model-mode triggers run right after the runbook-mode ones, on the same plant.
        rows = []
        if "runbook" in options.modes:
            config, environment = write_config(work, planted, options)
            rows += [run_trigger(zoo_class, kind, spec, planted, config, environment, work, options) for kind, spec in zoo_class.triggers()]
        if "model" in options.modes:
            rows += run_model_triggers(zoo_class, planted, work, options)
        return rows
    except PlantError as error:
        return failed_rows(zoo_class, str(error).strip(), time.monotonic() - started, options.modes)
    finally:
        if zoo is not None:
            zoo.cleanup()
        if stub is not None:
            stub.stop()
        if pg is not None:
            pg.stop()
        if options.keep:
            print(f"zoo: {zoo_class.name}'s folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_zoo(classes: list[ZooClass], options: Options, jobs: int = 4, progress=None) -> tuple[list[dict], list[str]]:
    """Runs the classes in parallel; returns the rows (class order; runbook mode before model mode, person
    before alert) and the peers that failed."""
    rows, peer_failures = {}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_class, zoo_class, options): zoo_class for zoo_class in classes}
        for future in concurrent.futures.as_completed(futures):
            zoo_class = futures[future]
            try:
                rows[zoo_class.name] = future.result()
            except PeerError as error:
                peer_failures.append(f"{zoo_class.name}: {error}")
                rows[zoo_class.name] = failed_rows(zoo_class, f"peer did not start: {error}", modes=options.modes)
            if progress:
                for item in rows[zoo_class.name]:
                    progress(item)
    return [item for zoo_class in classes for item in rows[zoo_class.name]], peer_failures


# ----------------------------------------------------------------------------------------- reports


def mark(value) -> str:
    return "-" if value is None else ("yes" if value else "no")


# The scored columns of each mode's table, after class, trigger and mode.
COLUMNS = {"runbook": (("named", "named"), ("fix", "fix"), ("clean", "clean"), ("rule", "finding_rule")),
           "model": (("offered", "offered"), ("evidence", "evidence"), ("executed", "executed"), ("proposed", "proposed"), ("clean", "clean"))}


def mode_of(item: dict) -> str:
    return item.get("mode") or "runbook"


def table(rows: list[dict]) -> str:
    """One table per mode (its own columns), runbook mode first."""
    width = max([len("class")] + [len(item["class"]) for item in rows])
    tables = []
    for mode in MODES:
        chosen = [item for item in rows if mode_of(item) == mode]
        if not chosen:
            continue
        columns = COLUMNS[mode]
        header = (f"{'class':<{width}}  {'trigger':<7}  {'mode':<7}  " + "  ".join(f"{title:<5}" for title, _ in columns)
                  + f"  {'pass':<4}  {'findings':>8}  {'seconds':>7}")
        lines = [header, "-" * len(header)]
        for item in chosen:
            lines.append(f"{item['class']:<{width}}  {item['trigger']:<7}  {mode:<7}  "
                         + "  ".join(f"{mark(item.get(key)):<{max(5, len(title))}}" for title, key in columns)
                         + f"  {'PASS' if item['pass'] else 'FAIL':<4}  {item['findings']:>8}  {item['seconds']:>7.1f}")
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def totals(rows: list[dict], seconds: float) -> str:
    """One line per mode, then the run's time."""
    lines = []
    for mode in MODES:
        chosen = [item for item in rows if mode_of(item) == mode]
        if not chosen:
            continue
        by_class = {}
        for item in chosen:
            by_class.setdefault(item["class"], []).append(item["pass"])
        whole = sum(all(values) for values in by_class.values())
        lines.append(f"{mode}: passed {sum(item['pass'] for item in chosen)} of {len(chosen)} (class, trigger) pairs; "
                     f"{whole} of {len(by_class)} classes pass every trigger")
    return "\n".join(lines + [f"took {seconds:.0f} s"])


def failures(rows: list[dict]) -> str:
    lines = []
    for item in rows:
        if item["pass"]:
            continue
        lines.append(f"{pair(item).replace('/', ' / ')}:")
        lines += [f"    missing: {text}" for text in item["missing"]]
        lines += [f"    wrong:   {text}" for text in item["wrong"]]
        lines += [f"    note:    {text}" for text in item.get("notes") or []]
        lines += [f"    found:   {text}" for text in item.get("found") or []]
    return "\n".join(lines)


def noted(rows: list[dict]) -> str:
    """The notes of passing rows (a failing row shows its notes with its failure)."""
    return "\n".join(f"{pair(item)}: {'; '.join(item['notes'])}" for item in rows if item["pass"] and item.get("notes"))


def report(rows: list[dict], mode: str) -> dict:
    return {"mode": mode, "classes": rows, "passed": sum(item["pass"] for item in rows), "total": len(rows)}


def pair(item: dict) -> str:
    """The row's key in a baseline: `class/trigger` in runbook mode, `model:class/trigger` in model mode."""
    key = f"{item['class']}/{item['trigger']}"
    return key if mode_of(item) == "runbook" else f"{mode_of(item)}:{key}"


def baseline_passes(path: Path) -> set[str]:
    """The (class, trigger) pairs that passed in a baseline: {"passing": ["class/trigger", "model:class/trigger", …]} or a
    --json report."""
    data = json.loads(path.read_text())
    if "passing" in data:
        return set(data["passing"])
    return {pair(item) for item in data.get("classes", []) if item.get("pass")}


def pair_parts(key: str) -> tuple[str, str, str]:
    """(class, trigger, mode) of a baseline key."""
    mode, _, rest = key.rpartition(":")
    name, _, trigger = rest.partition("/")
    return name, trigger, mode or "runbook"


def did_not_run(key: str) -> dict:
    """A row for a baseline pair a full run did not run: a failure, so deleting or renaming a class or a
    trigger (or a mode's rows going missing) is never silent."""
    name, trigger, mode = pair_parts(key)
    return {"class": name, "trigger": trigger, "mode": mode, "pass": False, "findings": 0, "seconds": 0.0,
            "missing": ["missing: did not run, although the baseline has it passing (a class or trigger deleted or renamed? "
                        "then take it out of the baseline on purpose)"], "wrong": []}


def compare(rows: list[dict], passing_before: set[str], full_modes: tuple[str, ...] | None = None) -> tuple[list[dict], list[str]]:
    """(regressions: rows that passed before and fail now, new passes). With `full_modes` (a run of every
    class in those modes, no --class), a pair of those modes that passed before and did not run at all is
    a regression too, reported as missing."""
    regressions = [item for item in rows if pair(item) in passing_before and not item["pass"]]
    if full_modes:
        ran = {pair(item) for item in rows}
        regressions += [did_not_run(key) for key in sorted(passing_before - ran) if pair_parts(key)[2] in full_modes]
    new = [pair(item) for item in rows if item["pass"] and pair(item) not in passing_before]
    return regressions, new


def write_baseline(path: Path, rows: list[dict], mode: str, full_modes: tuple[str, ...] | None = None) -> list[dict]:
    """Writes the passes, keeping the file's pairs this run did not run; refuses (returns the regressions)
    when this run fails a pair the file says passed, or (a full run, `full_modes`) did not run one: a
    baseline only ever moves up, and a pair leaves it only by an edit of its own."""
    before = baseline_passes(path) if path.exists() else set()
    regressions, _ = compare(rows, before, full_modes)
    if regressions:
        return regressions
    ran = {pair(item) for item in rows}
    passing = sorted((before - ran) | {pair(item) for item in rows if item["pass"]})
    modes = [name for name in MODES if any(key.startswith(f"{name}:") or (name == "runbook" and ":" not in key) for key in passing)]
    path.write_text(json.dumps({"modes": modes or [mode], "passing": passing}, indent=2) + "\n")
    return []


# --------------------------------------------------------------------------------------------- CLI


def parse_modes(text: str) -> tuple[str, ...]:
    """`runbook`, `model`, `both` or a comma list of them: the modes in MODES order, each once."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    if "both" in names:
        names = (names - {"both"}) | set(MODES)
    unknown = sorted(names - set(MODES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown mode {', '.join(unknown) or repr(text)}: use runbook, model or both")
    return tuple(name for name in MODES if name in names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zoo.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="plant, diagnose and score the classes")
    run.add_argument("--class", dest="classes", action="append", metavar="NAME", help="only this class (repeatable)")
    run.add_argument("--bin", default=os.environ.get("HELPDESK_BIN") or str(REPO / ".build" / "debug" / "helpdesk"),
                     help="the helpdesk binary (default: $HELPDESK_BIN, else .build/debug/helpdesk)")
    run.add_argument("--json", type=Path, metavar="OUT", help="write the scores as JSON")
    run.add_argument("--baseline", type=Path, metavar="FILE", help="exit 1 when a (class, trigger) that passed in FILE fails now")
    run.add_argument("--write-baseline", type=Path, metavar="FILE", help="record this run's passes (never fewer than FILE has)")
    run.add_argument("--jobs", type=int, default=4, help="classes at once (default 4)")
    run.add_argument("--mode", type=parse_modes, default=("runbook",), metavar="runbook|model|both",
                     help="runbook, model or both (a comma list works too); with both each class is planted once (default runbook)")
    run.add_argument("--llm-config", type=Path, default=os.environ.get("HELPDESK_ZOO_LLM_CONFIG"),
                     help="model mode with a real provider: a YAML file with the `llm:` section (default: $HELPDESK_ZOO_LLM_CONFIG); "
                          "without it model mode replays each class's model.yaml through a loopback fake")
    run.add_argument("--timeout", type=float, default=DIAGNOSE_TIMEOUT, help="seconds one diagnose may take")
    run.add_argument("--keep", action="store_true", help="keep each class's folder (config, bundles, alert) for a look")
    check = commands.add_parser("check", help="validate the plants (objects with kubernetes-validate, files, bindings) without running")
    check.add_argument("--class", dest="classes", action="append", metavar="NAME")
    check.add_argument("--no-objects", action="store_true", help="skip kubernetes-validate (files, bindings and model.yaml only)")
    args = parser.parse_args(argv)

    try:
        classes = load_classes(args.classes)
    except ValueError as error:
        print(f"zoo: {error}", file=sys.stderr)
        return 2
    if args.command == "check":
        problems = [problem for zoo_class in classes
                    for problem in plant_problems(zoo_class) + model_problems(zoo_class) + ([] if args.no_objects else object_problems(zoo_class))]
        print("\n".join(problems) if problems else
              f"{len(classes)} classes: plants and model answers present" + ("" if args.no_objects else f", objects valid for Kubernetes {KUBERNETES_VERSION}"))
        return 1 if problems else 0

    if not os.access(args.bin, os.X_OK):
        print(f"zoo: no helpdesk binary at {args.bin}: build it or pass --bin / set HELPDESK_BIN", file=sys.stderr)
        return 2
    llm = None
    if "model" in args.mode and args.llm_config:
        if not Path(args.llm_config).exists():
            print(f"zoo: no --llm-config file {args.llm_config} (YAML with the `llm:` section; the API key comes from the "
                  "environment as helpdesk reads it)", file=sys.stderr)
            return 2
        loaded = yaml.safe_load(Path(args.llm_config).read_text()) or {}
        llm = loaded.get("llm", loaded)
    options = Options(binary=args.bin, modes=args.mode, llm=llm, timeout=args.timeout, keep=args.keep)
    mode = ",".join(args.mode)
    # Every class in these modes: a baseline pair of them that does not run is missing, not skipped.
    full_modes = None if args.classes else args.mode

    def progress(item):
        print(f"zoo: {pair(item).replace('/', ' / ')}: {'PASS' if item['pass'] else 'FAIL'} ({item['seconds']:.1f} s)", file=sys.stderr)

    started = time.monotonic()
    rows, peer_failures = run_zoo(classes, options, args.jobs, progress)
    print(table(rows))
    print(totals(rows, time.monotonic() - started))
    if noted(rows):
        print("\nnotes (never a failure):\n" + noted(rows))
    if any(not item["pass"] for item in rows):
        print("\n" + failures(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report(rows, mode), indent=2) + "\n")
    if peer_failures:
        print("\nzoo: a peer could not start, so the run scores nothing honestly:\n" + "\n".join(f"  {text}" for text in peer_failures),
              file=sys.stderr)
        return 2
    status = 0 if all(item["pass"] for item in rows) else 1
    if args.baseline:
        regressions, new = compare(rows, baseline_passes(args.baseline), full_modes)
        if new:
            print(f"\nnew passes (not in {args.baseline}): {', '.join(new)}")
        if regressions:
            print(f"\nREGRESSIONS: passed in {args.baseline}, fail now (or did not run):")
            for item in regressions:
                print(f"  {pair(item)}: " + "; ".join(item["missing"] + item["wrong"]))
        status = 1 if regressions else 0
    if args.write_baseline:
        refused = write_baseline(args.write_baseline, rows, mode, full_modes)
        if refused:
            print(f"\nzoo: not writing {args.write_baseline}: this run fails {', '.join(pair(item) for item in refused)}, "
                  "which it records as passing (or did not run it)", file=sys.stderr)
            return 1
        print(f"baseline written: {args.write_baseline}")
    return status


if __name__ == "__main__":
    sys.exit(main())
