#!/usr/bin/env python3
"""A dependency-free SMTP sink for benchmarks, and a baseline client that measures its capacity.

    smtp_sink.py serve --port-file F [--port 0]   # accept every message, count, discard
    smtp_sink.py blast --port P --count N         # N messages over one connection (smtplib)

`serve` listens on 127.0.0.1 only, writes the port it got to --port-file once listening, and on
SIGTERM or SIGINT prints {"messages": ..., "connections": ...} as one JSON line and exits.
`blast` prints {"messages": N, "seconds": ..., "per_second": ...}.
"""
import argparse
import asyncio
import json
import os
import signal
import smtplib
import sys
import time
from email.utils import formatdate

STATS = {"messages": 0, "connections": 0, "bytes": 0}


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    STATS["connections"] += 1
    write = writer.write
    try:
        write(b"220 bench-sink ESMTP\r\n")
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"EHLO":
                write(b"250-bench-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                write(b"250 OK\r\n")
            elif verb == b"DATA":
                write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                await writer.drain()
                while True:
                    data = await reader.readline()
                    if not data:
                        return
                    if data == b".\r\n" or data == b".\n":
                        break
                    STATS["bytes"] += len(data)
                STATS["messages"] += 1
                write(b"250 OK queued\r\n")
            elif verb == b"QUIT":
                write(b"221 Bye\r\n")
                await writer.drain()
                break
            else:
                write(b"502 Command not implemented\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve(port: int, port_file: str) -> None:
    server = await asyncio.start_server(session, "127.0.0.1", port, backlog=256)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{bound}\n")
    # Renamed into place so a reader never sees a half-written file.
    os.replace(port_file + ".tmp", port_file)
    async with server:
        await stop.wait()
    print(json.dumps({"messages": STATS["messages"], "connections": STATS["connections"], "bytes": STATS["bytes"]}))
    sys.stdout.flush()


def blast(port: int, count: int, body_bytes: int) -> None:
    """One connection, one message after another: what the sink takes when the client costs little.

    The messages are formatted with a string template (Python's email package would be the
    bottleneck), with the headers the dispatcher sends.
    """
    body = ("The routine update for VCH-0000000000X (team bench-team) was due and is overdue.\r\n" * 8)[:body_bytes]
    template = (
        "From: Care Hub <noreply@care-hub.local>\r\nTo: {to}\r\nSubject: Care Hub: bench message {i}\r\n"
        "Message-ID: <{i}.bench@care-hub.local>\r\nDate: {date}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}"
    )
    date = formatdate(localtime=False)
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench-client") as smtp:
        smtp.ehlo()
        for i in range(count):
            to = f"cw-{i % 500}@bench.example"
            smtp.sendmail("noreply@care-hub.local", [to], template.format(to=to, i=i, date=date, body=body).encode())
    seconds = time.perf_counter() - t0
    print(json.dumps({"messages": count, "seconds": round(seconds, 4), "per_second": round(count / seconds, 1)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file", required=True)
    b = sub.add_parser("blast")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--count", type=int, required=True)
    b.add_argument("--body-bytes", type=int, default=400)
    a = p.parse_args()
    if a.cmd == "serve":
        asyncio.run(serve(a.port, a.port_file))
    else:
        blast(a.port, a.count, a.body_bytes)


if __name__ == "__main__":
    main()
