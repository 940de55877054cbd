"""MFCC features in plain torch, matching torchaudio's ``MFCC`` as NeuroBench's M5 baseline calls it.

NeuroBench (``examples/mswc_fscil``) uses, at 48 kHz::

    MFCC(sample_rate=48000, n_mfcc=20,
         melkwargs=dict(n_fft=512, n_mels=20, hop_length=240, mel_scale="htk", f_min=20, f_max=4000))

which is, step by step (torchaudio defaults filled in):

1. power spectrogram: periodic Hann window of n_fft, ``center=True`` with reflect padding of n_fft/2,
   hop h, one-sided, ``P[f, m] = |Σ_n w[n] x[m·h + n − n_fft/2] e^{−2πi f n / n_fft}|²``;
   frames = 1 + ⌊L / h⌋ (201 for L = 48000, h = 240).
2. mel energies ``E[j, m] = Σ_f B[f, j] P[f, m]`` with triangular filters B on the HTK scale
   ``mel(f) = 2595·log10(1 + f/700)``: n_mels + 2 points equally spaced in mel from f_min to f_max,
   filter j rising from point j to j+1 and falling to j+2 (no area normalisation).
3. decibels ``D = 10·log10(max(E, 1e-10))``, floored at ``max(D) − 80`` (top_db = 80) per clip.
   torchaudio takes that max over the channel, mel and time axes of one item; NeuroBench feeds
   ``[B, 1, L]`` so the floor is per clip, as here.
4. orthonormal DCT-II over the mel axis:
   ``c[k, m] = s_k Σ_j D[j, m] cos(π k (j + ½) / n_mels)``, s_0 = √(1/n_mels), s_k = √(2/n_mels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nsb.errors import DataError


@dataclass(frozen=True)
class MFCCConfig:
    sample_rate: int = 48000
    n_mfcc: int = 20
    n_mels: int = 20
    n_fft: int = 512
    hop_length: int = 240
    f_min: float = 20.0
    f_max: float = 4000.0
    top_db: float = 80.0

    @classmethod
    def for_rate(cls, sample_rate: int) -> MFCCConfig:
        """NeuroBench's settings kept in seconds (5 ms hop, ≈10.7 ms window) at another rate."""
        hop = max(1, round(sample_rate * 240 / 48000))
        n_fft = 1 << max(3, math.ceil(math.log2(sample_rate * 512 / 48000)))
        return cls(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, f_max=min(4000.0, sample_rate / 2))

    def frames(self, samples: int) -> int:
        return 1 + samples // self.hop_length


def hz_to_mel(f: Tensor | float) -> Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_to_hz(m: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int) -> Tensor:
    """Triangular HTK filters ``B [n_freqs, n_mels]`` (torchaudio's ``melscale_fbanks``, norm=None)."""
    freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)
    pts = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2, dtype=torch.float64))
    width = pts[1:] - pts[:-1]
    slopes = pts.unsqueeze(0) - freqs.unsqueeze(1)  # [n_freqs, n_mels + 2]
    down = -slopes[:, :-2] / width[:-1]
    up = slopes[:, 2:] / width[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0).float()


def dct_matrix(n_mfcc: int, n_mels: int) -> Tensor:
    """Orthonormal DCT-II as ``[n_mels, n_mfcc]`` (columns are basis vectors)."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64).unsqueeze(1)
    dct = torch.cos(math.pi / n_mels * (n + 0.5) * k)
    dct[0] *= 1.0 / math.sqrt(2.0)
    dct *= math.sqrt(2.0 / n_mels)
    return dct.t().float()


class MFCC(nn.Module):
    """Waveforms ``[B, L]`` or ``[B, L, 1]`` (NeuroBench's item layout) → MFCC ``[B, n_mfcc, frames]``."""

    def __init__(self, config: MFCCConfig = MFCCConfig()) -> None:
        super().__init__()
        if config.f_max > config.sample_rate / 2:
            raise DataError(f"MFCC f_max {config.f_max} Hz is above the Nyquist frequency of {config.sample_rate} Hz")
        self.config = config
        self.register_buffer("window", torch.hann_window(config.n_fft, periodic=True), persistent=False)
        self.register_buffer("mel", mel_filterbank(config.n_fft // 2 + 1, config.f_min, config.f_max, config.n_mels,
                                                   config.sample_rate), persistent=False)
        self.register_buffer("dct", dct_matrix(config.n_mfcc, config.n_mels), persistent=False)

    def mel_db(self, wave: Tensor) -> Tensor:
        """Log-mel energies ``[B, n_mels, frames]`` in dB, floored at top_db below each clip's max."""
        c = self.config
        if wave.dim() == 3 and wave.shape[-1] == 1:
            wave = wave[..., 0]
        if wave.dim() != 2:
            raise DataError(f"MFCC expects waveforms [B, L] or [B, L, 1], got shape {tuple(wave.shape)}")
        if wave.shape[1] <= c.n_fft // 2:
            raise DataError(f"clips of {wave.shape[1]} samples are too short for n_fft={c.n_fft} (reflect padding)")
        spec = torch.stft(wave.float(), c.n_fft, hop_length=c.hop_length, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True).abs().pow(2)  # [B, F, M]
        energy = torch.einsum("bfm,fj->bjm", spec, self.mel)
        db = 10.0 * torch.log10(energy.clamp(min=1e-10))
        floor = db.amax(dim=(1, 2), keepdim=True) - c.top_db
        return torch.maximum(db, floor)

    def forward(self, wave: Tensor) -> Tensor:
        return torch.einsum("bjm,jk->bkm", self.mel_db(wave), self.dct)
