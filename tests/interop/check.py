"""Independent checks of the artifacts of a pki directory, driven by tests/interop.rs.

Reads the manifest the Rust test wrote (argv[1]) and prints one JSON document of results:
pkilint (DigiCert, RFC 5280 lints) on every certificate, every signer/signee pair and every CRL,
at WARNING and above; Python cryptography's X.509 path validation (server and client
verifiers) and its signature checks of certificates and CRLs.
"""

import contextlib
import datetime
import io
import json
import sys

from cryptography import x509
from cryptography.x509 import DNSName
from cryptography.x509.verification import PolicyBuilder, Store
from pkilint.bin import lint_crl, lint_pkix_cert, lint_pkix_signer_signee_cert_chain

# pkilint's URI check knows web schemes only and reports every spiffe:// ID as
# pkix.invalid_uri_syntax, although RFC 3986 allows the scheme. That one finding is accepted on
# SVIDs and nowhere else.
SVID_ALLOWED = {"pkix.invalid_uri_syntax"}


def pkilint(main, args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["lint", "-s", "WARNING", "-f", "JSON", *args])
    codes = []
    for r in json.loads(out.getvalue())["results"]:
        for f in r["finding_descriptions"]:
            codes.append({"code": f["code"], "severity": f["severity"], "at": r["node_path"], "message": f["message"]})
    return codes


def load(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def main():
    m = json.load(open(sys.argv[1]))
    now = datetime.datetime.now(datetime.timezone.utc)
    results = []

    def add(check, target, ok, detail=""):
        results.append({"check": check, "target": target, "ok": ok, "detail": detail})

    cas = {c["name"]: c for c in m["cas"]}
    for c in m["cas"]:
        found = pkilint(lint_pkix_cert.main, [c["cert"]])
        add("pkilint-cert", c["name"], not found, found)
        if c["issuer"]:
            found = pkilint(lint_pkix_signer_signee_cert_chain.main, [cas[c["issuer"]]["cert"], c["cert"]])
            add("pkilint-chain", f'{c["issuer"]}>{c["name"]}', not found, found)
            issuer = load(cas[c["issuer"]]["cert"])[0]
            try:
                load(c["cert"])[0].verify_directly_issued_by(issuer)
                add("cryptography-signature", c["name"], True)
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                add("cryptography-signature", c["name"], False, repr(e))
        found = pkilint(lint_crl.main, ["-t", "CRL", "-p", "PKIX", c["crl"]])
        add("pkilint-crl", c["name"], not found, found)
        with open(c["crl"], "rb") as f:
            crl = x509.load_pem_x509_crl(f.read())
        ca_cert = load(c["cert"])[0]
        add("cryptography-crl-signature", c["name"], crl.is_signature_valid(ca_cert.public_key()))
        add("cryptography-crl-fresh", c["name"], crl.next_update_utc > now, str(crl.next_update_utc))

    root = load(m["root"])
    for leaf in m["leaves"]:
        name = leaf["name"]
        found = pkilint(lint_pkix_cert.main, [leaf["cert"]])
        if leaf["svid"]:
            found = [f for f in found if f["code"] not in SVID_ALLOWED]
        add("pkilint-cert", name, not found, found)
        issuer_cert = cas[leaf["ca"]]["cert"]
        found = pkilint(lint_pkix_signer_signee_cert_chain.main, [issuer_cert, leaf["cert"]])
        if leaf["svid"]:
            found = [f for f in found if f["code"] not in SVID_ALLOWED]
        add("pkilint-chain", f'{leaf["ca"]}>{name}', not found, found)

        cert = load(leaf["cert"])[0]
        chain = load(leaf["chain"])
        try:
            cert.verify_directly_issued_by(chain[0])
            add("cryptography-signature", name, True)
        except Exception as e:  # noqa: BLE001
            add("cryptography-signature", name, False, repr(e))
        builder = PolicyBuilder().store(Store(root)).time(now)
        for purpose in leaf["purposes"]:
            if purpose == "server" and not leaf["dns"]:
                # cryptography's server verifier matches DNS names and IPs only; an SVID's
                # identity is its URI, which peers check themselves (SPIFFE).
                continue
            try:
                if purpose == "server":
                    builder.build_server_verifier(DNSName(leaf["dns"])).verify(cert, chain)
                else:
                    builder.build_client_verifier().verify(cert, chain)
                add(f"cryptography-verify-{purpose}", name, True)
            except Exception as e:  # noqa: BLE001
                add(f"cryptography-verify-{purpose}", name, False, repr(e))
        # The revocation is on the issuing CA's CRL.
        with open(cas[leaf["ca"]]["crl"], "rb") as f:
            crl = x509.load_pem_x509_crl(f.read())
        listed = crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
        add("cryptography-crl-lists", name, listed == leaf["revoked"], f"listed={listed}")

    # Must be refused: a server certificate for a name it does not carry, a client-only
    # certificate as a server, a chain to a root we do not trust.
    for bad in m["reject"]:
        cert = load(bad["cert"])[0]
        chain = load(bad["chain"])
        store = Store(load(bad.get("root", m["root"])))
        builder = PolicyBuilder().store(store).time(now)
        try:
            if bad["purpose"] == "server":
                builder.build_server_verifier(DNSName(bad["dns"])).verify(cert, chain)
            else:
                builder.build_client_verifier().verify(cert, chain)
            add("cryptography-reject", bad["name"], False, "accepted")
        except Exception as e:  # noqa: BLE001
            add("cryptography-reject", bad["name"], True, repr(e))

    json.dump({"results": results}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
