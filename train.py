"""Train a vit_bert model: `python train.py` (quickstart), or `python train.py --config configs/X.yaml` (or a shipped config's name).

The same as `vit-bert fit ...` (`python train.py predict ...` is `vit-bert predict ...`); `python train.py --help` lists the options.
"""

from vit_bert.commands import train_py

if __name__ == "__main__":
    train_py()
