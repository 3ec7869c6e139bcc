"""Genomics tools (Biopython and Mendelian arithmetic) the judge and agents use to check answers.

Genetics questions are easy to get subtly wrong by hand (a frame shift, the wrong codon table, a
2pq forgotten); these functions recompute them exactly. Ratios are returned as exact fractions.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from fractions import Fraction
from math import gcd

from Bio.Data import CodonTable
from Bio.Seq import Seq
from Bio.SeqUtils import gc_fraction

from .limits import MAX_GENES, MAX_SEQUENCE_CHARS

_DNA = re.compile(r"^[ACGTUNRYSWKMBDHV]*$")


def _sequence(sequence: str) -> Seq:
    if len(sequence) > MAX_SEQUENCE_CHARS:
        raise ValueError(f"sequence too long ({len(sequence)} characters > {MAX_SEQUENCE_CHARS})")
    s = "".join(sequence.split()).upper()
    if not _DNA.match(s):
        raise ValueError(f"not a nucleotide sequence (allowed: IUPAC codes): {sequence[:40]!r}")
    return Seq(s)


def reverse_complement(sequence: str) -> str:
    """Reverse complement of a DNA sequence, e.g. "ATGC" -> "GCAT"."""
    return str(_sequence(sequence).reverse_complement())


def translate(sequence: str, table: int = 1, to_stop: bool = False) -> str:
    """Protein translation of a coding sequence with an NCBI codon table id (1 standard, 2 vertebrate
    mitochondrial, 11 bacterial...); stops are '*' unless `to_stop` ends the protein at the first one."""
    if table not in CodonTable.unambiguous_dna_by_id:
        raise ValueError(f"unknown codon table {table}; NCBI ids are {sorted(CodonTable.unambiguous_dna_by_id)}")
    seq = _sequence(sequence)
    seq = seq[: len(seq) - len(seq) % 3]
    return str(seq.translate(table=table, to_stop=to_stop))


def gc_content(sequence: str) -> float:
    """Fraction of G and C bases (0 to 1), e.g. "ATGC" -> 0.5."""
    return float(gc_fraction(_sequence(sequence)))


def find_orfs(sequence: str, table: int = 1, min_protein_length: int = 30) -> list[dict]:
    """Open reading frames (ATG... to a stop) on both strands, longest first.

    Each ORF: strand (+1/-1), frame (0-2), start and end (0-based, end exclusive, on the forward
    strand), and its protein without the stop.
    """
    seq = _sequence(sequence)
    stops = set(CodonTable.unambiguous_dna_by_id[table].stop_codons)
    orfs, n = [], len(seq)
    for strand, strand_seq in ((1, seq), (-1, seq.reverse_complement())):
        s = str(strand_seq)
        for frame in range(3):
            start = None
            for i in range(frame, n - 2, 3):
                codon = s[i: i + 3]
                if start is None and codon == "ATG":
                    start = i
                elif start is not None and codon in stops:
                    protein = str(Seq(s[start:i]).translate(table=table))
                    if len(protein) >= min_protein_length:
                        lo, hi = (start, i + 3) if strand == 1 else (n - i - 3, n - start)
                        orfs.append({"strand": strand, "frame": frame, "start": lo, "end": hi, "protein": protein})
                    start = None
    return sorted(orfs, key=lambda orf: -len(orf["protein"]))


def hardy_weinberg(allele_frequency: float) -> dict[str, float]:
    """Genotype frequencies at equilibrium from the frequency p of allele A: AA=p², Aa=2pq, aa=q²."""
    p = allele_frequency
    if not 0 <= p <= 1:
        raise ValueError(f"an allele frequency is between 0 and 1, got {p}")
    q = 1 - p
    return {name: round(value, 12)
            for name, value in {"p": p, "q": q, "AA": p * p, "Aa": 2 * p * q, "aa": q * q}.items()}


def punnett_ratios(parent1: str, parent2: str) -> dict:
    """Offspring genotype and phenotype fractions of a cross with independent genes and complete
    dominance, e.g. ("Aa", "Aa") gives phenotypes 3:1 and ("AaBb", "AaBb") gives 9:3:3:1.

    Genotypes are letter pairs per gene (uppercase dominant), at most {MAX_GENES} genes: n genes give 3^n
    genotypes from 4^n gamete pairs. Fractions are exact strings ("9/16").
    """
    genes1, genes2 = _genes(parent1), _genes(parent2)
    if [g[0].upper() for g in genes1] != [g[0].upper() for g in genes2]:
        raise ValueError(f"the parents must list the same genes in the same order: {parent1!r} x {parent2!r}")
    genotypes: Counter = Counter()
    for gametes in itertools.product(*(itertools.product(a, b) for a, b in zip(genes1, genes2, strict=True))):
        genotypes["".join("".join(sorted(pair, key=lambda c: (c.lower(), c.islower()))) for pair in gametes)] += 1
    total = sum(genotypes.values())
    phenotypes: Counter = Counter()
    for genotype, count in genotypes.items():
        pairs = [genotype[i: i + 2] for i in range(0, len(genotype), 2)]
        phenotypes["".join(p[0].upper() + "_" if p[0].isupper() else p for p in pairs)] += count
    ordered = sorted(phenotypes.items(), key=lambda kv: (-kv[1], kv[0]))
    divisor = gcd(*phenotypes.values())
    return {
        "genotypes": {g: str(Fraction(c, total)) for g, c in sorted(genotypes.items())},
        "phenotypes": {p: str(Fraction(c, total)) for p, c in ordered},
        "phenotype_ratio": ":".join(str(c // divisor) for _, c in ordered),
    }


def _genes(genotype: str) -> list[str]:
    g = genotype.strip()
    if len(g) > 2 * MAX_GENES:
        raise ValueError(f"{genotype[:40]!r} has more than {MAX_GENES} gene pairs; a Punnett cross of n genes has 3^n "
                         f"genotypes, so this tool computes up to {MAX_GENES} (compute each gene apart: they are "
                         "independent, and their ratios multiply)")
    if not re.fullmatch(r"(?:[A-Za-z]{2})+", g) or any(g[i].upper() != g[i + 1].upper() for i in range(0, len(g), 2)):
        raise ValueError(f"a genotype is letter pairs per gene, like 'Aa' or 'AaBb'; got {genotype!r}")
    return [g[i: i + 2] for i in range(0, len(g), 2)]
