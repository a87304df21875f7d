#!/usr/bin/env python3
# A userdb varlink service for factotum's tests, where libnss-systemd looks
# for them (/run/systemd/userdb/NAME): it knows one user, "dyn" (uid
# 61000), whom no file names, and logs each request with the caller's pid
# (SO_PEERCRED). Usage: userdb_varlink.py SOCKET LOG
import json, os, socket, struct, sys, threading

path, log_path = sys.argv[1], sys.argv[2]
service = os.path.basename(path)
users = {"dyn": {"userName": "dyn", "uid": 61000, "gid": 61000, "realName": "Dynamic",
                 "homeDirectory": "/", "shell": "/bin/sh", "disposition": "dynamic", "service": service}}
log = open(log_path, "a", buffering=1)
lock = threading.Lock()

def reply(req):
    p = req.get("parameters", {})
    if req.get("method", "").endswith("GetUserRecord"):
        u = None
        if "userName" in p:
            u = users.get(p["userName"])
        elif "uid" in p:
            u = next((v for v in users.values() if v["uid"] == p["uid"]), None)
        if u:
            return {"parameters": {"record": u, "incomplete": False}}
    return {"error": "io.systemd.UserDatabase.NoRecordFound", "parameters": {}}

def serve(c):
    pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    buf = b""
    while True:
        d = c.recv(65536)
        if not d:
            return
        buf += d
        while b"\0" in buf:
            m, buf = buf.split(b"\0", 1)
            req = json.loads(m)
            with lock:
                log.write("pid=%d %s %s\n" % (pid, req.get("method"), json.dumps(req.get("parameters", {}))))
            c.sendall(json.dumps(reply(req)).encode() + b"\0")

s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o666)
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
