"""Train a vit_bert classifier: `python train.py` (quickstart), or `python train.py --config configs/X.yaml`.

See vit_bert/cli.py and the README for the options; `python train.py --help` lists them all.
"""

from vit_bert.cli import main

if __name__ == "__main__":
    main()
