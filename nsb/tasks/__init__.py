"""Tasks: NeuroBench's task harnesses, run end to end on nsb.

* :mod:`nsb.tasks.mackey_glass`: NeuroBench's Mackey-Glass chaotic function prediction end to end
  (``nsb mackey-glass``).
* :mod:`nsb.tasks.fscil`: NeuroBench's keyword few-shot class-incremental learning end to end (``nsb fscil``).

Importing this package imports nothing else; each task imports torch when it is used.
"""
