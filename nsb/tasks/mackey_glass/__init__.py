"""NeuroBench's Mackey-Glass chaotic function prediction (NeuroBench v1.0, §3.4 of the reference) run end to
end on nsb: the protocol (:mod:`.protocol`), LSTM and ESN baselines (:mod:`.baselines`), nsb spiking models
(:mod:`.snn`, :mod:`.lsm`, :mod:`.ttfs`), the settings TOML (:mod:`.settings`) and the report. ``nsb
mackey-glass`` (or ``python -m nsb.tasks.mackey_glass``) runs :func:`nsb.tasks.mackey_glass.run.main`.
See ``docs/mackey_glass.md``.
"""
