"""Usage: python3 bench/slowloris.py PORT N WAIT_SECS slow|idle  (against a running
`tollgate serve`; not run by CI).

Open N slowloris connections (`slow`: one header line per second, never finishing)
or N idle ones (`idle`: nothing sent) against a running tollgate; report how many are still
open after WAIT seconds and whether /health answers meanwhile."""
import asyncio, sys, time

HOST, PORT = "127.0.0.1", int(sys.argv[1])
N = int(sys.argv[2]); WAIT = float(sys.argv[3])

async def slow(i, state):
    try:
        r, w = await asyncio.open_connection(HOST, PORT)
    except OSError:
        state["connect_fail"] += 1; return
    state["open"] += 1
    try:
        w.write(b"GET /health HTTP/1.1\r\nhost: t\r\n"); await w.drain()
        j = 0
        while True:
            try:
                data = await asyncio.wait_for(r.read(1), timeout=1.0)
                if data == b"":
                    break
            except asyncio.TimeoutError:
                pass
            w.write(f"x-{j}: 1\r\n".encode()); await w.drain(); j += 1
    except (ConnectionError, OSError):
        pass
    state["open"] -= 1; state["closed"] += 1

async def idle(i, state):
    try:
        r, w = await asyncio.open_connection(HOST, PORT)
    except OSError:
        state["connect_fail"] += 1; return
    state["open"] += 1
    try:
        await r.read(1)
    except (ConnectionError, OSError):
        pass
    state["open"] -= 1; state["closed"] += 1

async def health():
    t = time.monotonic()
    r, w = await asyncio.open_connection(HOST, PORT)
    w.write(b"GET /health HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"); await w.drain()
    line = await asyncio.wait_for(r.readline(), timeout=30)
    return line.decode().strip(), time.monotonic() - t

async def main():
    kind = sys.argv[4]
    state = {"open": 0, "closed": 0, "connect_fail": 0}
    f = slow if kind == "slow" else idle
    tasks = [asyncio.create_task(f(i, state)) for i in range(N)]
    await asyncio.sleep(1.0)
    print(f"{kind}: after 1s   open={state['open']} closed={state['closed']} connect_fail={state['connect_fail']}")
    print("  /health during attack:", await health())
    await asyncio.sleep(WAIT)
    print(f"{kind}: after {WAIT+1:.0f}s  open={state['open']} closed={state['closed']} connect_fail={state['connect_fail']}")
    print("  /health after:", await health())
    for t in tasks: t.cancel()

asyncio.run(main())
