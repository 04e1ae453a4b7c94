// Command bench_log_go is the Go peer of detente's crates/log/examples/bench_log.rs, for
// bench/log/run: the same work done with golang.org/x/mod/sumdb/tlog and sumdb/note.
//
//	bench_log_go seq DIR ENTRIES BATCH ENTRY_SIZE   # sequence a tiled log into DIR (must not exist)
//	bench_log_go proofs LEAVES N SEED               # N inclusion + N consistency proofs, in memory
//
// Build (Debian's golang-golang-x-mod-dev, GOPATH mode):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o bench_log_go ./bench/log/go
//
// Each subcommand prints one JSON object. Inputs are generated exactly as the Rust example
// generates them, so both must report the same root hashes, proof digests and even
// checkpoint bytes (same Ed25519 seed, same checkpoint text, deterministic signatures).
//
// Sequencing mirrors detente_log::LogWriter over DirStorage, step by step:
//   - per batch: tlog.StoredHashes for each new record (hashes held in memory), tlog.TreeHash;
//   - the entry bundles (C2SP format: 2-byte big-endian length + entry) and the hash tiles
//     that changed (tlog.NewTiles, keeping the final width of each tile and skipping a tile
//     the old tree already had at that width, as C2SP tlog-tiles publishes them; data from
//     tlog.ReadTileData), written as one batch: every temporary file written and fsynced
//     concurrently, then renamed into place, then each directory fsynced (concurrently);
//     new directories are fsynced into their parents;
//   - then the checkpoint (C2SP text signed with sumdb/note): temp file, fsync, rename,
//     directory fsync;
//   - then, once committed, the partial versions of tiles and bundles that became full are
//     removed (as detente does).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	origin     = "bench.example/log"
	tileHeight = 8
	tileWidth  = 1 << tileHeight
)

// ---------------------------------------------------------------------------------------
// Storage: one file per object, temp + fsync + rename + directory fsync.

type store struct {
	root    string
	counter uint64
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// makeDirs creates dir and missing parents, fsyncing each new entry into its parent.
func (s *store) makeDirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := s.makeDirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o777); err != nil && !os.IsExist(err) {
		return err
	}
	return syncDir(parent)
}

func (s *store) tmpName(dir string) string {
	n := atomic.AddUint64(&s.counter, 1)
	return filepath.Join(dir, fmt.Sprintf(".tmp-%d-%d", os.Getpid(), n))
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

type object struct {
	key  string
	data []byte
}

// parallel runs f(i) for i < n in goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = f(i)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *store) putBatch(objs []object) error {
	tmps := make([]string, len(objs))
	paths := make([]string, len(objs))
	var dirs []string
	seen := map[string]bool{}
	for i, o := range objs {
		paths[i] = filepath.Join(s.root, filepath.FromSlash(o.key))
		dir := filepath.Dir(paths[i])
		if err := s.makeDirs(dir); err != nil {
			return err
		}
		tmps[i] = s.tmpName(dir)
		if !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	err := parallel(len(objs), func(i int) error { return writeSync(tmps[i], objs[i].data) })
	if err == nil {
		for i := range objs {
			if err = os.Rename(tmps[i], paths[i]); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = parallel(len(dirs), func(i int) error { return syncDir(dirs[i]) })
	}
	if err != nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	return err
}

func (s *store) put(key string, data []byte) error {
	path := filepath.Join(s.root, filepath.FromSlash(key))
	dir := filepath.Dir(path)
	if err := s.makeDirs(dir); err != nil {
		return err
	}
	tmp := s.tmpName(dir)
	err := writeSync(tmp, data)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// removePartials removes the partial versions (key.p/W) of a now-full tile or bundle.
// Like detente, not durable and errors ignored: it only frees space.
func (s *store) removePartials(key string) {
	dir := filepath.Join(s.root, filepath.FromSlash(key)+".p")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	os.Remove(dir)
}

// ---------------------------------------------------------------------------------------

// fillEntry makes entry i: its index as 8 little-endian bytes, then 'x' up to len(buf).
func fillEntry(buf []byte, i uint64) {
	for j := range buf {
		buf[j] = 'x'
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	copy(buf, b[:])
}

// splitmix64, shared with the Rust example so both pick the same proofs.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func memReader(hashes *[]tlog.Hash) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		h := *hashes
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(h)) {
				return nil, fmt.Errorf("stored hash %d not available", x)
			}
			out[i] = h[x]
		}
		return out, nil
	})
}

// changedTiles keeps, of tlog.NewTiles(old, new), the final width of each tile, and drops
// a tile the tree of size old already had at that width (NewTiles lists every width from
// the old one up, for a server that serves every intermediate partial tile).
func changedTiles(old, new int64) []tlog.Tile {
	type key struct {
		l int
		n int64
	}
	widest := map[key]int{}
	var order []key
	for _, t := range tlog.NewTiles(tileHeight, old, new) {
		k := key{t.L, t.N}
		if w, ok := widest[k]; !ok {
			order = append(order, k)
			widest[k] = t.W
		} else if t.W > w {
			widest[k] = t.W
		}
	}
	var out []tlog.Tile
	for _, k := range order {
		w := widest[k]
		oldW := (old >> uint(tileHeight*k.l)) - k.n<<tileHeight
		if oldW > tileWidth {
			oldW = tileWidth
		}
		if int64(w) == oldW {
			continue
		}
		out = append(out, tlog.Tile{H: tileHeight, L: k.l, N: k.n, W: w})
	}
	return out
}

func encodeBundle(entries [][]byte) []byte {
	n := 0
	for _, e := range entries {
		n += 2 + len(e)
	}
	out := make([]byte, 0, n)
	for _, e := range entries {
		out = append(out, byte(len(e)>>8), byte(len(e)))
		out = append(out, e...)
	}
	return out
}

func signCheckpoint(signer note.Signer, size int64, root tlog.Hash) ([]byte, error) {
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, size, root)
	return note.Sign(&note.Note{Text: text}, signer)
}

func seq(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("seq wants DIR ENTRIES BATCH ENTRY_SIZE")
	}
	dir := args[0]
	entries, err1 := strconv.ParseInt(args[1], 10, 64)
	batch, err2 := strconv.ParseInt(args[2], 10, 64)
	esize, err3 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || err3 != nil || entries < 0 || batch < 1 || esize < 0 || esize > 65535 {
		return fmt.Errorf("bad arguments")
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists", dir)
	}
	// The same key as the Rust side: an Ed25519 seed of 32 bytes of 7.
	skey, _, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)), origin)
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	s := &store{root: dir}

	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, esize)
	}
	hashes := make([]tlog.Hash, 0, 2*entries+64)
	r := memReader(&hashes)
	var tail [][]byte // entries of the current partial bundle

	start := time.Now()
	// Create: the size-0 checkpoint (root of the empty tree, SHA-256 of "").
	msg, err := signCheckpoint(signer, 0, sha256.Sum256(nil))
	if err != nil {
		return err
	}
	if err := s.put("checkpoint", msg); err != nil {
		return err
	}
	var size, batches int64
	var root tlog.Hash
	for size < entries {
		n := batch
		if entries-size < n {
			n = entries - size
		}
		for j := int64(0); j < n; j++ {
			fillEntry(bufs[j], uint64(size+j))
			hs, err := tlog.StoredHashes(size+j, bufs[j], r)
			if err != nil {
				return err
			}
			hashes = append(hashes, hs...)
		}
		newSize := size + n
		root, err = tlog.TreeHash(newSize, r)
		if err != nil {
			return err
		}
		firstTail := size - int64(len(tail))
		all := append(append([][]byte{}, tail...), bufs[:n]...)
		var objs []object
		var full []string
		tiles := changedTiles(size, newSize)
		for _, t := range tiles {
			if t.L != 0 {
				continue
			}
			b := tlog.Tile{H: tileHeight, L: -1, N: t.N, W: t.W}
			lo := t.N<<tileHeight - firstTail
			objs = append(objs, object{b.Path(), encodeBundle(all[lo : lo+int64(t.W)])})
			if t.W == tileWidth {
				full = append(full, b.Path())
			}
		}
		for _, t := range tiles {
			data, err := tlog.ReadTileData(t, r)
			if err != nil {
				return err
			}
			objs = append(objs, object{t.Path(), data})
			if t.W == tileWidth {
				full = append(full, t.Path())
			}
		}
		if err := s.putBatch(objs); err != nil {
			return err
		}
		msg, err := signCheckpoint(signer, newSize, root)
		if err != nil {
			return err
		}
		if err := s.put("checkpoint", msg); err != nil {
			return err
		}
		for _, p := range full {
			s.removePartials(p)
		}
		keep := int(newSize % tileWidth)
		newTail := make([][]byte, keep)
		for i, e := range all[len(all)-keep:] {
			newTail[i] = append([]byte(nil), e...)
		}
		tail = newTail
		size = newSize
		batches++
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("{\"impl\":\"go\",\"entries\":%d,\"batches\":%d,\"seconds\":%.6f,\"entries_per_s\":%.1f,\"root\":\"%s\"}\n",
		size, batches, secs, float64(size)/secs, root)
	return nil
}

func proofs(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("proofs wants LEAVES N SEED")
	}
	leaves, err1 := strconv.ParseInt(args[0], 10, 64)
	n, err2 := strconv.Atoi(args[1])
	seed, err3 := strconv.ParseUint(args[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || leaves < 2 || n < 1 {
		return fmt.Errorf("bad arguments")
	}

	stored := make([]tlog.Hash, 0, 2*leaves)
	r := memReader(&stored)
	t := time.Now()
	for i := int64(0); i < leaves; i++ {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		hs, err := tlog.StoredHashes(i, b[:], r)
		if err != nil {
			return err
		}
		stored = append(stored, hs...)
	}
	build := time.Since(t).Seconds()
	size := leaves
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		return err
	}

	g := rng{seed}
	idx := make([]int64, n)
	for i := range idx {
		idx[i] = int64(g.next() % uint64(size))
	}
	olds := make([]int64, n)
	for i := range olds {
		olds[i] = 1 + int64(g.next()%uint64(size-1))
	}
	leafHashes := make([]tlog.Hash, n)
	for i, x := range idx {
		leafHashes[i] = stored[tlog.StoredHashIndex(0, x)]
	}
	oldRoots := make([]tlog.Hash, n)
	for i, o := range olds {
		if oldRoots[i], err = tlog.TreeHash(o, r); err != nil {
			return err
		}
	}

	t = time.Now()
	inc := make([]tlog.RecordProof, n)
	for i, x := range idx {
		if inc[i], err = tlog.ProveRecord(size, x, r); err != nil {
			return err
		}
	}
	proveInc := time.Since(t).Seconds()

	t = time.Now()
	incOK := 0
	for i, x := range idx {
		if tlog.CheckRecord(inc[i], size, root, x, leafHashes[i]) == nil {
			incOK++
		}
	}
	verifyInc := time.Since(t).Seconds()

	t = time.Now()
	con := make([]tlog.TreeProof, n)
	for i, o := range olds {
		if con[i], err = tlog.ProveTree(size, o, r); err != nil {
			return err
		}
	}
	proveCon := time.Since(t).Seconds()

	t = time.Now()
	conOK := 0
	for i, o := range olds {
		if tlog.CheckTree(con[i], size, root, o, oldRoots[i]) == nil {
			conOK++
		}
	}
	verifyCon := time.Since(t).Seconds()

	digest := func(ps [][]tlog.Hash) (tlog.Hash, int) {
		d := tlog.Hash(sha256.Sum256(nil))
		total := 0
		for _, p := range ps {
			total += len(p)
			for _, h := range p {
				d = tlog.NodeHash(d, h)
			}
		}
		return d, total
	}
	incs := make([][]tlog.Hash, n)
	cons := make([][]tlog.Hash, n)
	for i := range inc {
		incs[i], cons[i] = inc[i], con[i]
	}
	incDigest, incLen := digest(incs)
	conDigest, conLen := digest(cons)
	ns := func(s float64) float64 { return 1e9 * s / float64(n) }
	fmt.Printf("{\"impl\":\"go\",\"leaves\":%d,\"n\":%d,\"root\":\"%s\",\"build_ns_per_leaf\":%.1f,"+
		"\"prove_inclusion_ns\":%.1f,\"verify_inclusion_ns\":%.1f,"+
		"\"prove_consistency_ns\":%.1f,\"verify_consistency_ns\":%.1f,"+
		"\"inclusion_ok\":%d,\"consistency_ok\":%d,"+
		"\"inclusion_digest\":\"%s\",\"inclusion_hashes\":%d,"+
		"\"consistency_digest\":\"%s\",\"consistency_hashes\":%d}\n",
		leaves, n, root, 1e9*build/float64(leaves),
		ns(proveInc), ns(verifyInc), ns(proveCon), ns(verifyCon),
		incOK, conOK, incDigest, incLen, conDigest, conLen)
	return nil
}

func main() {
	var err error
	if len(os.Args) < 2 {
		err = fmt.Errorf("usage: bench_log_go seq DIR ENTRIES BATCH ENTRY_SIZE | proofs LEAVES N SEED")
	} else {
		switch os.Args[1] {
		case "seq":
			err = seq(os.Args[2:])
		case "proofs":
			err = proofs(os.Args[2:])
		default:
			err = fmt.Errorf("unknown subcommand %q", os.Args[1])
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench_log_go:", err)
		os.Exit(1)
	}
}
