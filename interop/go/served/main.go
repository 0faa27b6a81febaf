// Command runprint-served-tiles checks a running runprint log over HTTP with the Go checksum
// database's own packages only (golang.org/x/mod/sumdb/note and sumdb/tlog): it fetches the
// signed checkpoint and opens it with the log's verifier key, reads the hash tiles through
// tlog.TileHashReader (which authenticates every tile against the signed tree head), checks
// that every entry of the entry bundles is included under that tree head, checks runprint's
// JSON inclusion proofs, and, given an older signed checkpoint, proves the newer tree
// consistent with it.
//
// Usage: runprint-served-tiles -vkey FILE [-old FILE] [-save FILE] BASE
//
// -vkey is the log's verifier key as `runprint serve` prints it (trusted out of band; the copy
// served at /v1/log/key must equal it). -old is a signed checkpoint saved by an earlier run with
// -save. BASE is the log's prefix URL, such as http://127.0.0.1:8480. It prints one line per
// check, then "tree <size> <base64 root hash>", and exits 1 on the first failure.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

var base string

// get fetches BASE/path and fails on anything but 200.
func get(path string) ([]byte, error) {
	resp, err := http.Get(base + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %.200s", path, resp.StatusCode, data)
	}
	return data, nil
}

func mustGet(path string) []byte {
	data, err := get(path)
	if err != nil {
		fail("%v", err)
	}
	return data
}

// c2spPath turns the Go sumdb tile path (tile/8/L/N[.p/W], tile/8/data/N[.p/W]) into the C2SP
// tlog-tiles one (tile/L/N[.p/W], tile/entries/N[.p/W]): the same layout without the height.
func c2spPath(t tlog.Tile) string {
	path := strings.TrimPrefix(t.Path(), "tile/8/")
	if strings.HasPrefix(path, "data/") {
		path = "entries/" + strings.TrimPrefix(path, "data/")
	}
	return "tile/" + path
}

// httpTiles is a tlog.TileReader over HTTP. It caches what it fetched (TileHashReader does not),
// but what it returns is only trusted once TileHashReader has checked it against a tree head.
type httpTiles struct {
	mu      sync.Mutex
	cache   map[string][]byte
	fetched int
}

func (h *httpTiles) Height() int { return 8 }
func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := c2spPath(t)
		h.mu.Lock()
		data, ok := h.cache[path]
		h.mu.Unlock()
		if !ok {
			var err error
			data, err = get(path)
			if err != nil {
				return nil, err
			}
			h.mu.Lock()
			h.cache[path] = data
			h.fetched++
			h.mu.Unlock()
		}
		out[i] = data
	}
	return out, nil
}
func (h *httpTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// openCheckpoint opens a signed checkpoint with the log's key and reads its three lines.
func openCheckpoint(verifier note.Verifier, text []byte, what string) tlog.Tree {
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open %s: %v", what, err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" || lines[0] != verifier.Name() {
		fail("%s text is not origin, size, root hash: %q", what, n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		fail("%s size: %q", what, lines[1])
	}
	hash, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("%s root hash: %v", what, err)
	}
	fmt.Printf("ok note.Open %s: size %d (%d signatures, %d verified)\n", what, size, len(n.Sigs)+len(n.UnverifiedSigs), len(n.Sigs))
	return tlog.Tree{N: size, Hash: hash}
}

// widest lists the tiles a log of size n serves: tlog.NewTiles gives every partial width a
// growing log passes through; a C2SP log serves only the widest (current) one of each tile.
func widest(n int64) []tlog.Tile {
	var tiles []tlog.Tile
	all := tlog.NewTiles(8, 0, n)
	for i, t := range all {
		if i+1 < len(all) && all[i+1].L == t.L && all[i+1].N == t.N {
			continue
		}
		tiles = append(tiles, t)
	}
	return tiles
}

type jsonProof struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash string   `json:"leafHash"`
	Proof    []string `json:"proof"`
}

func main() {
	vkeyFile := flag.String("vkey", "", "the log's verifier key file")
	oldFile := flag.String("old", "", "an older signed checkpoint of the log")
	saveFile := flag.String("save", "", "where to write the fetched signed checkpoint")
	flag.Parse()
	if *vkeyFile == "" || flag.NArg() != 1 {
		fail("usage: runprint-served-tiles -vkey FILE [-old FILE] [-save FILE] BASE")
	}
	base = strings.TrimSuffix(flag.Arg(0), "/")
	vkeyText, err := os.ReadFile(*vkeyFile)
	if err != nil {
		fail("read -vkey: %v", err)
	}
	vkey := strings.TrimSpace(string(vkeyText))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}

	// The checkpoint, opened with the key given, then the key the log serves compared with it.
	signed := mustGet("checkpoint")
	tree := openCheckpoint(verifier, signed, "checkpoint")
	if served := strings.TrimSpace(string(mustGet("v1/log/key"))); served != vkey {
		fail("/v1/log/key serves %q, not the key given", served)
	}
	fmt.Printf("ok /v1/log/key is the verifier key\n")
	if *saveFile != "" {
		if err := os.WriteFile(*saveFile, signed, 0o644); err != nil {
			fail("write -save: %v", err)
		}
	}

	// The entry bundles (uint16 big-endian length-prefixed entries), hashed here with
	// tlog.StoredHashes into the whole tree: its root must be the signed one, and every served
	// tile must be what tlog computes from the entries, byte for byte. This authenticates every
	// tile and every entry against the signed tree head. (TileHashReader alone does not: in
	// x/mod v0.7.0 it checks a requested tile against its parent only from index len(stx) on,
	// so a full tile requested after the fewer tiles of the tree hash goes unchecked; the
	// tamper test of go-served-tiles.slow.ts found a flipped hash in tile/0/000 read through it.
	// It matches the bypass x/mod v0.40.0 fixes, CVE-2026-56865.)
	current := widest(tree.N)
	var entries [][]byte
	var stored []tlog.Hash
	memory := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("stored hash %d not computed", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for _, t := range current {
		if t.L != 0 {
			continue
		}
		data := tlog.Tile{H: 8, L: -1, N: t.N, W: t.W}
		bundle := mustGet(c2spPath(data))
		for i := 0; i < t.W; i++ {
			if len(bundle) < 2 {
				fail("entry bundle %s ends inside entry %d", c2spPath(data), i)
			}
			length := int(binary.BigEndian.Uint16(bundle))
			if len(bundle) < 2+length {
				fail("entry bundle %s ends inside entry %d", c2spPath(data), i)
			}
			entry := bundle[2 : 2+length]
			bundle = bundle[2+length:]
			hashes, err := tlog.StoredHashes(int64(len(entries)), entry, memory)
			if err != nil {
				fail("tlog.StoredHashes: %v", err)
			}
			stored = append(stored, hashes...)
			entries = append(entries, entry)
		}
		if len(bundle) != 0 {
			fail("entry bundle %s has trailing bytes", c2spPath(data))
		}
	}
	if int64(len(entries)) != tree.N {
		fail("entry bundles hold %d entries, the tree %d", len(entries), tree.N)
	}
	if root, err := tlog.TreeHash(tree.N, memory); err != nil || root != tree.Hash {
		fail("the entries of the served bundles do not give the signed root (%v)", err)
	}
	fmt.Printf("ok the %d entries of the served entry bundles, hashed with tlog.RecordHash / StoredHashes, give the signed root\n", tree.N)
	for _, t := range current {
		want, err := tlog.ReadTileData(t, memory)
		if err != nil {
			fail("tlog.ReadTileData %s: %v", c2spPath(t), err)
		}
		if got := mustGet(c2spPath(t)); string(got) != string(want) {
			fail("served tile %s is not the one tlog computes from the entries", c2spPath(t))
		}
	}
	fmt.Printf("ok the %d served tiles equal tlog.ReadTileData of the tree of the entries, byte for byte\n", len(current))

	// The sumdb client's way: tiles over HTTP through tlog.TileHashReader, and every entry proved
	// included with tlog.ProveRecord and checked with tlog.CheckRecord against the signed root.
	tiles := &httpTiles{cache: map[string][]byte{}}
	reader := tlog.TileHashReader(tree, tiles)
	if root, err := tlog.TreeHash(tree.N, reader); err != nil || root != tree.Hash {
		fail("tlog.TreeHash through tlog.TileHashReader: %v", err)
	}
	fmt.Printf("ok tlog.TileHashReader + TreeHash: served tiles give the signed root of %d\n", tree.N)
	for index, entry := range entries {
		proof, err := tlog.ProveRecord(tree.N, int64(index), reader)
		if err != nil {
			fail("tlog.ProveRecord %d: %v", index, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, int64(index), tlog.RecordHash(entry)); err != nil {
			fail("tlog.CheckRecord entry %d: %v", index, err)
		}
	}
	fmt.Printf("ok tlog.CheckRecord includes each of the %d entries under the signed root, by tlog.ProveRecord over HTTP tiles\n", len(entries))

	// runprint's own JSON inclusion proofs (GET /v1/log/proof) check with tlog.CheckRecord.
	var checked int
	for _, index := range []int64{0, tree.N / 3, tree.N / 2, tree.N - 1} {
		for _, size := range []int64{index + 1, tree.N} {
			var p jsonProof
			body := mustGet(fmt.Sprintf("v1/log/proof?index=%d&size=%d", index, size))
			if err := json.Unmarshal(body, &p); err != nil || p.Index != index || p.Size != size {
				fail("/v1/log/proof?index=%d&size=%d: %v %s", index, size, err, body)
			}
			th, err := tlog.TreeHash(size, reader)
			if err != nil {
				fail("tlog.TreeHash(%d): %v", size, err)
			}
			leaf, err := tlog.ParseHash(p.LeafHash)
			if err != nil {
				fail("leafHash: %v", err)
			}
			stored, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
			if err != nil || stored[0] != leaf {
				fail("/v1/log/proof leafHash of %d is not the tile's", index)
			}
			proof := make(tlog.RecordProof, len(p.Proof))
			for i, text := range p.Proof {
				if proof[i], err = tlog.ParseHash(text); err != nil {
					fail("proof hash: %v", err)
				}
			}
			if err := tlog.CheckRecord(proof, size, th, index, leaf); err != nil {
				fail("tlog.CheckRecord of runprint's proof index %d size %d: %v", index, size, err)
			}
			checked++
		}
	}
	fmt.Printf("ok tlog.CheckRecord accepts %d inclusion proofs from /v1/log/proof\n", checked)

	if *oldFile != "" {
		text, err := os.ReadFile(*oldFile)
		if err != nil {
			fail("read -old: %v", err)
		}
		old := openCheckpoint(verifier, text, "older checkpoint")
		if old.N > tree.N {
			fail("the log shrank from %d to %d entries", old.N, tree.N)
		}
		proof, err := tlog.ProveTree(tree.N, old.N, reader)
		if err != nil {
			fail("tlog.ProveTree %d -> %d: %v", old.N, tree.N, err)
		}
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
			fail("tlog.CheckTree %d -> %d: %v", old.N, tree.N, err)
		}
		fmt.Printf("ok tlog.CheckTree: the signed checkpoint of %d is consistent with the signed checkpoint of %d\n", old.N, tree.N)
		// The older tree's own (narrower) partial tiles are still served and authenticate against it.
		oldTiles := &httpTiles{cache: map[string][]byte{}}
		oldRoot, err := tlog.TreeHash(old.N, tlog.TileHashReader(old, oldTiles))
		if err != nil || oldRoot != old.Hash {
			fail("tlog.TreeHash of the older tree from its own tiles: %v", err)
		}
		for _, t := range widest(old.N) {
			want, err := tlog.ReadTileData(t, memory)
			if err != nil {
				fail("tlog.ReadTileData %s: %v", c2spPath(t), err)
			}
			if got := mustGet(c2spPath(t)); string(got) != string(want) {
				fail("served tile %s of the older tree is not the one tlog computes", c2spPath(t))
			}
		}
		fmt.Printf("ok the older tree's tiles (%d, partial ones at their old widths) are still served and give its signed root\n", len(widest(old.N)))
	}
	fmt.Printf("tree %d %s\n", tree.N, tree.Hash)
}
