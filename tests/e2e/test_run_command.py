"""The README's run command, as a new user types it, brings the embedded default up: a Redis,
the simulator making calls, ami-ingest publishing them, the operator's page at the printed
sign-in link for operator 100; Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
REPORT = re.compile(r"published (\d+), cb:\{main\}:ami length (\d+)")
LINK = re.compile(r"Open as operator 100 \(.+\): (http://127\.0\.0\.1:\d+)/ui/#code=(cbc_\S+)")


def _read_until(proc: subprocess.Popen[str], pattern: re.Pattern[str], limit_s: float) -> str:
    """Lines of stdout until one matches ``pattern`` with frames published (under a deadline)."""
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = pattern.search(line)
        if match and int(match[1]) > 0 and int(match[2]) >= int(match[1]):
            return "".join(seen)
    raise AssertionError("no published frames reported in time:\n" + "".join(seen))


def test_scripts_run_starts_the_suite_publishes_calls_and_stops_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CB_REDIS_URL"}
    proc = subprocess.Popen(
        ["./scripts/run", "--rate", "5", "--every", "0.5"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = _read_until(proc, REPORT, 50)
        assert "AMI simulator: tcp://127.0.0.1:" in output
        assert "raw AMI stream: cb:{main}:ami" in output
        link = LINK.search(output)
        assert link, output
        base, code = link[1], link[2]
        page = httpx.get(f"{base}/ui/", timeout=5)
        assert page.status_code == 200
        assert 'src="app.js"' in page.text
        session = httpx.post(f"{base}/v1/sessions/exchange", json={"code": code}, timeout=5)
        assert session.status_code == 200, session.text
        assert session.json()["extension"] == "100"
        token = session.json()["token"]
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert me.json()["extension"] == "100"
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        assert "stopped" in rest
        assert "Traceback" not in rest
        assert proc.returncode in (0, 130), rest  # 130: uv itself saw the Ctrl-C too
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
