#!/usr/bin/python3
"""SMTP sink for tests and the demo: stores every message byte for byte as DIR/NNNNNN.eml with a
NNNNNN.json envelope beside it ({"mail_from", "rcpt_tos", "tls"}); an .eml appears only complete.

usage: smtp_sink.py --port P --dir D [--tls-cert C --tls-key K] [--port-file F]
--port 0 picks a free port and writes it to --port-file. Numbering goes on after the mails already
in D (a sink restarted on the same directory overwrites nothing). A file D/.mode holding "4xx" or
"5xx" makes DATA answer 451 (try later) or 554 (failed for good) instead of storing the mail. Runs under Debian's /usr/bin/python3
(python3-aiosmtpd). Stops on SIGTERM or SIGINT."""
import argparse, json, os, signal, ssl, threading
from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory, self.lock = directory, threading.Lock()
        self.count = max([int(n[:-4]) for n in os.listdir(directory) if n.endswith(".eml")] + [0])

    def mode(self):
        try:
            with open(os.path.join(self.directory, ".mode")) as f:
                return f.read().strip()
        except OSError:
            return "ok"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "4xx":
            return "451 4.3.0 sink told to answer try later"
        if mode == "5xx":
            return "554 5.7.1 sink told to refuse for good"
        with self.lock:
            self.count += 1
            base = os.path.join(self.directory, "%06d" % self.count)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None}, f)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--port-file")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    kw = {}
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kw = dict(tls_context=ctx, require_starttls=True)
    port = a.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    c = Controller(Sink(a.dir), hostname="127.0.0.1", port=port, **kw)
    c.start()
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(a.port_file + ".tmp", a.port_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    c.stop()


main()
