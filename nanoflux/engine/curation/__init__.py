"""Curation: which rounds become examples (clean of benchmarks, reference verified, in the band, novel), and a
person's review decisions. It reads journal records; it runs no round and writes no dataset."""
