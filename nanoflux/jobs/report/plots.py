"""PNG plots of training and evaluation (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: plots are files
    import matplotlib.pyplot as plt

    return plt


def plot_losses(curves: dict[str, list[float]], path: Path, tokens: dict[str, list[int]] | None = None,
                rewards: dict[str, list[float]] | None = None) -> None:
    """Training loss per step for each named run; with `tokens`, a panel against training tokens; with
    `rewards` (GRPO's mean reward per step), a panel of those.

    Loss against tokens compares compute: a run that converges on fewer tokens is cheaper.
    """
    plt = _pyplot()
    panels = [("step", "training loss")] + ([("training tokens", "training loss")] if tokens else []) \
        + ([("step", "mean reward")] if rewards else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for name, losses in curves.items():
        axes[0][0].plot(range(1, len(losses) + 1), losses, marker=".", label=name)
        if tokens:
            axes[0][1].plot(tokens[name], losses, marker=".", label=name)
    for name, values in (rewards or {}).items():
        axes[0][-1].plot(range(1, len(values) + 1), values, marker=".", label=name)
    for ax, (xlabel, ylabel) in zip(axes[0], panels, strict=True):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
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
