"""A real SMTP server for tests/api/email.rs (aiosmtpd from the pinned test venv).

Listens on 127.0.0.1 at a free port, prints `LISTENING <port>` once ready, then one
JSON line per delivered message: {"mail_from", "rcpt_tos", "data"}. A recipient at
`@reject.test` is refused at RCPT with a 550, so the gateway's SMTP-failure path can
be tested. Runs until stdin closes (the test process dropping its handle).
"""

import json
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@reject.test"):
            return "550 5.1.1 <%s>: mailbox unavailable (no such user here)" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        line = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        print(json.dumps(line), flush=True)
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print("LISTENING %d" % port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
