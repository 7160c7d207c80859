"""A real SMTP server for tests (aiosmtpd), started by sinktest.StartSMTP.

Every DATA command it answers is appended to DIR/attempts.log. Every message
it accepts is written as DIR/NNNN.json ({"from", "to", "tls", "user",
"data"}), atomically, in the order they arrived.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, args, users):
        self.dir = args.dir
        self.fail_first = args.fail_first
        self.fail_reply = args.fail_reply
        self.reject = args.reject
        self.users = users
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            with open(os.path.join(self.dir, "attempts.log"), "a") as f:
                f.write(envelope.mail_from + "\n")
            if self.reject:
                return self.reject
            if self.fail_first > 0:
                self.fail_first -= 1
                return self.fail_reply
            self.count += 1
            user = session.auth_data if isinstance(session.auth_data, str) else None
            if isinstance(session.auth_data, LoginPassword):
                user = session.auth_data.login.decode()
            record = {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "tls": session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                "user": user,
                "data": envelope.original_content.decode("utf-8", "replace"),
            }
            name = os.path.join(self.dir, "%04d.json" % self.count)
            with open(name + ".tmp", "w") as f:
                json.dump(record, f)
            os.rename(name + ".tmp", name)
        print("accepted message %d from %s" % (self.count, envelope.mail_from), flush=True)
        return "250 2.0.0 OK queued as %04d" % self.count

    async def auth_CRAM__MD5(self, server, args):
        challenge = "<%s@opshub-test>" % base64.b16encode(os.urandom(8)).decode()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False)
        user, _, digest = answer.decode().partition(" ")
        secret = self.users.get(user)
        if secret is None:
            return AuthResult(success=False, handled=False)
        want = hmac.new(secret.encode(), challenge.encode(), hashlib.md5).hexdigest()
        ok = hmac.compare_digest(want, digest)
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--implicit", action="store_true", help="TLS from the first byte")
    p.add_argument("--user", action="append", default=[], help="name:password")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-reply", default="451 4.3.0 Try again later")
    p.add_argument("--reject", default="")
    args = p.parse_args()
    users = dict(u.split(":", 1) for u in args.user)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            if users.get(auth_data.login.decode()) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    kwargs = {}
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        if args.implicit:
            kwargs.update(ssl_context=ctx)
        else:
            kwargs.update(tls_context=ctx, require_starttls=True)
    if users:
        kwargs.update(authenticator=authenticator, auth_required=True,
                      # aiosmtpd counts only STARTTLS as TLS; an implicit
                      # TLS session is encrypted from the start.
                      auth_require_tls=bool(args.cert) and not args.implicit)
    handler = Handler(args, users)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port,
                            server_hostname="opshub-test", **kwargs)
    controller.start()
    print("listening on 127.0.0.1:%d" % args.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
