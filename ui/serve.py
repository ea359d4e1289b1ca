"""Serving the browser app for `run.py ui`: the address is bound before anything is
printed, Solara's Starlette app runs in this process under uvicorn (so the server
dies with the command, by Ctrl-C, SIGTERM or SIGKILL, and never holds the port after
it), and a token guards it when it is required.

Owned here: `is_loopback`, `bind`, `check_token`, `TokenGate` and `serve`; called by
run.py's `cmd_ui` only. A token is required when the app is served on anything but
this machine's loopback addresses, or when asked for (`run.py ui --token`). Without
it every request is refused (HTTP 401, and a websocket is closed before it opens),
so nothing can be run, uploaded or saved; a visitor opens `http://HOST:PORT/?token=T`
once, which sets a cookie (HttpOnly, SameSite=Strict, this port only) and reloads
the page without the token in its address. Scripts may send `Authorization: Bearer T`.
"""

import errno
import hmac
import ipaddress
import os
import re
import socket
import warnings
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]{16,256}")
GRACE_S = 5  # how long a stop waits for open pages before closing them


class ServeError(Exception):
    """The address cannot be served, or a bad token; one line for run.py."""


def is_loopback(host: str) -> bool:
    """Does `host` only ever mean this machine (127.0.0.0/8, ::1, localhost)?"""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or ServeError saying in one line why not (a name
    that does not resolve, an address not on this machine, a port in use...)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServeError(f"--host {host}: cannot resolve it "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"--port {port}: already in use on {host} (another server, or "
                             f"a run.py ui still running); choose another --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ServeError(f"--host {host}: not an address of this machine") from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"--port {port}: not allowed here (ports below 1024 need "
                             f"root); choose another --port") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def check_token(token: str, where: str) -> str:
    """A token given by the user: 16-256 letters, digits, - and _ (it goes into a URL and
    a cookie). `where` names its source in the message (`--token`, `BORDER_UI_TOKEN`)."""
    if not TOKEN_TEXT.fullmatch(token):
        raise ServeError(f"{where}: a token is 16 to 256 letters, digits, - and _ (got "
                         f"{len(token)} characters); leave it out to have one made")
    return token


def decide_token(host: str, flag: str | None, environment: str | None) -> str | None:
    """The token `run.py ui` requires, or None: `--token TOKEN` (flag), else
    $BORDER_UI_TOKEN (environment), each checked; one made with `secrets` for `--token`
    without a value or for a host that is not loopback; None only on loopback unasked."""
    import secrets

    if flag:
        return check_token(flag, "--token")
    if flag is None and environment:
        return check_token(environment, "BORDER_UI_TOKEN")
    if flag == "" or not is_loopback(host):
        return secrets.token_urlsafe(24)
    return None


class TokenGate:
    """ASGI middleware: every HTTP request and websocket needs the token (its cookie,
    `?token=` on a page address, or `Authorization: Bearer`); the rest is refused."""

    def __init__(self, app, token: str, port: int):
        self.app = app
        self.token = token.encode()
        self.cookie = f"border_ui_token_{port}"  # cookies are shared by a host's ports

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):  # lifespan: Solara's start and stop
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no token
            cookies = SimpleCookie()
        sent = cookies[self.cookie].value if self.cookie in cookies else None
        bearer = headers.get("authorization", "")
        bearer = bearer[len("Bearer "):] if bearer.startswith("Bearer ") else None
        if self._matches(sent) or self._matches(bearer):
            return await self.app(scope, receive, send)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        if scope["type"] == "http" and self._matches(given):
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
            await send({"type": "http.response.start", "status": 303, "headers": [
                (b"location", location.encode("latin-1")),
                (b"set-cookie", (f"{self.cookie}={self.token.decode()}; Path=/; HttpOnly; "
                                 f"SameSite=Strict").encode()),
                (b"cache-control", b"no-store"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["type"] == "websocket":  # closed before it opens: the client sees a 403
            await send({"type": "websocket.close", "code": 1008})
            return
        body = (b"This app needs its token: open the address `run.py ui` printed "
                b"(http://HOST:PORT/?token=...), or ask whoever started it.\n")
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


def serve(sock: socket.socket, app_file: Path, token: str | None) -> None:
    """Run the Solara app `app_file` on the bound socket until stopped (uvicorn's own
    SIGINT/SIGTERM handling; open pages get GRACE_S seconds), in production mode with
    telemetry off, behind TokenGate if `token`."""
    host, port = sock.getsockname()[:2]
    os.environ.update(SOLARA_TELEMETRY_MIXPANEL_ENABLE="false", SOLARA_APP=str(app_file),
                      SERVER_NAME=str(host), SERVER_PORT=str(port))
    import solara.server.settings as settings  # read by Solara's app when it is imported
    import uvicorn

    # Solara warns on each first visit over http to an address other than "localhost"
    # that its session cookie falls back to SameSite=Lax: right for this app, and noise
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    settings.main.mode = "production"
    # a page's messages are queued and sent by a task of the server's event loop (every
    # 50 ms) rather than each handed to the loop with the sender waiting: a play loop
    # rendering a frame sends 23 messages (156 KiB), each a wait on the one loop shared
    # by every page (py-spy, five pages playing: a fifth of the play loops' time), and a
    # page that reads slowly no longer holds up the loop drawing for it (session.Turns)
    settings.main.experimental_performance = True
    settings.telemetry.mixpanel_enable = False
    from solara.__main__ import LOGGING_CONFIG
    from solara.server.starlette import app

    # no permessage-deflate on the websockets: most of what a playing page is sent is its
    # JPEG frames (already binary buffers: ipywidgets sends an Image's bytes unencoded),
    # which deflate barely shrinks, and compressing them took the play loops' time
    # while they waited for each send (py-spy, five pages playing)
    config = uvicorn.Config(TokenGate(app, token, port) if token else app,
                            log_config=LOGGING_CONFIG, timeout_graceful_shutdown=GRACE_S,
                            ws_per_message_deflate=False)
    uvicorn.Server(config).run(sockets=[sock])
