"""The LibreOffice bridge: run by a Python that has LibreOffice's `uno` module (Debian's system
Python with `python3-uno`, not the project's venv); owns one headless soffice and converts
documents on request, one JSON line in on stdin, one JSON line out on stdout.

It imports nothing of pagemill (it runs in another interpreter). The worker (`workers/office.py`)
starts it in its own process group, bounds every request with a timeout and kills the group on a
hang. The profile it writes makes LibreOffice inert for hostile documents: macros never run,
links are never updated, linked images from documents are blocked, and any network access goes to
a proxy that does not exist.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import uno  # type: ignore[import-not-found]
import unohelper  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.task import XInteractionHandler  # type: ignore[import-not-found]

CONNECT_TIMEOUT_S = 60.0
NEVER_EXECUTE = 0  # com.sun.star.document.MacroExecMode.NEVER_EXECUTE
NO_UPDATE = 0  # com.sun.star.document.UpdateDocMode.NO_UPDATE

# Configuration written into the private profile before soffice first starts.
_ITEMS = [
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "2"),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "2"),
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "false"),
    ("/org.openoffice.Office.Common/Misc", "ShowTipOfTheDay", "false"),
    ("/org.openoffice.Office.Common/Save/Document", "CreateBackup", "false"),
    ("/org.openoffice.Office.Recovery/AutoSave", "Enabled", "false"),
    ("/org.openoffice.Office.Recovery/RecoveryInfo", "Enabled", "false"),
    ("/org.openoffice.Inet/Settings", "ooInetProxyType", "2"),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPProxyName", "127.0.0.1"),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPProxyPort", "9"),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPSProxyName", "127.0.0.1"),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPSProxyPort", "9"),
    ("/org.openoffice.Inet/Settings", "ooInetFTPProxyName", "127.0.0.1"),
    ("/org.openoffice.Inet/Settings", "ooInetFTPProxyPort", "9"),
    ("/org.openoffice.Inet/Settings", "ooInetNoProxy", ""),
]

# (import option) -> (filter name, filter options); "" lets LibreOffice detect the type from the content.
_IMPORTS = {
    "": (None, None),
    "text": ("Text (encoded)", "UTF8,LF,Liberation Mono,en-US"),
    "csv": ("Text - txt - csv (StarCalc)", "44,34,76,1,,1033,false,true"),
    "tsv": ("Text - txt - csv (StarCalc)", "9,34,76,1,,1033,false,true"),
    "html": ("HTML (StarWriter)", None),
    "pdf": ("writer_pdf_import", None),
}

# (document service, export) -> filter name
_EXPORTS = [
    ("com.sun.star.text.WebDocument", "pdf", "writer_web_pdf_Export"),
    ("com.sun.star.text.GenericTextDocument", "pdf", "writer_pdf_Export"),
    ("com.sun.star.sheet.SpreadsheetDocument", "pdf", "calc_pdf_Export"),
    ("com.sun.star.presentation.PresentationDocument", "pdf", "impress_pdf_Export"),
    ("com.sun.star.drawing.DrawingDocument", "pdf", "draw_pdf_Export"),
    ("com.sun.star.text.GenericTextDocument", "docx", "MS Word 2007 XML"),
]


def _profile(profile: Path) -> None:
    """Write the inert configuration into a fresh profile."""
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    items = []
    for path, name, value in _ITEMS:
        items.append(
            f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>'
        )
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + "\n".join(items)
        + "\n</oor:items>\n"
    )


def _props(**values: object) -> tuple[PropertyValue, ...]:
    out = []
    for name, value in values.items():
        if value is None:
            continue
        prop = PropertyValue()
        prop.Name = name
        prop.Value = value
        out.append(prop)
    return tuple(out)


class Handler(unohelper.Base, XInteractionHandler):  # type: ignore[misc]
    """Answers LibreOffice's questions while loading: a password request gets the given password
    once (then 'abort'); anything else gets 'approve' when offered (continue despite a minor
    problem), else 'abort'. pyuno cannot convert some request structs, so requests are told
    apart by the continuations they offer."""

    def __init__(self, password: str | None) -> None:
        self.password = password
        self.asked_password = 0

    def handle(self, request: object) -> None:
        continuations = request.getContinuations()  # type: ignore[attr-defined]
        picks = {name: None for name in ("XInteractionPassword", "XInteractionApprove", "XInteractionAbort")}
        for cont in continuations:
            for name in picks:
                if picks[name] is None and cont.queryInterface(uno.getTypeByName(f"com.sun.star.task.{name}")):
                    picks[name] = cont
        if picks["XInteractionPassword"] is not None:
            self.asked_password += 1
            if self.password and self.asked_password == 1:
                picks["XInteractionPassword"].setPassword(self.password)
                picks["XInteractionPassword"].select()
                return
            if picks["XInteractionAbort"] is not None:
                picks["XInteractionAbort"].select()
            return
        chosen = picks["XInteractionApprove"] or picks["XInteractionAbort"]
        if chosen is not None:
            chosen.select()


class Bridge:
    """One soffice process and a UNO connection to it."""

    def __init__(self, soffice: str, profile: Path, pipe: str) -> None:
        _profile(profile)
        env = dict(os.environ)
        for var in ("http_proxy", "https_proxy", "ftp_proxy", "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY"):
            env[var] = "http://127.0.0.1:9"
        env["no_proxy"] = env["NO_PROXY"] = ""
        self.proc = subprocess.Popen(
            [
                soffice,
                "--headless",
                "--invisible",
                "--nologo",
                "--norestore",
                "--nodefault",
                "--nolockcheck",
                "--nofirststartwizard",
                f"-env:UserInstallation={profile.resolve().as_uri()}",
                f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"soffice did not start (exit {self.proc.poll()})") from None
                time.sleep(0.1)
        self.desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)

    def convert(self, request: dict[str, object]) -> dict[str, object]:
        src, out = Path(str(request["src"])), Path(str(request["out"]))
        filter_name, filter_options = _IMPORTS[str(request.get("import") or "")]
        password = request.get("password")
        handler = Handler(str(password) if password else None)
        load = _props(
            Hidden=True,
            ReadOnly=True,
            MacroExecutionMode=NEVER_EXECUTE,
            UpdateDocMode=NO_UPDATE,
            # A referer that is not a trusted location: with BlockUntrustedRefererLinks, LibreOffice
            # then refuses to load any image or object the document links to (file:, http:, ...).
            Referer=None,
            InteractionHandler=handler,
            Password=password or None,
            FilterName=filter_name,
            FilterOptions=filter_options,
            Silent=True,
        )
        try:
            doc = self.desktop.loadComponentFromURL(src.resolve().as_uri(), "_blank", 0, load)
        except Exception as exc:
            doc = None
            detail = str(exc)
        else:
            detail = "LibreOffice could not load the document"
        if doc is None:
            if handler.asked_password:
                return {"error": "InvalidPassword", "detail": "password missing or wrong"}
            return {"error": "CorruptFile", "detail": detail[:300]}
        try:
            export = str(request.get("export") or "pdf")
            filter_out = next(
                (f for service, kind, f in _EXPORTS if kind == export and doc.supportsService(service)), None
            )
            if filter_out is None:
                return {"error": "UnsupportedDestinationFormat", "detail": f"cannot export this document as {export}"}
            doc.storeToURL(out.resolve().as_uri(), _props(FilterName=filter_out, Overwrite=True))
        except Exception as exc:
            return {"error": "CorruptFile", "detail": f"export failed: {str(exc)[:300]}"}
        finally:
            try:
                doc.close(True)
            except Exception:
                doc.dispose()
        return {"ok": True}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.desktop.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _stop_group(signum: int, frame: object) -> None:
    """The worker is gone (SIGTERM from PDEATHSIG) or stops us: take soffice down with us."""
    if os.getpgrp() == os.getpid():  # started in our own group (by the worker): soffice is in it
        os.killpg(os.getpgrp(), signal.SIGKILL)
    sys.exit(1)


def main() -> None:
    soffice, profile, pipe = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    signal.signal(signal.SIGTERM, _stop_group)
    try:
        bridge = Bridge(soffice, profile, pipe)
    except Exception as exc:
        print(json.dumps({"error": "EngineUnavailable", "detail": str(exc)[:300]}), flush=True)
        sys.exit(1)
    print(json.dumps({"ready": True, "pid": bridge.proc.pid}), flush=True)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                answer = bridge.convert(json.loads(line))
            except Exception as exc:  # the connection broke: soffice crashed; the worker restarts us
                print(json.dumps({"error": "EngineCrashed", "detail": str(exc)[:300]}), flush=True)
                sys.exit(1)
            print(json.dumps(answer), flush=True)
    finally:
        bridge.close()


if __name__ == "__main__":
    main()
