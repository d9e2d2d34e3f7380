"""Serve web-archive collections with a real pywb on 127.0.0.1 — run by the tests as a subprocess.

    python tests/support/pywb_serve.py ROOT

pywb (with gevent) runs in its own process so that gevent's monkey patching
never reaches the test process.  The server listens on 127.0.0.1 only, on a
port the system picks, and prints ``{"port": N}`` on its first line.  Then it
reads commands, one JSON object per line, on stdin:

    {"add": "coll", "files": ["/path/a.warc.gz", ...]}

creates collection ``coll`` under ``ROOT/collections`` (as ``wb-manager init``
does), copies and indexes the files into it (as ``wb-manager add`` does) and
answers ``{"ok": "coll"}`` (or ``{"error": "..."}``).  End of stdin stops it.
No live-web, recording or proxy mode is switched on: it serves what it was given.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402


def main() -> int:
    # Answers go to the real stdout; whatever pywb prints goes to stderr.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    root = os.path.abspath(sys.argv[1])
    os.makedirs(os.path.join(root, "collections"), exist_ok=True)
    os.chdir(root)
    logging.basicConfig(level=logging.WARNING)

    from gevent.fileobject import FileObject
    from gevent.pywsgi import WSGIServer
    from pywb.apps.frontendapp import FrontEndApp
    from pywb.manager.manager import CollectionsManager
    from pywb.utils.geventserver import RequestURIWSGIHandler

    class Handler(RequestURIWSGIHandler):
        def handle(self):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

    app = FrontEndApp()
    server = WSGIServer(("127.0.0.1", 0), app, handler_class=Handler, log=None)
    server.start()
    print(json.dumps({"port": server.address[1]}), file=answers, flush=True)

    commands = FileObject(sys.stdin.fileno(), "r")
    for line in commands:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            manager = CollectionsManager(command["add"], colls_dir="collections", must_exist=False)
            manager.add_collection()
            manager.add_archives(command["files"])
            answer = {"ok": command["add"]}
        except Exception as exc:  # report to the test, keep serving
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), file=answers, flush=True)
    server.stop(timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
