// Command runprint-sumdb-interop checks a runprint log directory with the Go checksum database's own
// packages only (golang.org/x/mod/sumdb/note and sumdb/tlog): the signed checkpoints open with the
// log's verifier key, the tiles give the signed tree head through tlog's reader, every entry in the
// entry bundles hashes to its level-0 tile hash, and runprint's inclusion and consistency proofs
// verify (and equal the ones tlog computes itself).
//
// Usage: runprint-sumdb-interop DIR
//
// DIR holds: vkey, checkpoint, checkpoint.old (signed notes), tile/... and tile/entries/... as
// C2SP tlog-tiles lays them out, and proofs.json. It prints one line per check and exits 1 on
// the first failure.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type proofs struct {
	Inclusion []struct {
		Index int64    `json:"index"`
		Size  int64    `json:"size"`
		Proof []string `json:"proof"`
	} `json:"inclusion"`
	Consistency []struct {
		OldSize int64    `json:"oldSize"`
		NewSize int64    `json:"newSize"`
		Proof   []string `json:"proof"`
	} `json:"consistency"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func read(dir, name string) []byte {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		fail("read %s: %v", name, err)
	}
	return data
}

// c2spPath turns the Go sumdb tile path (tile/8/L/N, tile/8/data/N) into the C2SP tlog-tiles one
// (tile/L/N, tile/entries/N): the same layout without the tile height.
func c2spPath(t tlog.Tile) string {
	path := strings.TrimPrefix(t.Path(), "tile/8/")
	if strings.HasPrefix(path, "data/") {
		path = "entries/" + strings.TrimPrefix(path, "data/")
	}
	return "tile/" + path
}

type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }
func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(c2spPath(t))))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}
func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// openCheckpoint opens a signed checkpoint with the log's key and reads its three lines.
func openCheckpoint(verifier note.Verifier, text []byte) tlog.Tree {
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" || lines[0] != verifier.Name() {
		fail("checkpoint text is not origin, size, root hash: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	hash, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint root hash: %v", err)
	}
	fmt.Printf("ok note.Open checkpoint size %d (%d signatures, %d verified)\n", size, len(n.Sigs)+len(n.UnverifiedSigs), len(n.Sigs))
	return tlog.Tree{N: size, Hash: hash}
}

func hashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, text := range list {
		hash, err := tlog.ParseHash(text)
		if err != nil {
			fail("proof hash: %v", err)
		}
		out[i] = hash
	}
	return out
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: runprint-sumdb-interop DIR")
	}
	dir := os.Args[1]
	verifier, err := note.NewVerifier(strings.TrimSpace(string(read(dir, "vkey"))))
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	tree := openCheckpoint(verifier, read(dir, "checkpoint"))
	oldTree := openCheckpoint(verifier, read(dir, "checkpoint.old"))

	// Tiles, read through TileHashReader against the signed tree head. (Debian's x/mod 0.7.0 reader
	// leaves some full tiles unchecked against their parents; the entry check below still catches a
	// damaged level-0 tile, see README.md.)
	reader := tlog.TileHashReader(tree, dirTiles{dir})
	root, err := tlog.TreeHash(tree.N, reader)
	if err != nil || root != tree.Hash {
		fail("tlog.TreeHash from runprint tiles: %v", err)
	}
	fmt.Printf("ok tlog.TileHashReader + TreeHash: runprint tiles give the signed root of %d\n", tree.N)
	// NewTiles lists every partial width a growing log passes through; a C2SP log serves only the
	// widest (current) one of each tile.
	var tiles []tlog.Tile
	all := tlog.NewTiles(8, 0, tree.N)
	for i, t := range all {
		if i+1 < len(all) && all[i+1].L == t.L && all[i+1].N == t.N {
			continue
		}
		tiles = append(tiles, t)
	}
	for _, t := range tiles {
		want, err := tlog.ReadTileData(t, reader)
		if err != nil {
			fail("tlog.ReadTileData %s: %v", t.Path(), err)
		}
		got := read(dir, c2spPath(t))
		if string(got) != string(want) {
			fail("tile %s differs from tlog.ReadTileData", c2spPath(t))
		}
	}
	fmt.Printf("ok tlog.ReadTileData equals runprint's %d tiles byte for byte\n", len(tiles))

	// Entry bundles: uint16 big-endian length-prefixed entries; each hashes to its leaf hash.
	var count int64
	for _, t := range tiles {
		if t.L != 0 {
			continue
		}
		data := tlog.Tile{H: 8, L: -1, N: t.N, W: t.W}
		bundle := read(dir, c2spPath(data))
		for i := 0; i < t.W; i++ {
			if len(bundle) < 2 {
				fail("entry bundle %s is short", c2spPath(data))
			}
			length := int(binary.BigEndian.Uint16(bundle))
			if len(bundle) < 2+length {
				fail("entry bundle %s is short", c2spPath(data))
			}
			entry := bundle[2 : 2+length]
			bundle = bundle[2+length:]
			index := t.N*256 + int64(i)
			stored, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
			if err != nil || stored[0] != tlog.RecordHash(entry) {
				fail("entry %d does not hash to its tile hash", index)
			}
			count++
		}
		if len(bundle) != 0 {
			fail("entry bundle %s has trailing bytes", c2spPath(data))
		}
	}
	if count != tree.N {
		fail("entry bundles hold %d entries, the tree %d", count, tree.N)
	}
	fmt.Printf("ok %d entries in runprint entry bundles match tlog.RecordHash of their tile hashes\n", count)

	var p proofs
	if err := json.Unmarshal(read(dir, "proofs.json"), &p); err != nil {
		fail("proofs.json: %v", err)
	}
	for _, c := range p.Inclusion {
		th, err := tlog.TreeHash(c.Size, reader)
		if err != nil {
			fail("tlog.TreeHash(%d): %v", c.Size, err)
		}
		leaf, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, c.Index)})
		if err != nil {
			fail("leaf %d: %v", c.Index, err)
		}
		proof := tlog.RecordProof(hashes(c.Proof))
		if err := tlog.CheckRecord(proof, c.Size, th, c.Index, leaf[0]); err != nil {
			fail("tlog.CheckRecord index %d size %d: %v", c.Index, c.Size, err)
		}
		own, err := tlog.ProveRecord(c.Size, c.Index, reader)
		if err != nil || fmt.Sprint(own) != fmt.Sprint(proof) {
			fail("tlog.ProveRecord index %d size %d differs from runprint's proof", c.Index, c.Size)
		}
	}
	fmt.Printf("ok tlog.CheckRecord accepts %d runprint inclusion proofs, each equal to tlog.ProveRecord\n", len(p.Inclusion))
	for _, c := range p.Consistency {
		oldHash, err1 := tlog.TreeHash(c.OldSize, reader)
		newHash, err2 := tlog.TreeHash(c.NewSize, reader)
		if err1 != nil || err2 != nil {
			fail("tlog.TreeHash: %v %v", err1, err2)
		}
		proof := tlog.TreeProof(hashes(c.Proof))
		if err := tlog.CheckTree(proof, c.NewSize, newHash, c.OldSize, oldHash); err != nil {
			fail("tlog.CheckTree %d -> %d: %v", c.OldSize, c.NewSize, err)
		}
		own, err := tlog.ProveTree(c.NewSize, c.OldSize, reader)
		if err != nil || fmt.Sprint(own) != fmt.Sprint(proof) {
			fail("tlog.ProveTree %d -> %d differs from runprint's proof", c.OldSize, c.NewSize)
		}
	}
	fmt.Printf("ok tlog.CheckTree accepts %d runprint consistency proofs, each equal to tlog.ProveTree\n", len(p.Consistency))

	// The two signed checkpoints are consistent: the older one's root, read from the newer tiles.
	oldHash, err := tlog.TreeHash(oldTree.N, reader)
	if err != nil || oldHash != oldTree.Hash {
		fail("the older signed checkpoint is not a prefix of the newer tree")
	}
	fmt.Printf("ok the signed checkpoint of %d is a prefix of the signed checkpoint of %d\n", oldTree.N, tree.N)
}
