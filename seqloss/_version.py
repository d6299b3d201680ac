"""The one source of seqloss's version.

A plain string literal: pyproject.toml reads it with setuptools'
``version = {attr = "seqloss._version.__version__"}``, which parses this file
statically and so never imports the compiled package.
"""
__version__ = "0.1.0"
