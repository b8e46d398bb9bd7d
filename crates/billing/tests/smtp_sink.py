"""A real SMTP server for the test suite (aiosmtpd): every message it accepts is
parsed and written as one JSON file {to, from, subject, message_id, text, html}
into the directory given, so tests can read what a customer would receive.

usage: python3 smtp_sink.py PORT DIR   (prints "ready" once listening; stops when stdin closes)
"""

import email
import email.policy
import json
import os
import sys

from aiosmtpd.controller import Controller


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
        }
        self.count += 1
        path = os.path.join(self.directory, "%05d-%d.json" % (self.count, os.getpid()))
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
