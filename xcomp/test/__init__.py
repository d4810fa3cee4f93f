"""
xcomp's tests.  Run them with C{python -m twisted.trial xcomp}.
"""
