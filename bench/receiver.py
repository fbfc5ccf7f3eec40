"""A webhook receiver for bench/webhooks.sh: answers every POST with 200 after DELAY seconds,
counts distinct webhook-ids, and tells the count on GET /count. asyncio, keep-alive."""
import asyncio, os, sys

PORT = int(sys.argv[1])
DELAY = float(os.environ.get("DELAY", "0"))
seen = set()
total = 0

async def handle(reader, writer):
    global total
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ")[0]
            headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            if method == "GET":
                body = f"{len(seen)} {total}".encode()
            else:
                total += 1
                seen.add(headers.get("webhook-id", ""))
                if DELAY:
                    await asyncio.sleep(DELAY)
                body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT, backlog=1024)
    async with server:
        await server.serve_forever()

asyncio.run(main())
