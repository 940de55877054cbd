"""Keyword few-shot class-incremental learning (NeuroBench's MSWC FSCIL task), see docs/fscil.md.

MFCC front end (:mod:`.mfcc`), NeuroBench's M5 and a spiking M5 (:mod:`.m5`), the prototypical
readout (:mod:`.prototypes`), the session protocol (:mod:`.protocol`), the accuracy plot
(:mod:`.plots`); ``nsb fscil`` (or ``python -m nsb.tasks.fscil``) runs it end to end through
:func:`nsb.tasks.fscil.run.main`. Imports torch.
"""

from nsb.tasks.fscil.protocol import FSCILConfig, run_fscil

__all__ = ["FSCILConfig", "run_fscil"]
