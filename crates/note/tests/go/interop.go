// Command interop is the Go side of detente's differential test against
// golang.org/x/mod/sumdb/{note,tlog}.
//
//	interop check   < records   verify what detente produced; print "ok <n>"
//	interop produce <n>         print a log of n entries made by Go
//
// Records are lines of space-separated fields, binary data in base64:
//
//	vkey <vkey>                   key that signed the checkpoint
//	skey <skey>                   (produce only) Go's private key
//	checkpoint <b64 note>         signed checkpoint of the whole tree
//	entry <b64>                   next entry of the log
//	tile <L> <N> <W> <b64>        hash tile of height 8 for the final tree
//	bundle <N> <W> <b64>          entry bundle
//	inclusion <size> <index> <hashes>      proof (hashes comma-separated, "-" if none)
//	consistency <old> <new> <hashes>
//	bad-inclusion / bad-consistency        same, must be rejected
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "interop: "+format+"\n", args...)
	os.Exit(1)
}

func b64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		die("bad base64 %q: %v", s, err)
	}
	return b
}

func num(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		die("bad number %q", s)
	}
	return n
}

func hashes(s string) []tlog.Hash {
	if s == "-" {
		return nil
	}
	var out []tlog.Hash
	for _, f := range strings.Split(s, ",") {
		h, err := tlog.ParseHash(f)
		if err != nil {
			die("bad hash %q", f)
		}
		out = append(out, h)
	}
	return out
}

func joinHashes(hs []tlog.Hash) string {
	if len(hs) == 0 {
		return "-"
	}
	var parts []string
	for _, h := range hs {
		parts = append(parts, h.String())
	}
	return strings.Join(parts, ",")
}

// memLog holds Go's own stored hashes for the entries.
type memLog struct {
	entries [][]byte
	stored  []tlog.Hash
}

func (l *memLog) add(e []byte) {
	hs, err := tlog.StoredHashes(int64(len(l.entries)), e, l.reader())
	if err != nil {
		die("StoredHashes: %v", err)
	}
	l.entries = append(l.entries, e)
	l.stored = append(l.stored, hs...)
}

func (l *memLog) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(l.stored)) {
				return nil, fmt.Errorf("no hash %d", x)
			}
			out[i] = l.stored[x]
		}
		return out, nil
	})
}

func (l *memLog) root(n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, l.reader())
	if err != nil {
		die("TreeHash(%d): %v", n, err)
	}
	return h
}

// tileSet serves detente's tiles to Go's TileHashReader.
type tileSet map[tlog.Tile][]byte

func (t tileSet) Height() int { return 8 }
func (t tileSet) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, x := range tiles {
		d, ok := t[x]
		if !ok {
			return nil, fmt.Errorf("missing tile %v", x.Path())
		}
		out[i] = d
	}
	return out, nil
}
func (t tileSet) SaveTiles([]tlog.Tile, [][]byte) {}

// parseCheckpoint reads a C2SP checkpoint body (origin, size, root).
func parseCheckpoint(text string) (string, int64, tlog.Hash) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		die("bad checkpoint %q", text)
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil {
		die("bad root: %v", err)
	}
	return lines[0], num(lines[1]), h
}

func check() {
	var (
		log      memLog
		vkey     string
		cpNote   []byte
		tiles    = tileSet{}
		bundles  = map[int64][]byte{}
		checked  int
		deferred [][]string
	)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "vkey":
			vkey = f[1]
		case "checkpoint":
			cpNote = b64(f[1])
		case "entry":
			log.add(b64(f[1]))
		case "tile":
			t := tlog.Tile{H: 8, L: int(num(f[1])), N: num(f[2]), W: int(num(f[3]))}
			tiles[t] = b64(f[4])
		case "bundle":
			bundles[num(f[1])] = b64(f[3])
			if int64(len(splitBundle(b64(f[3])))) != num(f[2]) {
				die("bundle %s has the wrong width", f[1])
			}
		default:
			deferred = append(deferred, f)
		}
	}
	if err := sc.Err(); err != nil {
		die("reading input: %v", err)
	}

	// The signed checkpoint opens with detente's key and matches Go's tree.
	v, err := note.NewVerifier(vkey)
	if err != nil {
		die("NewVerifier(%q): %v", vkey, err)
	}
	n, err := note.Open(cpNote, note.VerifierList(v))
	if err != nil {
		die("note.Open: %v", err)
	}
	_, size, root := parseCheckpoint(n.Text)
	if size != int64(len(log.entries)) || root != log.root(size) {
		die("checkpoint (%d, %v) does not match Go's tree (%d, %v)", size, root, len(log.entries), log.root(int64(len(log.entries))))
	}
	checked++

	// Tiles: exactly the tiles Go expects, byte for byte, and usable by
	// Go's own (verifying) tile reader.
	want := finalTiles(size)
	if len(want) != len(tiles) {
		die("got %d tiles, Go expects %d", len(tiles), len(want))
	}
	for _, t := range want {
		d, err := tlog.ReadTileData(t, log.reader())
		if err != nil {
			die("ReadTileData: %v", err)
		}
		if !bytes.Equal(d, tiles[t]) {
			die("tile %s differs", t.Path())
		}
		checked++
	}
	tr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tiles)
	for _, i := range []int64{0, size / 2, size - 1} {
		p, err := tlog.ProveRecord(size, i, tr)
		if err != nil {
			die("ProveRecord from detente tiles: %v", err)
		}
		if err := tlog.CheckRecord(p, size, root, i, tlog.RecordHash(log.entries[i])); err != nil {
			die("CheckRecord from detente tiles: %v", err)
		}
		checked++
	}

	// Bundles hold the entries.
	for idx, data := range bundles {
		for j, e := range splitBundle(data) {
			k := idx*256 + int64(j)
			if k >= size || !bytes.Equal(e, log.entries[k]) {
				die("bundle %d entry %d differs", idx, j)
			}
		}
		checked++
	}

	for _, f := range deferred {
		switch f[0] {
		case "inclusion", "bad-inclusion":
			t, i := num(f[1]), num(f[2])
			err := tlog.CheckRecord(hashes(f[3]), t, log.root(t), i, tlog.RecordHash(log.entries[i]))
			if (err == nil) != (f[0] == "inclusion") {
				die("%s %d %d: CheckRecord = %v", f[0], t, i, err)
			}
		case "consistency", "bad-consistency":
			o, t := num(f[1]), num(f[2])
			err := tlog.CheckTree(hashes(f[3]), t, log.root(t), o, log.root(o))
			if (err == nil) != (f[0] == "consistency") {
				die("%s %d %d: CheckTree = %v", f[0], o, t, err)
			}
		default:
			die("unknown record %q", f[0])
		}
		checked++
	}
	fmt.Printf("ok %d\n", checked)
}

// finalTiles lists the tiles of a tree of the given size, one per (L, N),
// with the width the tree gives it. (This x/mod version's NewTiles also
// lists every intermediate partial width.)
func finalTiles(size int64) []tlog.Tile {
	var out []tlog.Tile
	for _, t := range tlog.NewTiles(8, 0, size) {
		if k := len(out); k > 0 && out[k-1].L == t.L && out[k-1].N == t.N {
			out[k-1] = t
			continue
		}
		out = append(out, t)
	}
	return out
}

func splitBundle(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			die("truncated bundle")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			die("truncated bundle entry")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out
}

func produce(size int64) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "go.example/interop-log")
	if err != nil {
		die("GenerateKey: %v", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		die("NewSigner: %v", err)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "vkey %s\nskey %s\n", vkey, skey)
	var log memLog
	for i := int64(0); i < size; i++ {
		e := []byte(fmt.Sprintf("go entry %d", i))
		log.add(e)
		fmt.Fprintf(w, "entry %s\n", base64.StdEncoding.EncodeToString(e))
	}
	root := log.root(size)
	text := fmt.Sprintf("go.example/interop-log\n%d\n%s\n", size, root)
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		die("Sign: %v", err)
	}
	fmt.Fprintf(w, "checkpoint %s\n", base64.StdEncoding.EncodeToString(msg))
	for _, t := range finalTiles(size) {
		d, err := tlog.ReadTileData(t, log.reader())
		if err != nil {
			die("ReadTileData: %v", err)
		}
		fmt.Fprintf(w, "tile %d %d %d %s\n", t.L, t.N, t.W, base64.StdEncoding.EncodeToString(d))
	}
	for t := int64(1); t <= size; t += 1 + t/3 {
		for i := int64(0); i < t; i += 1 + t/5 {
			p, err := tlog.ProveRecord(t, i, log.reader())
			if err != nil {
				die("ProveRecord: %v", err)
			}
			fmt.Fprintf(w, "inclusion %d %d %s\n", t, i, joinHashes(p))
		}
		for o := int64(1); o <= t; o += 1 + o/2 {
			p, err := tlog.ProveTree(t, o, log.reader())
			if err != nil {
				die("ProveTree: %v", err)
			}
			fmt.Fprintf(w, "consistency %d %d %s\n", o, t, joinHashes(p))
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		die("usage: interop check|produce <n>")
	}
	switch os.Args[1] {
	case "check":
		check()
	case "produce":
		if len(os.Args) != 3 {
			die("usage: interop produce <n>")
		}
		produce(num(os.Args[2]))
	default:
		die("unknown command %q", os.Args[1])
	}
}
