// Command verify checks the artifacts of a pki directory with Go's crypto/x509 (the verifier of
// Kubernetes, SPIRE and most control planes), driven by tests/interop.rs. Standard library only.
//
//	go run verify.go manifest.json
package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

type ca struct {
	Name   string  `json:"name"`
	Cert   string  `json:"cert"`
	Crl    string  `json:"crl"`
	Issuer *string `json:"issuer"`
}

type leaf struct {
	Name     string   `json:"name"`
	Cert     string   `json:"cert"`
	Chain    string   `json:"chain"`
	Root     string   `json:"root"`
	Ca       string   `json:"ca"`
	Purposes []string `json:"purposes"`
	Purpose  string   `json:"purpose"`
	DNS      string   `json:"dns"`
	Revoked  bool     `json:"revoked"`
}

type manifest struct {
	Root   string `json:"root"`
	Cas    []ca   `json:"cas"`
	Leaves []leaf `json:"leaves"`
	Reject []leaf `json:"reject"`
}

type result struct {
	Check  string `json:"check"`
	Target string `json:"target"`
	Ok     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func certs(path string) []*x509.Certificate {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			panic(fmt.Sprintf("%s: %v", path, err))
		}
		out = append(out, c)
	}
}

func verify(l leaf, root string, purpose string) error {
	roots := x509.NewCertPool()
	for _, c := range certs(root) {
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs(l.Chain) {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: time.Now()}
	if purpose == "server" {
		opts.DNSName = l.DNS
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	_, err := certs(l.Cert)[0].Verify(opts)
	return err
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	var results []result
	add := func(check, target string, ok bool, detail string) {
		results = append(results, result{check, target, ok, detail})
	}
	byName := map[string]ca{}
	for _, c := range m.Cas {
		byName[c.Name] = c
	}
	for _, c := range m.Cas {
		pemData, err := os.ReadFile(c.Crl)
		if err != nil {
			panic(err)
		}
		b, _ := pem.Decode(pemData)
		crl, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			add("go-crl-parse", c.Name, false, err.Error())
			continue
		}
		err = crl.CheckSignatureFrom(certs(c.Cert)[0])
		add("go-crl-signature", c.Name, err == nil, fmt.Sprint(err))
		add("go-crl-fresh", c.Name, crl.NextUpdate.After(time.Now()), crl.NextUpdate.String())
	}
	for _, l := range m.Leaves {
		for _, p := range l.Purposes {
			err := verify(l, m.Root, p)
			add("go-verify-"+p, l.Name, err == nil, fmt.Sprint(err))
		}
		pemData, _ := os.ReadFile(byName[l.Ca].Crl)
		b, _ := pem.Decode(pemData)
		crl, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			panic(err)
		}
		serial := certs(l.Cert)[0].SerialNumber
		listed := false
		for _, r := range crl.RevokedCertificates {
			if r.SerialNumber.Cmp(serial) == 0 {
				listed = true
			}
		}
		add("go-crl-lists", l.Name, listed == l.Revoked, fmt.Sprintf("listed=%v", listed))
	}
	for _, l := range m.Reject {
		root := m.Root
		if l.Root != "" {
			root = l.Root
		}
		err := verify(l, root, l.Purpose)
		add("go-reject", l.Name, err != nil, fmt.Sprint(err))
	}
	out, _ := json.MarshalIndent(map[string][]result{"results": results}, "", " ")
	fmt.Println(string(out))
}
