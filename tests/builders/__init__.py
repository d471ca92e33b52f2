"""Builders the test modules share: files, projects and readings built at test time.

Plain helper modules, not tests: a test module imports from here (or gets a fixture from
a conftest.py), never from another test module.
"""
