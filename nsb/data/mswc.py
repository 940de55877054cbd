"""Multilingual Spoken Words, NeuroBench's keyword FSCIL subset (200 keywords, 15 languages).

Layout (``NeuroBench/mswc_fscil_subset`` on Hugging Face, ``mswc_fscil.tar.gz``, about 650 MB),
under ``root/MSWC`` or ``root``::

    base_train.csv  base_val.csv  base_test.csv     rows "path,word,lang" (header "PATH,WORD,LANG")
    <lang>/evaluation.csv                             the same columns, ordered class by class
    <lang>/clips/<path>                               one clip per row, 48 kHz Opus

* 100 base classes (en, fr, ca, de, rw; 20 words each): 500 train / 100 val / 100 test clips each.
* 100 evaluation classes (fa, eo, pt, eu, pl, cy, nl, ru, es, it; 10 words each): 200 clips each;
  the FSCIL protocol takes its support pool from the first 100 and its queries from the last 100.

Labels are the word's index in NeuroBench's ``FSCIL_KEYWORDS`` order (base words 0–99, language by
language, then the evaluation words 100–199). An item is ``(waveform [48000, 1] float32, label)``:
the clip padded with zeros or cut to 1 s, NeuroBench's layout.

Audio formats. The release is Opus, which neither the standard library nor numpy decodes; for
each row we read, in this order, a sibling ``.wav`` (PCM 8/16/24/32-bit, any rate, mixed to mono
and linearly resampled to 48 kHz; NeuroBench also hosts 16 kHz WAVs) or ``.npy`` (float samples
``[L]`` or ``[L, 1]`` at 48 kHz, e.g. decoded once with ffmpeg or torchaudio). An Opus clip with
neither sibling raises a :class:`DataError` with the ffmpeg line that converts it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from nsb.data import files
from nsb.data.common import TaskData
from nsb.errors import DataError

URL = "https://huggingface.co/datasets/NeuroBench/mswc_fscil_subset/resolve/main/mswc_fscil.tar.gz"
SAMPLE_RATE = 48000
CLIPS = "clips"
BASE_LANGUAGES = ("en", "fr", "ca", "de", "rw")
EVAL_LANGUAGES = ("fa", "eo", "pt", "eu", "pl", "cy", "nl", "ru", "es", "it")
SPLITS = ("train", "val", "test")
HOW = ("run `python -c \"from nsb.data import mswc; mswc.download('DIR')\"` on a machine with a network, "
       f"or fetch {URL} and unpack it there")

# NeuroBench's class order (its FSCIL_KEYWORDS), grouped by language; a word's label is its index
# in the concatenation. Words are matched after _normal() so apostrophes and zero-width joiners
# written differently by other tools still match.
FSCIL_KEYWORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "surrounding", "appearance", "collection", "subsequently", "experience", "previously",
        "professional", "immediately", "independent", "successful", "traditional", "development",
        "international", "established", "information", "instruments", "construction", "performance",
        "university", "significant",
    ),
    "fr": (
        "nombreuses", "l’amendement", "nationale", "défavorable", "toutefois", "professeur",
        "française", "commission", "actuellement", "politique", "territoire", "aujourd’hui",
        "gouvernement", "rapidement", "notamment", "troisième", "plusieurs", "maintenant",
        "personnes", "cinquante",
    ),
    "ca": (
        "tanmateix", "superior", "catalunya", "finalment", "treballar", "qualsevol",
        "principalment", "rectangular", "important", "mitjançant", "president", "finestres",
        "caràcter", "diferents", "programari", "obertures", "posteriorment", "barcelona",
        "importants", "informació",
    ),
    "de": (
        "allerdings", "arbeitete", "deutschland", "schließlich", "verheiratet", "vielleicht",
        "verschiedene", "bezeichnet", "gleichzeitig", "parlament", "unternehmen", "entwicklung",
        "europäischen", "zahlreiche", "geschichte", "verwendet", "anschließend", "hauptstadt",
        "errichtet", "eigentlich",
    ),
    "rw": (
        "amahirwe", "umutekano", "gukomeza", "amafaranga", "abanyarwanda", "urubyiruko",
        "n’abandi", "ashobora", "umuryango", "abayobozi", "w’umupira", "perezida",
        "umukinnyi", "gitaramo", "w’amaguru", "abaturage", "amashusho", "minisitiri",
        "indirimbo", "bitandukanye",
    ),
    "fa": (
        "میخواستم", "امیدوارم", "تلویزیون", "آپارتمان", "بینالمللی", "بنابراین",
        "اسفندیار", "پرسپولیس", "بفرمایید", "میتوانند",
    ),
    "eo": (
        "demandis", "respondis", "sinjorino", "rigardis", "fernando", "ankoraŭ",
        "beatrico", "troviĝas", "ekzistas", "esperanto",
    ),
    "pt": (
        "enquanto", "correndo", "olhando", "dinheiro", "vestindo", "segurando",
        "crianças", "mulheres", "trabalho", "cachorro",
    ),
    "eu": (
        "bakarrik", "ezagutzen", "hizkuntza", "horregatik", "bitartean", "erabiltzen",
        "horrelako", "gertatzen", "eskatzen", "batzuetan",
    ),
    "pl": (
        "podlasiak", "zupełnie", "odpowiedział", "dziwożona", "jednoręki", "widocznie",
        "powiedział", "spojrzał", "człowiek", "wszystkich",
    ),
    "cy": (
        "gobeithio", "newyddion", "wybodaeth", "ddigwyddodd", "eisteddfod", "genedlaethol",
        "gwasanaeth", "gwahaniaeth", "ffrindiau", "gerddoriaeth",
    ),
    "nl": (
        "gezien", "iedereen", "tussen", "kinderen", "tijdens", "worden",
        "hoeveel", "kunnen", "nieuwe", "gemaakt",
    ),
    "ru": (
        "приверженность", "действительно", "сотрудничества", "необходимость", "деятельности", "правительства",
        "поблагодарить", "представителю", "международного", "ответственность",
    ),
    "es": (
        "comunicación", "arquitectura", "completamente", "continuación", "departamento", "internacional",
        "especialmente", "posteriormente", "investigación", "generalmente",
    ),
    "it": (
        "particolare", "territorio", "campionato", "importante", "capoluogo", "nonostante",
        "attraverso", "posizione", "soprattutto", "produzione",
    ),
}
KEYWORDS: tuple[str, ...] = tuple(w for words in FSCIL_KEYWORDS.values() for w in words)
NUM_BASE = sum(len(FSCIL_KEYWORDS[lang]) for lang in BASE_LANGUAGES)


def _normal(word: str) -> str:
    word = unicodedata.normalize("NFC", word.strip()).replace("\u2019", "'")
    return "".join(ch for ch in word if ch not in "\u200b\u200c\u200d\ufeff").casefold()


INDEX = {_normal(w): i for i, w in enumerate(KEYWORDS)}


@dataclass
class Options:
    clip_seconds: float = 1.0  # every clip padded with zeros or cut to this length
    languages: tuple[str, ...] = EVAL_LANGUAGES  # evaluation languages to load (each one a session)


@dataclass
class KeywordData:
    """What the FSCIL protocol needs; the synthetic stand-in returns the same.

    ``incremental`` maps a group (a language) to a dataset whose items run class by class: all clips
    of one class, then the next; the protocol splits each class into support and query pools.
    """

    base_train: Dataset
    base_test: Dataset
    incremental: dict[str, Dataset]
    class_names: list[str]
    num_base: int
    sample_rate: int
    base_val: Dataset | None = None
    info: dict = field(default_factory=dict)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """PCM WAV → (mono float32 samples in [−1, 1], sample rate), with the standard library."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as err:
        raise DataError(f"{path} is not a PCM WAV file that Python's wave module reads ({err}); "
                        f"re-encode it as 16-bit PCM: ffmpeg -i IN -ar 48000 -ac 1 -c:a pcm_s16le {path.name}") from None
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    else:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    return x.reshape(-1, channels).mean(axis=1), rate


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear interpolation onto the target grid (not band-limited; fine for 16 → 48 kHz upsampling)."""
    if rate == target or len(x) == 0:
        return x
    n = int(round(len(x) * target / rate))
    return np.interp(np.arange(n) * (rate / target), np.arange(len(x)), x).astype(np.float32)


def read_clip(path: Path, length: int) -> torch.Tensor:
    """One clip → ``[length, 1]`` float32 at 48 kHz, trying ``path``, then .wav and .npy siblings."""
    candidates = [path] if path.suffix in (".wav", ".npy") else []
    candidates += [path.with_suffix(".wav"), path.with_suffix(".npy")]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        if path.is_file():
            raise DataError(f"{path}: {path.suffix or 'this'} audio cannot be decoded without torchaudio/ffmpeg; "
                            f"convert it next to itself: ffmpeg -i {path.name} -ar 48000 -ac 1 {path.stem}.wav "
                            f"(or use NeuroBench's WAV release)")
        raise DataError(f"clip {path} not found (nor .wav/.npy beside it); the MSWC folder is incomplete, {HOW}")
    if found.suffix == ".npy":
        try:
            x = np.load(found, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise DataError(f"{found} is not a readable .npy array ({err})") from None
        if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)) or not np.issubdtype(x.dtype, np.floating):
            raise DataError(f"{found} must hold float mono samples [L] or [L, 1] at 48 kHz, "
                            f"got {x.dtype} {tuple(x.shape)}")
        x = x.reshape(-1).astype(np.float32)
    else:
        x, rate = read_wav(found)
        x = resample(x, rate, SAMPLE_RATE)
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(x))] = x[:length]
    return torch.from_numpy(out).unsqueeze(1)


class Clips(Dataset):
    """Rows ``(audio path, label)`` read lazily; ``labels`` lets the protocol pick clips per class."""

    def __init__(self, rows: list[tuple[Path, int]], length: int) -> None:
        self.rows = rows
        self.labels = [label for _, label in rows]
        self.length = length

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.rows[i]
        return read_clip(path, self.length), label


def read_split(csv_path: Path, folder: Path, length: int) -> Clips:
    """A split CSV (path, word, lang) → clips under ``folder/<lang>/clips``; unknown words are refused."""
    rows: list[tuple[Path, int]] = []
    files.check_file(csv_path, "a split list (path,word,lang rows)", HOW)
    try:
        text = csv_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{csv_path} is not UTF-8 text (byte {err.start}); it is not an MSWC split list, {HOW}") from None
    if "\x00" in text:
        raise DataError(f"{csv_path} is a binary file (it holds NUL bytes), not an MSWC split list; {HOW}")
    for n, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not record or (n == 1 and record[0].strip().lower() == "path"):
            continue
        if len(record) != 3:
            raise DataError(f"{csv_path}:{n}: expected 3 columns path,word,lang, got {len(record)}: {record!r}")
        rel, word, lang = (r.strip() for r in record)
        if lang not in FSCIL_KEYWORDS or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise DataError(f"{csv_path}:{n}: '{rel}' in language '{lang}' does not name a clip inside "
                            f"<lang>/clips/ of one of the 15 MSWC FSCIL languages; {HOW}")
        if _normal(word) not in INDEX:
            raise DataError(f"{csv_path}:{n}: '{word}' is not one of NeuroBench's 200 FSCIL keywords; "
                            f"this is not the mswc_fscil subset")
        rows.append((folder / lang / CLIPS / rel, INDEX[_normal(word)]))
    if not rows:
        raise DataError(f"{csv_path} lists no clips; the download is incomplete, {HOW}")
    return Clips(rows, length)


def dataset_folder(root: Path) -> Path:
    where = [root / "MSWC", root]
    for folder in where:
        if (folder / "base_train.csv").exists():
            return folder
    raise files.missing("MSWC FSCIL", where, ["base_train.csv", "base_test.csv",
                                              "<lang>/evaluation.csv", "<lang>/clips/"], HOW)


def load_fscil(root: Path | str, options: Options | None = None) -> KeywordData:
    """The base splits and one evaluation set per language, ready for :mod:`nsb.tasks.fscil.protocol`."""
    options = options or Options()
    folder = dataset_folder(Path(root).expanduser())
    length = int(round(options.clip_seconds * SAMPLE_RATE))
    splits = {}
    for s in SPLITS:
        path = folder / f"base_{s}.csv"
        if path.exists():
            splits[s] = read_split(path, folder, length)
        elif s != "val":
            raise files.missing("MSWC FSCIL", [folder], [path.name], HOW)
    incremental = {}
    for lang in options.languages:
        if lang not in EVAL_LANGUAGES:
            raise DataError(f"'{lang}' is not an MSWC FSCIL evaluation language; choose from {', '.join(EVAL_LANGUAGES)}")
        path = folder / lang / "evaluation.csv"
        if not path.exists():
            raise files.missing("MSWC FSCIL", [folder / lang], ["evaluation.csv"], HOW)
        incremental[lang] = read_split(path, folder, length)
    for name, clips in [("base", splits["train"])] + list(incremental.items()):
        bad = [KEYWORDS[c] for c in set(clips.labels) if (c < NUM_BASE) != (name == "base")]
        if bad:
            raise DataError(f"{folder}: {name} split holds words of the other subset ({', '.join(sorted(bad)[:3])}); "
                            f"base_*.csv must list base words only and <lang>/evaluation.csv evaluation words only")
    return KeywordData(base_train=splits["train"], base_test=splits["test"], base_val=splits.get("val"),
                       incremental=incremental, class_names=list(KEYWORDS), num_base=NUM_BASE,
                       sample_rate=SAMPLE_RATE, info={"folder": str(folder)})


def load(options: Options, root: Path, seed: int) -> TaskData:
    """Registry form: the base classes as a plain classification task (raw 48 kHz waveforms ``[L, 1]``);
    the full FSCIL data is in ``info["fscil"]``."""
    data = load_fscil(root, options)
    length = int(round(options.clip_seconds * SAMPLE_RATE))
    return TaskData("classification", data.base_train, data.base_test, valid=data.base_val, input_size=1,
                    num_classes=data.num_base, time_steps=length, info={"fscil": data, "folder": data.info["folder"]})


def _safe_extract(archive: Path, target: Path) -> None:
    """Unpack a tar.gz refusing members that would land outside ``target`` (absolute paths, ``..``, links)."""
    import tarfile

    import gzip
    import tarfile
    import zlib

    target = target.resolve()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()  # reads the whole archive: a damaged one fails here, before anything is written
            for member in members:
                dest = (target / member.name).resolve()
                if target not in dest.parents and dest != target or member.issym() or member.islnk() \
                        or not (member.isfile() or member.isdir()):
                    raise DataError(f"{archive}: refusing unsafe member '{member.name}'; download it again")
            for member in members:
                tar.extract(member, target)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        reason = str(err).splitlines()[0][:100] if str(err) else type(err).__name__
        raise DataError(f"{archive} is a corrupt or truncated tar.gz archive ({reason}); delete it and download "
                        "it again") from None


def download(root: Path | str) -> None:
    """Fetch and unpack ``mswc_fscil.tar.gz`` into ``root`` (giving ``root/MSWC/...``); skip if present."""
    root = Path(root).expanduser()
    if (root / "MSWC" / "base_train.csv").is_file():
        return
    archive = root / "mswc_fscil.tar.gz"
    if not archive.is_file():
        files.download(URL, archive)
    _safe_extract(archive, root)
    if not (root / "MSWC" / "base_train.csv").is_file():
        raise DataError(f"{archive} unpacked but {root / 'MSWC' / 'base_train.csv'} is missing; the archive changed "
                        f"layout, unpack it by hand so that MSWC/base_train.csv exists")
    archive.unlink()
