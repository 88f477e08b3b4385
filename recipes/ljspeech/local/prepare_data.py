"""Stage 1 of the LJSpeech recipe: split the corpus, write file lists, cache test-set mels.

    python local/prepare_data.py --db-root DIR --dump DIR --conf FILE
                                 [--n-valid N --n-test N --seed N]
                                 [--train-list F --valid-list F --test-list F]

Writes, under DUMP:

- `train.txt`, `valid.txt`, `test.txt`: Tacotron2-style file lists, one `wavs/<file>|<text>`
  line per utterance (paths relative to the corpus root), sorted by id;
- `mels/test/<id>.npy`: the full-utterance log-mel [n_mels, frames] float32 of every test
  utterance, computed with the mel settings of the config's `data:` section;
- `wav/test/<file>`: symbolic links to the test recordings (the reference folder that
  `waveflow evaluate` compares generated audio with).

The split is deterministic: `waveflow.audio.data.corpus.split_ljspeech` (ids sorted, shuffled with
`random.Random(seed)`, test first, then valid), with the sizes and seed of the config's
`data.n_valid`, `data.n_test` and `data.split_seed` unless given here (so `waveflow train` on
the same config without file lists trains on the same split). With the three --*-list
options the given lists (Tacotron2's `filelists/ljs_audio_text_*_filelist.txt`, or one id a
line) are used instead. Every output file is written atomically; re-running replaces them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-root", type=Path, required=True, help="LJSpeech-layout corpus")
    parser.add_argument("--dump", type=Path, required=True, help="output folder")
    parser.add_argument("--conf", type=Path, required=True, help="experiment YAML (mel settings)")
    parser.add_argument("--n-valid", type=int, help="default: the config's data.n_valid")
    parser.add_argument("--n-test", type=int, help="default: the config's data.n_test")
    parser.add_argument("--seed", type=int, help="default: the config's data.split_seed")
    parser.add_argument("--train-list", type=Path)
    parser.add_argument("--valid-list", type=Path)
    parser.add_argument("--test-list", type=Path)
    return parser.parse_args(argv)


def write_file_list(path: Path, utterances: list, root: Path) -> None:
    """Write `wavs/<file>|<text>` lines (paths relative to `root`) atomically."""
    from waveflow.atomic import atomic_write_text

    lines = [f"{u.path.relative_to(root).as_posix()}|{u.text}\n" for u in utterances]
    atomic_write_text(path, "".join(lines))


def link_references(utterances: list, folder: Path) -> None:
    """Make `folder` hold exactly one symbolic link per utterance, to its recording."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if stale.is_symlink() or stale.is_file():
            stale.unlink()
    for utterance in utterances:
        (folder / utterance.path.name).symlink_to(utterance.path.resolve())


def prepare(args: argparse.Namespace) -> None:
    from waveflow.audio.data.corpus import (
        prepare_mels,
        read_file_list,
        read_ljspeech_metadata,
        select_utterances,
        split_ljspeech,
    )
    from waveflow.errors import WaveflowError
    from waveflow.train.config import load_config

    data_cfg = load_config(args.conf).data
    mel_config = data_cfg.mel
    utterances = read_ljspeech_metadata(args.db_root)
    lists = (args.train_list, args.valid_list, args.test_list)
    if any(lists):
        if not all(lists):
            raise WaveflowError("give all three of --train-list, --valid-list and --test-list")
        train, valid, test = (select_utterances(utterances, read_file_list(f)) for f in lists)
    else:
        train, valid, test = split_ljspeech(
            utterances,
            data_cfg.n_valid if args.n_valid is None else args.n_valid,
            data_cfg.n_test if args.n_test is None else args.n_test,
            data_cfg.split_seed if args.seed is None else args.seed,
        )
    missing = [u.path for u in (*train, *valid, *test) if not u.path.is_file()]
    if missing:
        shown = ", ".join(str(path) for path in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise WaveflowError(f"{len(missing)} recording(s) listed in metadata.csv missing: {shown}")
    root = args.db_root
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        write_file_list(args.dump / f"{name}.txt", part, root)
    link_references(test, args.dump / "wav" / "test")
    written = prepare_mels([u.path for u in test], args.dump / "mels" / "test", mel_config)
    if len(written) != len(test):
        raise WaveflowError(f"only {len(written)} of {len(test)} test mels could be computed")
    print(
        f"stage 1: {len(train)} train / {len(valid)} valid / {len(test)} test utterances; "
        f"lists and {len(written)} test mels in {args.dump}"
    )


def main(argv: list[str] | None = None) -> int:
    from waveflow.reporting import run_reporting_errors

    args = parse_args(argv)
    return run_reporting_errors("prepare_data.py", lambda: prepare(args))


if __name__ == "__main__":
    sys.exit(main())
