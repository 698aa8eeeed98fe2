"""An aiHelpDesk users file (users.file) against the real server: a service account authenticates with
its own API key against the stored Argon2id hash and acts as service:ID; hashed api.tokens work; a source
that keeps presenting wrong keys is refused before any hashing; `config check` names each problem of a
bad users file with its file and line; `helpdesk hash-key` makes what the server accepts."""
import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import REPO, http

FIXTURES = REPO / "Tests" / "Fixtures" / "aihelpdesk"
USERS = FIXTURES / "users.yaml"
# The keys behind the fixture's hashes (made with Debian's argon2 CLI; see the fixture's header).
CI_RUNNER_KEY = "ci-runner-test-key-7f3a9c"
NIGHTLY_REPORTS_KEY = "nightly-reports-test-key-2b8e41"
# api.tokens in hashed forms: `echo -n KEY | sha256sum` and the argon2 CLI's hash of ARGON_TOKEN_KEY.
SHA_TOKEN_KEY = "sha-token-test-key-9e07"
SHA_TOKEN_HEX = "9f665d181dc71652f582da06477ea3b2e689d82ff56110173e6c590cd3aaf3e2"
ARGON_TOKEN_KEY = "argon-token-test-key-5d1c"
ARGON_TOKEN_HASH = "$argon2id$v=19$m=65536,t=3,p=4$VGs4c1cxcUx6NlVl$VPe2+2mrA0az4zch563fyuaUYGEHReMgY5jQ77guGDw"

CONFIG = f"""
users:
  file: {USERS}
api:
  tokens:
    sha-client:
      token_sha256: {SHA_TOKEN_HEX}
    argon-client:
      token_argon2id: "{ARGON_TOKEN_HASH}"
"""


def get(hd, key, path="/api/v1/incidents"):
    return http("GET", hd.url(path), headers={"Authorization": f"Bearer {key}"}, timeout=30)


def principals(hd):
    result = hd.run("audit", "export")
    assert result.returncode == 0, result.stderr
    return [e["principal"] for e in map(json.loads, result.stdout.splitlines()) if e.get("kind") == "request_received"]


def test_a_service_account_authenticates_with_its_key_and_acts_as_service_id(helpdesk):
    hd = helpdesk(CONFIG)
    server = hd.start()
    status, _, body = get(hd, CI_RUNNER_KEY)
    assert status == 200, body
    status, _, _ = get(hd, NIGHTLY_REPORTS_KEY, "/v1/approvals")
    assert status == 200
    status, headers, body = get(hd, "ci-runner-test-key-7f3a9d")
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    assert {k.lower(): v for k, v in headers.items()}["www-authenticate"].startswith("Bearer")
    assert principals(hd) == ["service:ci-runner", "service:nightly-reports"]
    log = hd.log(server)
    assert CI_RUNNER_KEY not in log and "ci-runner-test-key-7f3a9d" not in log, "keys are never logged"


def test_token_sha256_and_token_argon2id_tokens_both_work(helpdesk):
    hd = helpdesk(CONFIG)
    hd.start()
    assert get(hd, SHA_TOKEN_KEY)[0] == 200
    assert get(hd, ARGON_TOKEN_KEY)[0] == 200
    assert get(hd, SHA_TOKEN_HEX)[0] == 401, "the stored hash is not itself a key"
    assert principals(hd) == ["sha-client", "argon-client"]


def test_after_five_failed_keys_from_one_source_the_next_gets_429_at_once(helpdesk):
    hd = helpdesk(CONFIG)
    hd.start()
    failures = []
    for attempt in range(5):
        started = time.monotonic()
        status, _, _ = get(hd, f"wrong-key-{attempt}")
        failures.append(time.monotonic() - started)
        assert status == 401
    started = time.monotonic()
    status, headers, body = get(hd, CI_RUNNER_KEY)
    refused_in = time.monotonic() - started
    assert status == 429, body
    assert json.loads(body)["error"]["code"] == "too_many_failed_keys"
    assert 1 <= int({k.lower(): v for k, v in headers.items()}["retry-after"]) <= 60
    # Each failure hashed the key against three stored Argon2id hashes; the refusal hashes nothing.
    assert refused_in < min(failures) / 2, (refused_in, failures)
    # A token that needs no hashing still passes from that address.
    assert get(hd, SHA_TOKEN_KEY)[0] == 200


def test_thirty_concurrent_wrong_keys_from_one_address_get_at_most_five_401s_and_the_rest_429(helpdesk):
    hd = helpdesk(CONFIG)
    hd.start()
    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(lambda n: get(hd, f"wrong-key-{n}"), range(30)))
    statuses = [status for status, _, _ in answers]
    # One check at a time per address, five failures a minute: the burst costs at most five Argon2id passes.
    assert 1 <= statuses.count(401) <= 5, statuses
    assert statuses.count(401) + statuses.count(429) == 30, statuses


def test_sigterm_during_a_burst_of_key_checks_does_not_wait_for_the_queue(helpdesk, tmp_path):
    # Eight accounts at hash-key's cost: every unknown key costs eight Argon2id checks, which config check warns about.
    users = tmp_path / "costly-users.yaml"
    users.write_text("service_accounts:\n" + "".join(
        f'  - id: ci-{n}\n    roles: [ci]\n    api_key_hash: "{ARGON_TOKEN_HASH}"\n' for n in range(8)))
    hd = helpdesk(f"server:\n  trusted_proxies: [127.0.0.1/32]\nusers:\n  file: {users}\n")
    check = hd.run("config", "check")
    assert check.returncode == 0, check.stderr
    assert f"warning: {hd.config}:4: users.file: an unknown API key is checked against every Argon2id hash: " \
           "here 8 service accounts, 8.0 times the cost of one default hash" in check.stderr, check.stderr
    server = hd.start()

    def attempt(n):
        # Each from its own address (through the trusted proxy), so none is refused for its address.
        headers = {"Authorization": f"Bearer wrong-key-{n}", "X-Forwarded-For": f"10.9.0.{n}"}
        try:
            return http("GET", hd.url("/api/v1/incidents"), headers=headers, timeout=120)
        except OSError as error:
            return None, {}, str(error).encode()

    started = time.monotonic()
    assert attempt(200)[0] == 401
    one_check = time.monotonic() - started
    with ThreadPoolExecutor(max_workers=18) as pool:
        futures = [pool.submit(attempt, n) for n in range(1, 19)]  # two checking, sixteen waiting
        time.sleep(0.5)  # all of them arrived: two checking, the rest waiting
        started = time.monotonic()
        server.terminate()
        server.wait(timeout=120)
        stopped_in = time.monotonic() - started
        answers = [future.result() for future in futures]
    # Working through the queue would take about eight checks per thread; shutdown answers it at once and
    # waits only for the two checks running.
    assert stopped_in < 2 * one_check + 3, (stopped_in, one_check, hd.log(server))
    assert any(status == 503 and b"shutting down" in body for status, _, body in answers), answers


def test_config_check_names_each_problem_of_a_users_file_with_file_and_line(helpdesk):
    problems = FIXTURES / "users-problems.yaml"
    hd = helpdesk(f"users:\n  file: {problems}\n")
    result = hd.run("config", "check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{problems}:11: service_accounts[0].id: \"srebot\" is this project's built-in alert bot and cannot be an API account; " \
           "rename it (for example srebot-api)" in result.stderr
    assert f"{problems}:17: service_accounts[1].api_key_hash: not an Argon2id hash (the hash is a placeholder" in result.stderr
    assert "generate one with `helpdesk hash-key`" in result.stderr
    # The server refuses to start with the same lines.
    serve = hd.run("serve", "--listen", "127.0.0.1:0", timeout=30)
    assert serve.returncode == 2 and f"{problems}:17:" in serve.stderr


def test_config_check_warns_about_a_duplicated_id_naming_both_lines(helpdesk):
    duplicates = FIXTURES / "users-duplicates.yaml"
    hd = helpdesk(f"users:\n  file: {duplicates}\n")
    result = hd.run("config", "check")
    assert result.returncode == 0, result.stderr
    assert f"warning: {duplicates}:6: users[1].id: \"lena@ops.example.net\" is listed twice, at lines 4 and 6" in result.stderr
    assert f"warning: {duplicates}:13: service_accounts[1].id: \"backup-agent\" is listed twice, at lines 10 and 13" in result.stderr


def test_hash_key_makes_hashes_the_server_accepts(helpdesk, tmp_path):
    hd = helpdesk("")

    def hash_key(*args, key=None):
        result = subprocess.run([hd.binary, "hash-key", *args], input=key, capture_output=True, text=True, timeout=60,
                                env={**os.environ, **hd.environment})
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    generated_key, generated_hash = hash_key("--generate")
    assert len(generated_key) >= 40 and generated_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    piped_key = "piped-key-0123456789abcdef"
    [piped_hash] = hash_key(key=piped_key + "\n")  # echo's newline is not part of the key
    sha_key, sha_hex = hash_key("--generate", "--sha256")
    assert sha_hex == hashlib.sha256(sha_key.encode()).hexdigest()
    [typed_hex] = hash_key("--sha256", key=piped_key)
    assert typed_hex == hashlib.sha256(piped_key.encode()).hexdigest()
    empty = subprocess.run([hd.binary, "hash-key"], input="", capture_output=True, text=True, timeout=30,
                           env={**os.environ, **hd.environment})
    assert empty.returncode == 1 and "no key on standard input" in empty.stderr

    (tmp_path / "users.yaml").write_text(f'service_accounts:\n  - id: generated\n    roles: [ci]\n    api_key_hash: "{generated_hash}"\n')
    hd.config.write_text(f"""
users: {{file: {tmp_path / 'users.yaml'}}}
api:
  tokens:
    piped: {{token_argon2id: "{piped_hash}"}}
    sha: {{token_sha256: {sha_hex}}}
""")
    hd.start()
    for key in (generated_key, piped_key, sha_key):
        assert get(hd, key)[0] == 200, key
    assert principals(hd) == ["service:generated", "piped", "sha"]


def test_hash_key_reads_a_bounded_key_warns_on_chosen_sha256_keys_and_refuses_what_the_server_trims(helpdesk):
    hd = helpdesk("")

    def hash_key(*args, key: bytes):
        return subprocess.run([hd.binary, "hash-key", *args], input=key, capture_output=True, timeout=30,
                              env={**os.environ, **hd.environment})

    # An endless stream is not read to its end: at most the longest key and a little more.
    with open("/dev/zero", "rb") as zeros:
        endless = subprocess.run([hd.binary, "hash-key"], stdin=zeros, capture_output=True, timeout=30,
                                 env={**os.environ, **hd.environment})
    assert endless.returncode == 1 and b"longer than 4096 bytes" in endless.stderr
    assert hash_key(key=b"k" * 4096 + b"\r\n").returncode == 0
    assert hash_key(key=b"k" * 4097).returncode == 1

    chosen = hash_key("--sha256", key=b"my-chosen-key-0123456789")
    assert chosen.returncode == 0
    assert b"warning: a SHA-256 of a key someone chose is found offline" in chosen.stderr
    assert len(chosen.stderr.splitlines()) == 1, chosen.stderr
    generated = hash_key("--generate", "--sha256", key=b"")
    assert generated.returncode == 0 and b"warning" not in generated.stderr

    # The server trims Unicode whitespace around a bearer key: a hash of such a key would never match.
    for key in ("key-0123456789abcdef\u00a0", "\u3000key-0123456789abcdef", " key-0123456789abcdef"):
        refused = hash_key(key=key.encode())
        assert refused.returncode == 1 and b"starts or ends with whitespace" in refused.stderr, (key, refused.stderr)
    assert hash_key(key="key-0123\u00a0456789abcdef".encode()).returncode == 0, "whitespace inside a key is kept"
