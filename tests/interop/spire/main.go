// Verifies an X.509-SVID chain twice, as the two Go verifiers a SPIRE deployment meets: Go's
// crypto/x509 against the root (client auth), and go-spiffe's x509svid.Verify against the
// SPIFFE bundle `pki export --format spiffe` wrote. Prints one JSON object.
//
//	go run . TRUST_DOMAIN ROOT_PEM SVID_PEM BUNDLE_JSON
package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

func certs(path string) []*x509.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			panic(err)
		}
		out = append(out, c)
	}
}

func main() {
	td, rootPath, svidPath, bundlePath := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	res := map[string]string{}
	roots := x509.NewCertPool()
	for _, c := range certs(rootPath) {
		roots.AddCert(c)
	}
	chain := certs(svidPath)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		res["x509"] = "error: " + err.Error()
	} else {
		res["x509"] = "ok"
	}
	trust, err := spiffeid.TrustDomainFromString(td)
	if err != nil {
		panic(err)
	}
	raw, err := os.ReadFile(bundlePath)
	if err != nil {
		panic(err)
	}
	bundle, err := spiffebundle.Parse(trust, raw)
	if err != nil {
		res["spiffe"] = "error: bundle: " + err.Error()
	} else if id, _, err := x509svid.Verify(chain, bundle); err != nil {
		res["spiffe"] = "error: " + err.Error()
	} else {
		res["spiffe"] = "ok " + id.String()
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}
