"""The benchmark configs shipped with nsb (TOML files), installed as the package data of nsb.configs."""
