"""
xcomp's version, in a module of its own so that any part of xcomp can
name it without importing the package's lazy exports.
"""

__version__ = "0.1.0.dev0"
