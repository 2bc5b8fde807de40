#!/usr/bin/env python3
"""A registry token service, as the distribution spec describes one:
token_service.py ADDR:PORT CERT KEY SIGNING_KEY USERS ISSUER LIFETIME LOG

Debian packages no token service (docker_auth, Harbor's are not in it),
and CNCF distribution only checks tokens; this issues them, so the
registry itself is real and checks every token it is shown: signed with
SIGNING_KEY (RS256, by openssl), its "kid" the libtrust key id the
registry computes from the certificate in its rootcertbundle, issued by
ISSUER for the service asked, valid LIFETIME seconds (see exp).

GET /token?service=S&scope=repository:NAME:ACTIONS with basic auth: USERS
holds lines "user:password:actions" (actions "pull" or "pull,push"); a
user gets the actions asked for that he has; no or wrong credentials are
401. Served over TLS (CERT, KEY). Each grant is a line in LOG.
"""
import base64
import hashlib
import http.server
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def libtrust_kid(key_path):
    """libtrust's key id: the SHA-256 of the public key's DER, its first
    240 bits in base32, in 12 groups of 4 joined by ':'."""
    der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(b32[i:i + 4] for i in range(0, 48, 4))


def sign(key_path, data):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=data,
                          capture_output=True, check=True).stdout


def main():
    addr, cert, key, signing, users_path, issuer, lifetime, log_path = sys.argv[1:9]
    host, port = addr.rsplit(":", 1)
    lifetime = int(lifetime)
    kid = libtrust_kid(signing)
    users = {}
    with open(users_path) as f:
        for line in f:
            u, p, actions = line.rstrip("\n").split(":", 2)
            users[u] = (p, set(actions.split(",")))

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def deny(self):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="layerfs-test-tokens"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                self.send_error(404)
                return
            q = urllib.parse.parse_qs(url.query)
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic "):
                return self.deny()
            try:
                user, password = base64.b64decode(auth[6:]).decode().split(":", 1)
            except ValueError:
                return self.deny()
            if user not in users or users[user][0] != password:
                return self.deny()
            access = []
            for scope in q.get("scope", []):
                for one in scope.split(" "):
                    parts = one.split(":")
                    if len(parts) != 3 or parts[0] != "repository":
                        continue
                    got = [a for a in parts[2].split(",") if a in users[user][1]]
                    access.append({"type": "repository", "name": parts[1], "actions": got})
            now = int(time.time())
            # the registry takes a token up to 60 s past its exp (its
            # Leeway for clock skew): exp that much earlier makes the token
            # last LIFETIME seconds
            claims = {"iss": issuer, "sub": user, "aud": q.get("service", [""])[0],
                      "exp": now + lifetime - 60, "nbf": now - 10, "iat": now,
                      "jti": b64url(os.urandom(12)), "access": access}
            head = {"typ": "JWT", "alg": "RS256", "kid": kid}
            signed = (b64url(json.dumps(head).encode()) + "." +
                      b64url(json.dumps(claims).encode())).encode()
            token = signed.decode() + "." + b64url(sign(signing, signed))
            body = json.dumps({"token": token, "access_token": token, "expires_in": lifetime,
                               "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(now))}).encode()
            with open(log_path, "a") as log:
                log.write(f"{user} {json.dumps(access)}\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
