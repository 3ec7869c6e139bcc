"""The sympy, genomics and units tools compute what a judge would otherwise trust a model for."""

import pytest

from nanoflux.base.errors import NanofluxError
from nanoflux.tools import sympy as algebra
from nanoflux.verify import genomics, units


def test_sympy_solves_simplifies_and_compares():
    assert algebra.solve_equation("x^2 - 5x + 6 = 0") == ["2", "3"]
    assert algebra.solve_equation("2*t - 8", variable="t") == ["4"]
    assert algebra.simplify_expression("(x^2 - 1)/(x - 1)") == "x + 1"
    assert algebra.expressions_equal("\\frac{a^3+2b}{3a}", "(2*b + a**3)/(3*a)")["equal"] is True
    assert algebra.expressions_equal("x^2", "2x")["equal"] is False


def test_sympy_refuses_what_it_cannot_parse():
    with pytest.raises(ValueError, match="could not"):
        algebra.simplify_expression("__import__('os')")


def test_reverse_complement_and_gc_content():
    assert genomics.reverse_complement("ATGCCG") == "CGGCAT"
    assert genomics.gc_content("ATGCCG") == pytest.approx(4 / 6)


def test_translation_follows_the_codon_table():
    assert genomics.translate("ATGGCCTAA") == "MA*"
    assert genomics.translate("ATGGCCTAA", to_stop=True) == "MA"
    assert genomics.translate("ATGTGA") == "M*"
    assert genomics.translate("ATGTGA", table=2) == "MW"  # TGA is tryptophan in vertebrate mitochondria
    with pytest.raises(ValueError, match="codon table"):
        genomics.translate("ATG", table=99)


def test_orfs_are_found_on_both_strands_with_forward_coordinates():
    forward = "CCATGAAACCCGGGTTTTAGCC"
    (orf,) = genomics.find_orfs(forward, min_protein_length=3)
    assert orf == {"strand": 1, "frame": 2, "start": 2, "end": 20, "protein": "MKPGF"}
    (reverse,) = genomics.find_orfs(genomics.reverse_complement(forward), min_protein_length=3)
    assert reverse["strand"] == -1 and reverse["protein"] == "MKPGF" and (reverse["start"], reverse["end"]) == (2, 20)


def test_a_non_dna_sequence_is_refused():
    with pytest.raises(ValueError, match="nucleotide"):
        genomics.gc_content("ATG-XYZ")


def test_hardy_weinberg_frequencies():
    assert genomics.hardy_weinberg(0.7) == {"p": 0.7, "q": 0.3, "AA": 0.49, "Aa": 0.42, "aa": 0.09}
    with pytest.raises(ValueError):
        genomics.hardy_weinberg(1.5)


def test_punnett_ratios_for_monohybrid_and_dihybrid_crosses():
    mono = genomics.punnett_ratios("Aa", "Aa")
    assert mono["genotypes"] == {"AA": "1/4", "Aa": "1/2", "aa": "1/4"}
    assert mono["phenotypes"] == {"A_": "3/4", "aa": "1/4"} and mono["phenotype_ratio"] == "3:1"
    assert genomics.punnett_ratios("AaBb", "AaBb")["phenotype_ratio"] == "9:3:3:1"
    assert genomics.punnett_ratios("AaBb", "aabb")["phenotype_ratio"] == "1:1:1:1"
    with pytest.raises(ValueError, match="same genes"):
        genomics.punnett_ratios("Aa", "Bb")


def test_unit_conversion():
    assert units.convert_units(5, "mg/kg", "g/kg") == pytest.approx(0.005)
    assert units.convert_units(37, "degC", "degF") == pytest.approx(98.6)
    with pytest.raises(NanofluxError, match="dimensions differ"):
        units.convert_units(1, "kg", "m")
    with pytest.raises(NanofluxError, match="unknown unit"):
        units.convert_units(1, "furlongs per fortnight squared**999", "m")


def test_dose_arithmetic():
    assert units.weight_based_dose("5 mg/kg", "70 kg") == pytest.approx(350)
    assert units.weight_based_dose("5 mg/kg", "70 kg", unit="g") == pytest.approx(0.35)
    assert units.infusion_rate("5 ug/kg/min", "1600 ug/mL", "80 kg") == pytest.approx(15)
    assert units.infusion_rate("2 mg/min", "1 mg/mL") == pytest.approx(120)
    assert units.volume_for_dose("350 mg", "50 mg/mL") == pytest.approx(7)
    with pytest.raises(NanofluxError, match="not a number with a unit"):
        units.weight_based_dose("five mg/kg", "70 kg")
