#!/usr/bin/env python3
"""A test OIDC issuer on loopback for `pki serve`'s attestation (tests/attest.rs, the README).

Serves, at http://127.0.0.1:PORT (the issuer URL):
  GET  /.well-known/openid-configuration   discovery ({issuer, jwks_uri})
  GET  /jwks                               the published keys (503 while "down"; fetches counted)
  GET  /github?audience=AUD                GitHub Actions' token service: needs
                                           "Authorization: bearer request-token", answers {"value": JWT}
  POST /mint    {"claims": {...}, "kid": "rs1", "alg": "RS256", "sign_with": "rs1", "header": {...}}
                a JWT ("count": N: N of them, one per line); default claims are GitHub-shaped (see github_claims), merged with "claims";
                sign_with: a key name, "none" (alg none, empty signature) or "hs-public" (HS256
                keyed with rs1's public key PEM: the classic algorithm-confusion forgery)
  POST /control {"down": bool} | {"rotate": true} (publishes rs2 as well) | {"github_claims": {...}}
  GET  /stats   {"jwks_fetches": N}
Prints {"issuer": URL} on its first stdout line once it listens; with --tls CERT KEY it serves
HTTPS (an issuer as production has it, trusted through a policy's issuer_ca_file). Independent of pki: JWTs are
made here with Python's cryptography (RSA PKCS#1 v1.5, ECDSA P-256 in JOSE's r||s form).
"""
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

REQUEST_TOKEN = "request-token"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


KEYS = {
    "rs1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rs2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "es1": ec.generate_private_key(ec.SECP256R1()),
    # Never published: "signature by another key".
    "other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
}

STATE = {"published": ["rs1", "es1"], "down": False, "fetches": 0, "github_claims": {}}
LOCK = threading.Lock()


def jwk(name):
    k = KEYS[name].public_key()
    if isinstance(k, rsa.RSAPublicKey):
        n = k.public_numbers()
        return {"kty": "RSA", "kid": name, "use": "sig", "alg": "RS256", "n": b64(uint(n.n)), "e": b64(uint(n.e))}
    n = k.public_numbers()
    return {"kty": "EC", "kid": name, "use": "sig", "alg": "ES256", "crv": "P-256", "x": b64(uint(n.x, 32)), "y": b64(uint(n.y, 32))}


def sign(sign_with, alg, data):
    if sign_with == "none":
        return b""
    if sign_with == "hs-public":
        secret = KEYS["rs1"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hmac.new(secret, data, hashlib.sha256).digest()
    key = KEYS[sign_with]
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return uint(r, 32) + uint(s, 32)


def github_claims(issuer, aud):
    now = int(time.time())
    c = {
        "iss": issuer, "aud": aud, "iat": now, "nbf": now, "exp": now + 300, "jti": str(uuid.uuid4()),
        "sub": "repo:octo-org/octo-app:ref:refs/heads/main",
        "repository": "octo-org/octo-app", "repository_id": "123456",
        "repository_owner": "octo-org", "repository_owner_id": "7890",
        "ref": "refs/heads/main", "ref_type": "branch", "sha": "a" * 40,
        "workflow": "ci", "job_workflow_ref": "octo-org/octo-app/.github/workflows/ci.yml@refs/heads/main",
        "run_id": "4242", "run_attempt": "1", "runner_environment": "github-hosted", "event_name": "push",
    }
    c.update(STATE["github_claims"])
    return c


def mint(issuer, req):
    alg = req.get("alg", "RS256")
    kid = req.get("kid", "rs1")
    sign_with = req.get("sign_with", kid)
    header = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    header.update(req.get("header", {}))
    claims = github_claims(issuer, req.get("aud", "https://pki.test"))
    claims.update(req.get("claims", {}))
    for k in req.get("drop", []):
        claims.pop(k, None)
    msg = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    return msg.decode() + "." + b64(sign(sign_with, alg, msg))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, obj, ctype="application/json"):
        body = (json.dumps(obj) if not isinstance(obj, str) else obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    scheme = "http"

    def issuer(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.server.server_address[1])

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/.well-known/openid-configuration":
            return self.reply(200, {"issuer": self.issuer(), "jwks_uri": self.issuer() + "/jwks",
                                    "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
        if u.path == "/jwks":
            with LOCK:
                STATE["fetches"] += 1
                if STATE["down"]:
                    return self.reply(503, {"error": "down"})
                return self.reply(200, {"keys": [jwk(k) for k in STATE["published"]]})
        if u.path == "/stats":
            return self.reply(200, {"jwks_fetches": STATE["fetches"]})
        if u.path == "/github":
            if self.headers.get("Authorization", "") != "bearer " + REQUEST_TOKEN:
                return self.reply(401, {"message": "bad request token"})
            aud = parse_qs(u.query).get("audience", ["https://github.com/octo-org"])[0]
            return self.reply(200, {"count": 1, "value": mint(self.issuer(), {"aud": aud})})
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        if self.path == "/mint":
            if "count" in req:  # many tokens (fresh jti each), one per line: bench/attest.sh
                return self.reply(200, "\n".join(mint(self.issuer(), req) for _ in range(int(req["count"]))), "text/plain")
            return self.reply(200, mint(self.issuer(), req), "application/jwt")
        if self.path == "/control":
            with LOCK:
                if "down" in req:
                    STATE["down"] = bool(req["down"])
                if req.get("rotate"):
                    STATE["published"] = ["rs1", "es1", "rs2"]
                if "github_claims" in req:
                    STATE["github_claims"] = req["github_claims"]
            return self.reply(200, {"ok": True})
        self.reply(404, {"error": "not found"})


def main():
    # oidc_issuer.py [--tls CERT KEY]: over HTTPS with that certificate (chain) and key.
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    Handler.scheme = scheme
    print(json.dumps({"issuer": "%s://127.0.0.1:%d" % (scheme, srv.server_address[1])}), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
