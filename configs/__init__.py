"""The shipped YAML configs: package data of vit_bert, importable as ``vit_bert.configs`` (pyproject.toml maps this folder).

Use them by name from any directory: ``vit-bert fit --config quickstart``; ``vit-bert configs`` lists them.
"""
