// Command witness-go is a minimal C2SP tlog-witness, the Go peer of detente's witness in
// bench/witness/run: POST /add-checkpoint verifies the log's signed checkpoint
// (golang.org/x/mod/sumdb/note), checks the consistency proof against the stored state
// (golang.org/x/mod/sumdb/tlog.CheckTree), compare-and-swaps the new state in SQLite
// (mattn/go-sqlite3, WAL, synchronous=FULL) and replies with one Ed25519 cosignature/v1
// line (signature type 0x04). It has no ML-DSA-44 cosigner (Go 1.19 has none).
//
// Usage: witness-go -listen ADDR -db FILE -logs CONFIG [-name NAME]
// CONFIG holds lines "origin vkey" (the log's note verifier key).
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type witness struct {
	name  string
	key   ed25519.PrivateKey
	keyID [4]byte
	db    *sql.DB
	vers  map[string]note.Verifiers // origin -> its log keys
	mu    sync.Mutex                // serializes writers, as detente's store mutex does
	getSt *sql.Stmt
}

func main() {
	listen := flag.String("listen", "127.0.0.1:7381", "address to listen on")
	dbPath := flag.String("db", "witness-go.db", "SQLite state database (created)")
	logsPath := flag.String("logs", "logs.txt", `log config: lines "origin vkey"`)
	name := flag.String("name", "bench.example/go-witness", "witness key name")
	flag.Parse()

	w := &witness{name: *name, vers: map[string]note.Verifiers{}}
	seed := sha256.Sum256([]byte("witness-go seed " + *name))
	w.key = ed25519.NewKeyFromSeed(seed[:])
	pub := w.key.Public().(ed25519.PublicKey)
	id := sha256.Sum256(append(append([]byte(*name), 0x0A, 0x04), pub...))
	copy(w.keyID[:], id[:4])
	fmt.Fprintf(os.Stderr, "witness-go %s: vkey %s+%x+%s\n", *name, *name, id[:4],
		base64.StdEncoding.EncodeToString(append([]byte{0x04}, pub...)))

	cfg, err := os.ReadFile(*logsPath)
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+*dbPath+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	w.db = db
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, checkpoint BLOB)`); err != nil {
		log.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	for _, line := range strings.Split(string(cfg), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			log.Fatalf("bad config line %q", line)
		}
		v, err := note.NewVerifier(f[1])
		if err != nil {
			log.Fatalf("%s: %v", f[0], err)
		}
		list := []note.Verifier{v}
		w.vers[f[0]] = note.VerifierList(list...)
		if _, err := db.Exec(`INSERT OR IGNORE INTO logs (origin, size, root) VALUES (?, 0, ?)`, f[0], empty[:]); err != nil {
			log.Fatal(err)
		}
	}
	if w.getSt, err = db.Prepare(`SELECT size, root FROM logs WHERE origin = ?`); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/add-checkpoint", w.addCheckpoint)
	fmt.Fprintf(os.Stderr, "witness-go: listening on %s\n", *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}

func fail(rw http.ResponseWriter, code int, msg string) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(code)
	io.WriteString(rw, msg+"\n")
}

func conflict(rw http.ResponseWriter, size int64) {
	rw.Header().Set("Content-Type", "text/x.tlog.size")
	rw.WriteHeader(http.StatusConflict)
	fmt.Fprintf(rw, "%d\n", size)
}

var errConflict = errors.New("conflict")

func (w *witness) addCheckpoint(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fail(rw, http.StatusMethodNotAllowed, "POST only")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(rw, http.StatusBadRequest, "read: "+err.Error())
		return
	}
	// old N \n proof lines \n blank line \n note
	sc := bufio.NewReader(bytes.NewReader(body))
	first, err := sc.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "old ") {
		fail(rw, http.StatusBadRequest, "missing old line")
		return
	}
	old, err := strconv.ParseInt(strings.TrimSuffix(first[4:], "\n"), 10, 64)
	if err != nil || old < 0 {
		fail(rw, http.StatusBadRequest, "bad old size")
		return
	}
	var proof tlog.TreeProof
	for {
		line, err := sc.ReadString('\n')
		if err != nil {
			fail(rw, http.StatusBadRequest, "truncated proof")
			return
		}
		if line == "\n" {
			break
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(line, "\n"))
		if err != nil || len(b) != tlog.HashSize || len(proof) >= 63 {
			fail(rw, http.StatusBadRequest, "bad proof line")
			return
		}
		var h tlog.Hash
		copy(h[:], b)
		proof = append(proof, h)
	}
	msg, _ := io.ReadAll(sc)
	nl := bytes.IndexByte(msg, '\n')
	if nl < 0 {
		fail(rw, http.StatusBadRequest, "bad checkpoint")
		return
	}
	origin := string(msg[:nl])
	vers, ok := w.vers[origin]
	if !ok {
		fail(rw, http.StatusNotFound, "unknown log")
		return
	}
	n, err := note.Open(msg, vers)
	if err != nil {
		fail(rw, http.StatusForbidden, "checkpoint signature: "+err.Error())
		return
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] != origin {
		fail(rw, http.StatusBadRequest, "bad checkpoint body")
		return
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	rootB, err2 := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || size < 0 || err2 != nil || len(rootB) != tlog.HashSize {
		fail(rw, http.StatusBadRequest, "bad checkpoint body")
		return
	}
	var root tlog.Hash
	copy(root[:], rootB)
	if old > size {
		fail(rw, http.StatusBadRequest, "old size beyond checkpoint size")
		return
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	var curSize int64
	var curRootB []byte
	if err := w.getSt.QueryRow(origin).Scan(&curSize, &curRootB); err != nil {
		fail(rw, http.StatusInternalServerError, err.Error())
		return
	}
	if old != curSize {
		conflict(rw, curSize)
		return
	}
	var curRoot tlog.Hash
	copy(curRoot[:], curRootB)
	switch {
	case old == size:
		if len(proof) != 0 || root != curRoot {
			fail(rw, http.StatusConflict, "root differs at the same size")
			return
		}
	case old == 0:
		if len(proof) != 0 {
			fail(rw, http.StatusUnprocessableEntity, "non-empty proof from size 0")
			return
		}
	default:
		if err := tlog.CheckTree(proof, size, root, old, curRoot); err != nil {
			fail(rw, http.StatusUnprocessableEntity, "consistency proof: "+err.Error())
			return
		}
	}
	err = func() error {
		tx, err := w.db.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.Exec(`UPDATE logs SET size = ?, root = ?, checkpoint = ? WHERE origin = ? AND size = ? AND root = ?`,
			size, root[:], msg, origin, curSize, curRoot[:])
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k != 1 {
			return errConflict
		}
		return tx.Commit()
	}()
	if err == errConflict {
		conflict(rw, curSize)
		return
	} else if err != nil {
		fail(rw, http.StatusInternalServerError, err.Error())
		return
	}

	t := uint64(time.Now().Unix())
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), n.Text...)
	sig := make([]byte, 0, 4+8+ed25519.SignatureSize)
	sig = append(sig, w.keyID[:]...)
	sig = binary.BigEndian.AppendUint64(sig, t)
	sig = append(sig, ed25519.Sign(w.key, signed)...)
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(rw, "— %s %s\n", w.name, base64.StdEncoding.EncodeToString(sig))
}
