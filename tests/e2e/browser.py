"""Headless Chromium driven over the Chrome DevTools Protocol, for the live status page and console tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--window-size=1200,1400",
)


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt-get when it is missing (CI starts from a fresh machine)."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        msg = f"{CHROMIUM} is missing and cannot be installed here: run `apt-get install -y chromium` as root"
        raise RuntimeError(msg)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run([apt, "install", "-y", "chromium"], check=True, env=env, capture_output=True, timeout=1200)
    return CHROMIUM


class Page:
    """One tab, addressed through a flattened CDP session."""

    def __init__(self, socket: ClientConnection, session_id: str) -> None:
        self._socket = socket
        self._session_id = session_id
        self._next_id = 1000

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One command; returns its result (events in between are ignored)."""
        return await _command(
            self._socket, method, params, session_id=self._session_id, command_id=self._id()
        )

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (a promise's, once it settles)."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"])[:500])
        return result["result"].get("value")

    async def wait_until(self, expression: str, timeout: float = 60) -> None:
        """Poll the page until `expression` is true."""
        deadline = time.monotonic() + timeout
        guarded = f"(() => {{ try {{ return Boolean({expression}); }} catch (error) {{ return false; }} }})()"
        while not await self.evaluate(guarded):  # false, not an error, while the page is still loading
            if time.monotonic() > deadline:
                dom = await self.dom()
                msg = f"page never satisfied {expression!r} in {timeout}s; DOM:\n{dom[-3000:]}"
                raise TimeoutError(msg)
            await asyncio.sleep(0.1)

    async def fill(self, element_id: str, value: str) -> None:
        """Type into a field as a user would: its value, then the input and change events pages listen to."""
        await self.evaluate(
            f"""(() => {{
                const element = document.getElementById({json.dumps(element_id)});
                element.value = {json.dumps(value)};
                element.dispatchEvent(new Event("input", {{ bubbles: true }}));
                element.dispatchEvent(new Event("change", {{ bubbles: true }}));
            }})()"""
        )

    async def click(self, selector: str) -> None:
        """Click the element once it is there and enabled."""
        found = f"document.querySelector({json.dumps(selector)})"
        await self.wait_until(f"{found} && !{found}.disabled")
        await self.evaluate(f"{found}.click()")

    async def dom(self) -> str:
        """The page's current DOM, serialised (what --dump-dom prints)."""
        html: str = await self.evaluate("document.documentElement.outerHTML")
        return html

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """Save a PNG of the page: all of it, or what the window shows."""
        shot = await self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page}
        )
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path


def text(selector: str) -> str:
    """A JavaScript expression: the text of the element `selector` finds, '' when there is none."""
    return f"((document.querySelector({json.dumps(selector)}) || {{}}).textContent || '')"


async def sign_in_to_console(page: Page, gateway_url: str, api_key: str) -> None:
    """Open the console and sign in with `api_key`, as a user pastes it."""
    await page.send("Page.navigate", {"url": gateway_url + "/ui/"})
    await page.wait_until(
        "document.body.dataset.state === 'signed-out' && document.getElementById('api-key')"
    )
    await page.fill("api-key", api_key)
    await page.evaluate("document.getElementById('sign-in-form').requestSubmit()")
    await page.wait_until("document.body.dataset.state === 'signed-in'")


async def _command(
    socket: ClientConnection,
    method: str,
    params: dict[str, Any] | None,
    *,
    command_id: int,
    session_id: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"id": command_id, "method": method, "params": params or {}}
    if session_id is not None:
        message["sessionId"] = session_id
    await socket.send(json.dumps(message))
    while True:
        reply = json.loads(await asyncio.wait_for(socket.recv(), timeout=60))
        if reply.get("id") != command_id:
            continue
        if "error" in reply:
            msg = f"{method}: {reply['error']}"
            raise RuntimeError(msg)
        result: dict[str, Any] = reply.get("result", {})
        return result


async def _devtools_url(profile: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"chromium exited with {process.returncode}"
            raise RuntimeError(msg)
        if port_file.exists():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.1)
    msg = "chromium did not open its DevTools port"
    raise TimeoutError(msg)


def _launch(chromium: Path, profile: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [str(chromium), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextlib.asynccontextmanager
async def headless_page(profile: Path, log_path: Path) -> AsyncIterator[Page]:
    """A headless Chromium with one blank tab; stopped on exit."""
    process = _launch(ensure_chromium(), profile, log_path)
    try:
        async with connect(await _devtools_url(profile, process), max_size=None) as socket:
            target = await _command(socket, "Target.createTarget", {"url": "about:blank"}, command_id=1)
            attached = await _command(
                socket,
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                command_id=2,
            )
            page = Page(socket, attached["sessionId"])
            await page.send("Page.enable")
            await page.send("Runtime.enable")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
