"""Parses and verifies OCSP responses with Python cryptography (an independent parser).

Usage: ocsp_check.py MANIFEST.json. The manifest lists responses:
  {"issuer": "issuer.pem", "responses": [{"file": "r.der", "want": "good|revoked|unknown|
   malformedRequest|unauthorized", "reason": "key_compromise"|null, "nonce": "hex"|null}]}
Prints {"results": [{"file", "ok", "why"}]} on stdout.
"""
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp

FAILURES = {
    "malformedRequest": ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
    "unauthorized": ocsp.OCSPResponseStatus.UNAUTHORIZED,
    "internalError": ocsp.OCSPResponseStatus.INTERNAL_ERROR,
}
STATUSES = {
    "good": ocsp.OCSPCertStatus.GOOD,
    "revoked": ocsp.OCSPCertStatus.REVOKED,
    "unknown": ocsp.OCSPCertStatus.UNKNOWN,
}


def verify(key, signature, data, hash_alg):
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hash_alg))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hash_alg)
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, data)
    else:
        raise ValueError("unexpected key type")


def check(entry, issuer):
    with open(entry["file"], "rb") as f:
        resp = ocsp.load_der_ocsp_response(f.read())
    want = entry["want"]
    if want in FAILURES:
        if resp.response_status != FAILURES[want]:
            return f"status {resp.response_status} (want {want})"
        return None
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return f"status {resp.response_status}"
    if resp.certificate_status != STATUSES[want]:
        return f"cert status {resp.certificate_status} (want {want})"
    if want == "revoked":
        reason = resp.revocation_reason.name if resp.revocation_reason else None
        if reason != entry.get("reason"):
            return f"reason {reason} (want {entry.get('reason')})"
    # cryptography >= 43 names them *_utc; older ones without.
    this_update = getattr(resp, "this_update_utc", None) or resp.this_update
    next_update = getattr(resp, "next_update_utc", None) or resp.next_update
    if next_update is None or next_update <= this_update:
        return "nextUpdate missing or not after thisUpdate"
    # The signer: the delegated certificate sent along (signed by the issuer, OCSPSigning,
    # nocheck), or the issuer itself.
    if resp.certificates:
        signer = resp.certificates[0]
        verify(issuer.public_key(), signer.signature, signer.tbs_certificate_bytes, signer.signature_hash_algorithm)
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            return "responder certificate without id-kp-OCSPSigning"
        signer.extensions.get_extension_for_class(x509.OCSPNoCheck)
        key = signer.public_key()
    else:
        key = issuer.public_key()
    verify(key, resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm)
    nonce = None
    for ext in resp.extensions:
        if isinstance(ext.value, x509.OCSPNonce):
            nonce = ext.value.nonce.hex()
    if entry.get("nonce") != nonce:
        return f"nonce {nonce} (want {entry.get('nonce')})"
    return None


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    with open(manifest["issuer"], "rb") as f:
        issuer = x509.load_pem_x509_certificate(f.read())
    results = []
    for entry in manifest["responses"]:
        try:
            why = check(entry, issuer)
        except Exception as e:  # noqa: BLE001 - every failure is a finding
            why = f"{type(e).__name__}: {e}"
        results.append({"file": entry["file"], "ok": why is None, "why": why})
    print(json.dumps({"results": results}))


main()
