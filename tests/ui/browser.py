"""A real headless browser for the dashboard tests: Debian's chromium through Selenium and the
chromedriver beside it (no browser download), and `alphaplus ui` run as a child process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".alphaplus" / "ui-screenshots"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1400,1000")


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if found:
            return found
    return None


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -c constraints.txt -e '.[dev]')"
    if _find("chromium", "chromium-browser") is None:
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    if _find("chromedriver") is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def start_browser(profile: Path):
    """Headless chromium with its console log readable (goog:loggingPrefs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for downloads
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(_find("chromedriver")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """`alphaplus ui --port PORT` in a child process on a free port; returns once it answers. A port
    taken by another process between choosing and binding it is replaced by another one."""
    for _ in range(3):
        port = free_port()
        child = _start(env, port, log)
        if child is not None:
            return child, port
    raise RuntimeError(f"alphaplus ui found no free port: {log.read_text()[-2000:]}")


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen | None:
    import httpx

    with log.open("w") as out:
        child = subprocess.Popen([sys.executable, "-m", "alphaplus", "ui", "--port", str(port)], cwd=ROOT,
                                 env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=out,
                                 stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if child.poll() is not None:
            if "is in use" in log.read_text():
                return None
            raise RuntimeError(f"alphaplus ui exited with {child.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/static/favicon.svg", timeout=1).status_code == 200:
                return child
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(child)
    raise RuntimeError(f"alphaplus ui did not answer within 90 s: {log.read_text()[-2000:]}")


def stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def console_errors(driver) -> list[dict]:
    """Console entries of level SEVERE since the last call (CSP violations and failed loads included)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver, name: str) -> Path:
    """A full-page PNG under .alphaplus/ui-screenshots/ (kept as a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 600)")
    driver.set_window_size(1400, min(int(height) + 40, 6000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path
