"""Tasks: what a training run is asked to do, and NeuroBench's task harnesses.

* :mod:`nsb.tasks.kinds`: classification, regression and language modelling as :class:`~nsb.tasks.kinds.Task`
  objects (batching, targets, loss, score and its direction), which ``nsb train`` asks instead of
  branching on the task's name.
* :mod:`nsb.tasks.mackey_glass`: NeuroBench's Mackey-Glass chaotic function prediction end to end
  (``nsb mackey-glass``).
* :mod:`nsb.tasks.fscil`: NeuroBench's keyword few-shot class-incremental learning end to end (``nsb fscil``).

Importing this package imports nothing else, so ``nsb.tasks.kinds`` (torch) loads only when used.
"""
