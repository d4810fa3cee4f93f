"""
An example third-party plugin for xcomp: C{Component "ping.example.org" "ping"}.
"""
