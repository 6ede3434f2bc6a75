"""The ``alphaplus`` command line."""
