"""A real SMTP server for the test suite (aiosmtpd): every message it accepts is
parsed and written as one JSON file {to, from, subject, message_id, text, html,
attachments: [{filename, content_type, path}]}, attachments saved beside it
into the directory given, so tests can read what a customer would receive.

usage: python3 smtp_sink.py PORT DIR [--tls starttls|tls CERT KEY] [--auth USER:PASSWORD]
(prints "ready" once listening; stops when stdin closes). With --tls starttls the
server refuses mail until STARTTLS; with --tls tls it speaks TLS from the first byte.
With --auth it refuses mail until the client logs in (only over TLS).
"""

import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "to": envelope.rcpt_tos,
            "from": envelope.mail_from,
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "auth_user": session.auth_data.login.decode() if session.auth_data else None,
            "attachments": [],
        }
        self.count += 1
        path = os.path.join(self.directory, "%05d-%d.json" % (self.count, os.getpid()))
        for i, part in enumerate(message.iter_attachments()):
            saved = "%s.%d.bin" % (path, i)
            with open(saved, "wb") as f:
                f.write(part.get_payload(decode=True) or b"")
            record["attachments"].append(
                {"filename": part.get_filename(), "content_type": part.get_content_type(), "path": saved}
            )
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    options = sys.argv[3:]
    kwargs = {}
    if "--tls" in options:
        i = options.index("--tls")
        mode, cert, key = options[i + 1], options[i + 2], options[i + 3]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if mode == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if "--auth" in options:
        user, password = options[options.index("--auth") + 1].split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok, auth_data=auth_data)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
