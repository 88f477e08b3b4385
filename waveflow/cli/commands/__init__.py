"""Subcommands of the `waveflow` command line, one module each.

Every module in this package defines ``add_parser(subparsers)``, which registers one subcommand
and sets ``func`` (called with the parsed arguments, returning the exit code). Modules import
torch and the model code inside ``func`` so that ``waveflow --help`` stays fast.
"""
