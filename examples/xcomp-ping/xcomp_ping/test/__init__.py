"""
Tests for L{xcomp_ping}.
"""
