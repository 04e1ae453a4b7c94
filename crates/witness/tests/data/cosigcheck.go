// cosigcheck: an independent check of detente-witness output with Go's
// golang.org/x/mod/sumdb/note. Reads a log vkey, a witness cosignature/v1
// (type 0x04) vkey and a cosigned note from the files named on the command
// line; opens the note with note.Open, requiring both signatures to verify.
// The cosignature verifier is written here from tlog-cosignature.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t == 0 || t > 1<<63-1 {
		return false
	}
	m := []byte("cosignature/v1\ntime " + strconv.FormatUint(t, 10) + "\n")
	m = append(m, msg...)
	return ed25519.Verify(v.key, m, sig[8:])
}

func parseCosigVKey(s string) (*cosigVerifier, error) {
	parts := strings.SplitN(strings.TrimSpace(s), "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("bad vkey")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		return nil, fmt.Errorf("not a cosignature/v1 key")
	}
	h := sha256.New()
	h.Write([]byte(parts[0] + "\n"))
	h.Write(raw)
	id := binary.BigEndian.Uint32(h.Sum(nil)[:4])
	if fmt.Sprintf("%08x", id) != parts[1] {
		return nil, fmt.Errorf("key ID mismatch")
	}
	return &cosigVerifier{name: parts[0], hash: id, key: ed25519.PublicKey(raw[1:])}, nil
}

func main() {
	read := func(i int) []byte {
		b, err := os.ReadFile(os.Args[i])
		if err != nil {
			panic(err)
		}
		return b
	}
	logV, err := note.NewVerifier(strings.TrimSpace(string(read(1))))
	if err != nil {
		fmt.Println("log vkey:", err)
		os.Exit(1)
	}
	cosV, err := parseCosigVKey(string(read(2)))
	if err != nil {
		fmt.Println("witness vkey:", err)
		os.Exit(1)
	}
	n, err := note.Open(read(3), note.VerifierList(logV, cosV))
	if err != nil {
		fmt.Println("note.Open:", err)
		os.Exit(1)
	}
	var names []string
	for _, s := range n.Sigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	if len(n.Sigs) != 2 || !bytes.HasPrefix(read(3), []byte(n.Text)) {
		fmt.Println("want 2 verified signatures, got", names)
		os.Exit(1)
	}
	fmt.Println("ok", strings.Join(names, " "))
}
