"""PNG plots of training and evaluation (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: plots are files
    import matplotlib.pyplot as plt

    return plt


def plot_losses(curves: dict[str, list[float]], path: Path, tokens: dict[str, list[int]] | None = None) -> None:
    """Training loss per step for each named run; with `tokens`, a second panel against training tokens.

    Loss against tokens compares compute: a run that converges on fewer tokens is cheaper.
    """
    plt = _pyplot()
    panels = 2 if tokens else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    for name, losses in curves.items():
        axes[0][0].plot(range(1, len(losses) + 1), losses, marker=".", label=name)
        if tokens:
            axes[0][1].plot(tokens[name], losses, marker=".", label=name)
    axes[0][0].set_xlabel("step")
    if tokens:
        axes[0][1].set_xlabel("training tokens")
    for ax in axes[0]:
        ax.set_ylabel("training loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy(labels: list[str], accuracy: list[float], path: Path, reference: dict[str, float]) -> None:
    """One bar per ablation cell, with the reference models (baseline, untuned base) as dashed lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(labels)), 4))
    ax.bar(labels, accuracy, color="tab:blue")
    for (name, value), style in zip(reference.items(), ("--", ":", "-."), strict=False):
        ax.axhline(value, linestyle=style, color="black", label=f"{name} ({value:.2f})")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", labelrotation=30)
    if reference:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
