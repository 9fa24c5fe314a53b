"""`numbersearch sandbox`: a real process on a free port, option parsing, and the catalogue dump."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from numbersearch.cli import main
from numbersearch.sandbox import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

LAUNCH = [sys.executable, "-c", "from numbersearch.cli import main; main()", "sandbox"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_countries(url: str, auth: tuple[str, str], process: subprocess.Popen, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, auth=auth, timeout=2)
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sandbox did not answer in time"
            time.sleep(0.05)


def run_sandbox(args: list[str], env: dict[str, str]) -> tuple[httpx.Response, str, httpx.Response]:
    port = free_port()
    process = subprocess.Popen(
        [*LAUNCH, "--port", str(port), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        sid = env.get("TWILIO_ACCOUNT_SID", DEMO_ACCOUNT_SID)
        token = env.get("TWILIO_AUTH_TOKEN", DEMO_AUTH_TOKEN)
        url = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers.json"
        answer = wait_for_countries(url, (sid, token), process, time.monotonic() + 20)
        rejected = httpx.get(url, auth=(sid, "not-the-token"), timeout=2)
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    return answer, out, rejected


def test_serves_the_demo_credentials_and_prints_a_curl_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    answer, out, rejected = run_sandbox([], env)
    assert answer.status_code == 200 and len(answer.json()["countries"]) >= 150
    assert rejected.status_code == 401
    assert DEMO_ACCOUNT_SID in out and DEMO_AUTH_TOKEN in out
    assert "curl -u" in out and "AvailablePhoneNumbers.json" in out


def test_accepts_the_configured_credentials_without_printing_the_token():
    sid, token = "AC" + "0123456789abcdef" * 2, "tok-SECRET-do-not-leak-4c1f"
    env = {**os.environ, "TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token}
    answer, out, rejected = run_sandbox(["--seed", "3", "--latency-ms", "1"], env)
    assert answer.status_code == 200 and len(answer.json()["countries"]) >= 150
    assert rejected.status_code == 401
    assert sid in out and token not in out


def test_bad_fault_syntax_is_a_usage_error():
    runner = CliRunner()
    for bad in ("429", "429=2", "teapot=0.1", "5xx=lots"):
        result = runner.invoke(main, ["sandbox", "--fault", bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "--fault" in result.output


def test_dump_catalogue_then_serve_it(tmp_path: Path):
    target = tmp_path / "cat.json"
    result = CliRunner().invoke(main, ["sandbox", "--seed", "4", "--dump-catalogue", str(target)])
    assert result.exit_code == 0, result.output
    data = json.loads(target.read_text(encoding="utf-8"))
    assert len(data["countries"]) >= 150 and len(data["regulations"]) >= 600
    data["countries"] = data["countries"][:3]
    target.write_text(json.dumps(data), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    answer, _, _ = run_sandbox(["--catalogue", str(target), "--fault", "5xx=0", "--max-concurrency", "4"], env)
    assert [c["country_code"] for c in answer.json()["countries"]] == [c["country_code"] for c in data["countries"]]
