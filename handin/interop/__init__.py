"""Interoperability with otter-grader and nbgrader: import their assignments as handin modules.

``handin import otter SOURCE.ipynb --module NAME`` and ``handin import nbgrader SOURCE.ipynb
--module NAME`` parse the source with the tool's own code (the ``interop`` extra installs
both) and write a module whose tests run in the judge, never in the student's process.
"""
