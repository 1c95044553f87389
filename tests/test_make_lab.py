"""`make lab`, one of the README's two commands, starts headless (LAB_ARGS) and as root (a container)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_lab_passes_lab_args_and_allows_root():
    dry = subprocess.run(["make", "-n", "lab", "LAB_ARGS=--no-browser --port 8899"], cwd=ROOT, text=True,
                         capture_output=True, check=True).stdout
    command = [line for line in dry.splitlines() if "jupyter lab" in line][-1]
    assert command.endswith("--no-browser --port 8899 lessons/")
    assert ("--allow-root" in command) == (os.geteuid() == 0)


def test_make_lab_starts_headless_and_serves_the_lessons():
    port = _free_port()
    args = f"LAB_ARGS=--no-browser --port {port} --ServerApp.token=elbo --ServerApp.ip=127.0.0.1"
    proc = subprocess.Popen(["make", "lab", args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        deadline, body = time.monotonic() + 90, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token=elbo"
                body = urllib.request.urlopen(url, timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, proc.stdout.read()
        assert "00_start_here.ipynb" in body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
