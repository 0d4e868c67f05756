#!/usr/bin/python3
"""demo-mta.py — the demo's mail server: an SMTP server on 127.0.0.1 that delivers each message into
the Dovecot mailbox of every recipient it knows (`doveadm -c CONF save -u USER -m INBOX`), as a
real MTA with local delivery would. "user+tag@domain" is delivered like "user@domain", so atendd's
per-ticket reply addresses reach the support mailbox. Every message is also kept as
DIR/NNNNNN.eml with a NNNNNN.json envelope (recipients and where each went); mail for unknown
addresses is kept there only.

usage: demo-mta.py --port P --dir D --dovecot-conf CONF --route ADDRESS=USER [--route ...]
Runs under Debian's /usr/bin/python3 (python3-aiosmtpd). Stops on SIGTERM or SIGINT."""
import argparse, json, os, signal, subprocess, sys, threading
from aiosmtpd.controller import Controller


def mailbox_of(address, routes):
    address = address.strip().strip("<>").lower()
    local, _, domain = address.partition("@")
    return routes.get(address) or routes.get(local.split("+", 1)[0] + "@" + domain)


class Mta:
    def __init__(self, directory, conf, routes):
        self.directory, self.conf, self.routes = directory, conf, routes
        self.count, self.lock = 0, threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            base = os.path.join(self.directory, "%06d" % self.count)
        raw = envelope.original_content
        delivered = {}
        for rcpt in envelope.rcpt_tos:
            user = mailbox_of(rcpt, self.routes)
            if not user:
                delivered[rcpt] = None
                print("demo-mta: %s: %s is no local mailbox, kept in %s.eml" % (base[-6:], rcpt, base), flush=True)
                continue
            done = subprocess.run(["doveadm", "-c", self.conf, "save", "-u", user, "-m", "INBOX"],
                                  input=raw, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                print("demo-mta: doveadm save for %s failed: %s" % (user, done.stdout.decode(errors="replace")),
                      flush=True)
                return "451 4.3.0 local delivery failed, try again"
            delivered[rcpt] = user
            print("demo-mta: %s: %s -> mailbox %s" % (base[-6:], rcpt, user), flush=True)
        with open(base + ".tmp", "wb") as f:
            f.write(raw)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "delivered": delivered}, f)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK delivered"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--dovecot-conf", required=True)
    p.add_argument("--route", action="append", default=[], help="ADDRESS=USER")
    a = p.parse_args()
    routes = {}
    for r in a.route:
        address, _, user = r.partition("=")
        if not user:
            sys.exit("demo-mta: --route needs ADDRESS=USER, got %r" % r)
        routes[address.lower()] = user
    os.makedirs(a.dir, exist_ok=True)
    c = Controller(Mta(a.dir, a.dovecot_conf, routes), hostname="127.0.0.1", port=a.port)
    c.start()
    print("demo-mta: listening on 127.0.0.1:%d" % a.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    c.stop()


main()
